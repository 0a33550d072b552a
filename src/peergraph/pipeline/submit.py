"""The file to hand to ``spark-submit``: runs `peergraph pipeline` with the arguments that
follow it, on the master spark-submit was given (README, "The pipeline on a cluster").

    spark-submit --master spark://host:7077 --py-files peergraph-….whl \\
        $(python -c 'import peergraph.pipeline.submit as s; print(s.__file__)') \\
        SOURCES… --out DIR
"""

from __future__ import annotations

import sys

from peergraph.cli.main import main

if __name__ == "__main__":
    sys.argv = ["peergraph", "pipeline", *sys.argv[1:]]
    main()
