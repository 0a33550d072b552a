"""Starting Spark: a local or cluster session with peergraph's settings, and clear errors
when pyspark or Java is missing."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

INSTALL_HINT = (
    "the Spark pipeline needs pyspark (scripts/bootstrap installs it; elsewhere: "
    "pip install 'peergraph[spark]') and Java 17 (Debian: apt-get install "
    "openjdk-17-jre-headless)"
)

LOG_CONFIG = Path(__file__).with_name("log4j2.properties")


class SparkUnavailable(Exception):
    """pyspark or Java is not installed: the message says how to install them."""


def local_cores(master: str) -> int | None:
    """The number of task slots of a ``local[N]`` master (None for a cluster or ``local[*]``)."""
    if master == "local":
        return 1
    found = re.fullmatch(r"local\[(\d+)(?:,\s*\d+)?\]", master)
    return int(found.group(1)) if found else None


def spark_session(
    master: str | None = None,
    *,
    app_name: str = "peergraph-pipeline",
    driver_memory: str = "2g",
    local_dir: str | None = None,
) -> Any:
    """A SparkSession for ``master`` (``local[2]``, ``spark://host:7077``, ``yarn``...).
    Without one: the master spark-submit was given, or ``local[2]`` outside spark-submit.

    Shuffles use two partitions per local core (Spark's default of 200 costs more than it
    brings on one machine), the web UI is off, and the Python workers run this
    interpreter, so the tasks import the same peergraph as the driver."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise SparkUnavailable(f"Java was not found; {INSTALL_HINT}")
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkUnavailable(f"pyspark is not installed; {INSTALL_HINT}") from exc
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ  # spark-submit started this process
    if master is None and not submitted:
        master = "local[2]"
    cores = (local_cores(master) if master else None) or os.cpu_count() or 2
    quiet = f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}"
    builder = SparkSession.builder
    if master is not None:
        builder = builder.master(master)
    builder = (
        builder.appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(2 * cores))
        .config("spark.default.parallelism", str(2 * cores))
        .config("spark.driver.memory", driver_memory)
        .config("spark.python.worker.reuse", "true")
        # a Python task spills a grouping to disk past this (the default, 512 MB, made
        # the disambiguation buckets spill on the shared corpus)
        .config("spark.python.worker.memory", "1g")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", quiet)
        .config("spark.executor.extraJavaOptions", quiet)
    )
    if local_dir:
        builder = builder.config("spark.local.dir", local_dir)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
