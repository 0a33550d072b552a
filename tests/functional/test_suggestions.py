"""Collaborator suggestions on a claimed researcher's dashboard: people one has not
written with, with the reasons, the open-to-collaborate filter, and the button that opens
a focused conversation about a shared topic (docs/suggestions.md)."""

from __future__ import annotations

import pytest

from peergraph.search.semantic import embed_pending

from .test_conversations import app, login, make_account, own, record, store  # noqa: F401


@pytest.fixture
def embedded(app, engine):  # type: ignore[no-untyped-def]  # noqa: F811
    pytest.importorskip("onnxruntime")
    from peergraph.search.embeddings import load_encoder

    embed_pending(engine, load_encoder(threads=1))
    return app


def test_suggestions_leave_out_co_authors_and_say_why(embedded, engine):  # type: ignore[no-untyped-def]
    served = embedded
    sutskever, radford, kim, metz = (
        record(engine, n) for n in ("Ilya Sutskever", "Alec Radford", "Jong Wook Kim", "Luke Metz")
    )
    me, other = make_account(engine, "me@example.org"), make_account(engine, "metz@example.org")
    client = login(served, "me@example.org")
    empty = client.get("/dashboard")
    assert empty.status_code == 200
    assert "Collaborator suggestions are for researchers with a claimed record" in empty.text

    own(engine, me, sutskever)
    page = client.get("/dashboard").text
    shown = client.get("/api/suggestions").json()
    ids = [s["record_id"] for s in shown]
    assert metz in ids  # a co-author of his co-author Radford
    assert not {sutskever, radford, kim} & set(ids)  # himself and his co-authors: never
    metz_row = next(s for s in shown if s["record_id"] == metz)
    assert metz_row["coauthors_in_common"] == ["Alec Radford"]
    assert metz_row["reasons"] and all(r["contribution"] > 0 for r in metz_row["reasons"])
    assert metz_row["open_to_collaborate"] is False
    assert "Co-authors in common" in page and "Luke Metz" in page
    assert "Why this?" in page
    assert [s["score"] for s in shown] == sorted((s["score"] for s in shown), reverse=True)

    # only those open to collaborate, with the button to invite them
    assert client.get("/api/suggestions?open=1").json() == []
    own(engine, other, metz, open_to_collaborate=True)
    opened = client.get("/api/suggestions?open=1").json()
    assert [s["record_id"] for s in opened] == [metz]
    page = client.get("/dashboard?open=1").text
    assert f'href="/researchers/{metz}/invite' in page
    assert "Open to collaborate" in page
