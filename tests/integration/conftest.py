"""Fixtures the integration tests share."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from peergraph.pipeline.session import SparkUnavailable, spark_session
from tests.conftest import shared_data_required


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """A local[2] Spark session for the pipeline's tests; without Java or pyspark the test
    is skipped with how to install them (and fails in CI, which must have them)."""
    try:
        session = spark_session("local[2]", driver_memory="1g")
    except SparkUnavailable as exc:
        if shared_data_required():
            pytest.fail(f"{exc}; CI needs it")
        pytest.skip(str(exc))
    yield session
    session.stop()
