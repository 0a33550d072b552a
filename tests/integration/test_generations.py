"""Every writer advances its data generation, in its own transaction; nothing else does."""

from __future__ import annotations

import pytest

from peergraph.db import generation
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.profiles.services import rebuild
from peergraph.search.embeddings import load_encoder
from peergraph.search.semantic import embed_pending


def test_imports_rebuilds_and_embedding_advance_their_own_generation(engine, test_data):
    start = generation.current(engine)
    assert start == {"works": 0, "records": 0, "vectors": 0}
    import_file(engine, ImportTarget(test_data / "profiles.csl.json", "csl-json"))
    imported = generation.current(engine)
    assert imported["works"] > 0 and imported["records"] == imported["vectors"] == 0

    again = import_file(engine, ImportTarget(test_data / "profiles.csl.json", "csl-json"))
    assert again.imported == 0 and generation.current(engine) == imported  # nothing changed

    rebuild(engine)
    rebuilt = generation.current(engine)
    assert rebuilt == {**imported, "records": 1}
    rebuild(engine)  # incremental, nothing to do: nobody needs to drop anything
    assert generation.current(engine) == rebuilt

    embed_pending(engine, load_encoder())
    embedded = generation.current(engine)
    assert embedded["vectors"] > 0 and embedded["works"] == rebuilt["works"]


def test_an_unknown_kind_is_refused(engine):
    with engine.begin() as conn, pytest.raises(ValueError, match="unknown generation kind"):
        generation.advance(conn, "everything")
