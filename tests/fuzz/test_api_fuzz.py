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


def _fuzz(
    operation,
    mode: GenerationMode,
    examples: dict[str, int],
    *,
    role: str = "anonymous",
    token: str | None = None,
    max_examples: int = EXAMPLES_PER_ROUTE,
):
    """Valid requests (positive) must succeed or fail cleanly; invalid ones (negative: wrong
    types, out-of-range numbers, missing parameters) must be refused with a 4xx. With a
    ``token``, as that role: its token must never be refused."""
    label = f"{role} {operation.label} {mode.value}"
    examples[label] = 0
    headers = {"Authorization": f"Bearer {token}"} if token else None

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        examples[label] += 1
        response = case.call(headers=headers)
        assert token is None or response.status_code != 401, f"{label}: the token was refused"
        # every check but "schema-valid data must be accepted": a search for a venue that is
        # not in the store is schema-valid and rightly a 400 that says so
        case.validate_response(response, excluded_checks=[positive_data_acceptance])

    return check


ROLES = ("member", "owner", "moderator", "admin")
EXAMPLES_PER_ROLE = 40


@pytest.fixture(scope="module")
def api_roles(tmp_path_factory):
    """The same store with an account of each role (the owner holds a claimed record and
    an invitation) and a personal API token for each."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from peergraph.accounts import services
    from peergraph.authors.models import AuthorRecord
    from peergraph.authors.ownership import claim_record
    from peergraph.claims.models import RecordSettings
    from peergraph.db.base import utcnow

    store = Settings.for_data_dir(tmp_path_factory.mktemp("fuzz-roles"))
    engine = create_db_engine(store)
    migrate(engine)
    import_file(engine, ImportTarget(TEST_DATA / "profiles.csl.json", "csl-json"))
    rebuild(engine)
    tokens = {}
    with Session(engine) as session:
        for role in ROLES:
            kind = role if role in ("moderator", "admin") else "member"
            account = services.create_user(
                session, f"{role}@example.org", "correct horse battery staple", kind, utcnow()
            )
            session.flush()
            tokens[role] = services.create_api_token(session, account, "fuzz", utcnow())
            if role == "owner":
                record = session.scalars(select(AuthorRecord.id).order_by(AuthorRecord.id)).first()
                session.commit()
                with engine.begin() as conn:
                    claim_record(conn, record, f"account:{account.id}", account_id=account.id)
                session.add(RecordSettings(record_id=record, open_to_collaborate=True))
        session.commit()
    engine.dispose()
    app = create_app(dataclasses.replace(store, allowed_hosts=("*",)))
    return schemathesis.openapi.from_asgi("/api/openapi.json", app), tokens


def test_the_account_api_never_fails_as_each_role(api_roles):
    """The operations that need an account (those documenting a 401), fuzzed with each
    role's token: no 5xx, every response as the schema says."""
    schema, tokens = api_roles
    operations = [
        op
        for op in (result.ok() for result in schema.get_all_operations())
        if "401" in op.definition.raw.get("responses", {})
    ]
    assert len(operations) >= 6
    examples: dict[str, int] = {}
    for role, token in tokens.items():
        for operation in operations:
            for mode in GenerationMode:
                check = _fuzz(
                    operation,
                    mode,
                    examples,
                    role=role,
                    token=token,
                    max_examples=EXAMPLES_PER_ROLE,
                )
                try:
                    check()
                except Unsatisfiable:
                    assert mode is GenerationMode.NEGATIVE, operation.label
    total = sum(examples.values())
    print(f"schemathesis, as {len(tokens)} roles: {total} examples")
