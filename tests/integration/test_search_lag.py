"""An index behind the stored data keeps answering while its successor is prepared, and
is not rebuilt while the data keep changing (search/lag.py); past the lag limit the strict
rule holds: the database answers until the index at the stored generation exists."""

from __future__ import annotations

from peergraph.db import generation
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.search.facts import FactsHolder
from peergraph.search.files import IndexFolder
from peergraph.search.lexical import LexicalHolder


def test_a_lagging_index_answers_and_is_rebuilt_once_the_data_are_still(
    settings, engine, test_data
):
    import_file(engine, ImportTarget(test_data / "sample.csl.json", "csl-json"))
    folder = IndexFolder(settings.data_dir)
    lexical, facts = LexicalHolder(engine, folder), FactsHolder(engine, folder)
    assert lexical.refresh() and facts.refresh()
    held, held_facts = lexical.index, facts.facts
    assert held is not None and held_facts is not None

    with engine.begin() as conn:  # an import commits a batch
        generation.advance(conn, "works")
    now = generation.current(engine)
    assert lexical.fresh(now) is held and facts.fresh(now) is held_facts  # lagging, kept
    assert not lexical.refresh() and not facts.refresh()  # still moving: nothing built
    assert lexical.index is held and facts.facts is held_facts

    lexical.lag.max_lag = facts.lag.max_lag = 0.0  # lagged too long: strict again
    assert lexical.fresh(now) is None and facts.fresh(now) is None  # the database answers
    lexical.lag.max_lag = facts.lag.max_lag = 300.0

    lexical.lag.quiet = facts.lag.quiet = 0.0  # the data have been still long enough
    assert lexical.refresh() and facts.refresh()  # built at the stored generation
    assert lexical.index.stamp.generation == now["works"]
    assert lexical.fresh(now) is lexical.index and facts.fresh(now) is facts.facts
    assert lexical.lag.since is None  # caught up


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
