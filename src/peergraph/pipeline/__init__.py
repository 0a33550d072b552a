"""The bulk path on Apache Spark (`peergraph pipeline`): the same parsers and rules as
`peergraph import`, run as Spark stages in local mode or on a cluster.

pyspark is an optional dependency (the ``spark`` extra, with Java 17); nothing else in
peergraph imports this package. See docs/pipeline.md.
"""
