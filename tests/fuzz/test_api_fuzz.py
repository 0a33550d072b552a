"""schemathesis over the app's own OpenAPI description, in process, on a store that holds
hostile records: no 5xx anywhere, and every response conforms to the schema.

A fixed seed (derandomize) and a bounded number of examples per route keep it the same
run every time and inside CI's budget; the figures are in docs/security.md.
"""

from __future__ import annotations

import dataclasses

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from peergraph.db import create_db_engine, migrate
from peergraph.ingest.formats import ImportTarget, detect_format
from peergraph.ingest.loader import import_file
from peergraph.profiles.services import rebuild
from peergraph.settings import Settings
from peergraph.web.app import create_app
from tests.conftest import TEST_DATA

EXAMPLES_PER_ROUTE = 100


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    store = Settings.for_data_dir(tmp_path_factory.mktemp("fuzz-store"))
    engine = create_db_engine(store)
    migrate(engine)
    for path in (
        TEST_DATA / "profiles.csl.json",
        TEST_DATA / "openalex.jsonl",
        TEST_DATA / "sample.bib",
        *sorted((TEST_DATA / "hostile").iterdir()),
    ):
        import_file(engine, ImportTarget(path, detect_format(path)))
    rebuild(engine)
    engine.dispose()
    app = create_app(dataclasses.replace(store, allowed_hosts=("*",)))
    return schemathesis.openapi.from_asgi("/api/openapi.json", app)


def test_api_never_fails_and_matches_its_schema(api_schema):
    """Every operation in turn (schemathesis' pytest plugin does not run on pytest 9, so
    the operations are driven through Hypothesis directly)."""
    examples: dict[str, int] = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:
        for mode in GenerationMode:
            check = _fuzz(operation, mode, examples)
            try:
                check()
            except Unsatisfiable:
                # no parameters to get wrong (e.g. /api/stats): nothing negative to send
                assert mode is GenerationMode.NEGATIVE, operation.label
    print(f"schemathesis: {sum(examples.values())} examples over {len(operations)} operations")


def _fuzz(operation, mode: GenerationMode, examples: dict[str, int]):
    """Valid requests (positive) must succeed or fail cleanly; invalid ones (negative: wrong
    types, out-of-range numbers, missing parameters) must be refused with a 4xx."""
    label = f"{operation.label} {mode.value}"
    examples[label] = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_ROUTE,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        examples[label] += 1
        # every check but "schema-valid data must be accepted": a search for a venue that is
        # not in the store is schema-valid and rightly a 400 that says so
        case.call_and_validate(excluded_checks=[positive_data_acceptance])

    return check
