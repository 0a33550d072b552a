"""The ``peergraph`` command line."""
