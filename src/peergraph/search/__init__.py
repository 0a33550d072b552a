"""Search: keyword (BM25) retrieval now; semantic retrieval and fusion to follow."""
