"""Works and the bibliographic entities around them (venues, institutions, topics)."""
