"""peergraph: an open research graph built from open publication metadata."""

__version__ = "0.1.0"
