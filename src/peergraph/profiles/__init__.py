"""What a public profile knows: topics, collaborators, affiliation, trust."""
