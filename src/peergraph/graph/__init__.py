"""The research graph: nodes and edges read from the store (store.py), ranked slices
(slices.py), their cache (cache.py) and exports (export.py). docs/graph.md."""
