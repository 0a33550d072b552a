"""While an import runs, a web process keeps answering from the keyword index and search
facts it holds instead of dropping them at every batch (search/lag.py); with no import
running, or past the lag limit, the strict rule holds: the database answers until the
index at the stored generation exists."""

from __future__ import annotations

from sqlalchemy import insert, update

from peergraph.db import generation
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file, imports_t
from peergraph.search.facts import FactsHolder
from peergraph.search.files import IndexFolder
from peergraph.search.lexical import LexicalHolder


def start_import(engine) -> int:  # type: ignore[no-untyped-def]
    """An import in progress, as the loader records it, with one committed batch."""
    with engine.begin() as conn:
        run = conn.execute(
            insert(imports_t)
            .values(path="big.json", file_sha256="0" * 64, file_size=1, format="csl-json")
            .values(status="running")
            .returning(imports_t.c.id)
        ).scalar_one()
        generation.advance(conn, "works")
    return int(run)


def test_an_index_lags_only_while_an_import_runs(settings, engine, test_data):
    import_file(engine, ImportTarget(test_data / "sample.csl.json", "csl-json"))
    folder = IndexFolder(settings.data_dir)
    lexical, facts = LexicalHolder(engine, folder), FactsHolder(engine, folder)
    assert lexical.refresh() and facts.refresh()
    held, held_facts = lexical.index, facts.facts
    assert held is not None and held_facts is not None

    run = start_import(engine)
    now = generation.current(engine)
    assert lexical.fresh(now) is held and facts.fresh(now) is held_facts  # lagging, kept
    assert not lexical.refresh() and not facts.refresh()  # nothing built meanwhile
    assert lexical.index is held and facts.facts is held_facts

    lexical.lag.max_lag = facts.lag.max_lag = 0.0  # lagged too long: strict again
    assert lexical.fresh(now) is None and facts.fresh(now) is None
    lexical.lag.max_lag = facts.lag.max_lag = 300.0

    with engine.begin() as conn:  # the import ends
        conn.execute(update(imports_t).where(imports_t.c.id == run).values(status="completed"))
    assert lexical.fresh(now) is None and facts.fresh(now) is None  # the database answers
    assert lexical.refresh() and facts.refresh()  # built at the stored generation
    assert lexical.index.stamp.generation == now["works"]
    assert lexical.fresh(now) is lexical.index and facts.fresh(now) is facts.facts


def test_a_request_never_waits_on_another_refreshing_the_vectors(settings, engine):
    """The semantic index refreshes in one thread at a time, outside the lock readers
    take: with every pooled connection held by requests, a refresh that waits for a
    connection does not stall the others (it used to hold the readers' lock meanwhile,
    and the pool ran dry under load: docs/operations.md, "Load")."""
    import threading

    import numpy as np
    from sqlalchemy import create_engine
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from peergraph.search.semantic import REFRESH_SECONDS, SemanticIndex

    small = create_engine(settings.database_url, pool_size=1, max_overflow=0, pool_timeout=2)
    index = SemanticIndex(small)
    vector = np.zeros(384, dtype=np.float32)
    assert index.nearest(vector, 5) == []  # loaded (no vectors yet)
    with engine.begin() as conn:
        generation.advance(conn, "vectors")
    index._checked -= REFRESH_SECONDS  # a refresh is due
    outcome: list[str] = []

    def refreshing_request() -> None:
        try:
            index.nearest(vector, 5)
            outcome.append("answered")
        except PoolTimeout:
            outcome.append("no connection")

    with small.connect():  # the only connection, held by a request
        first = threading.Thread(target=refreshing_request)
        first.start()
        while not index._refreshing.locked():  # it takes the refresh, waits for the pool
            first.join(0.01)
        assert index.nearest(vector, 5) == []  # the others answer meanwhile
        assert first.is_alive()  # still waiting for a connection
        first.join()
    assert outcome == ["no connection"]
    small.dispose()
