"""What people own on author records survives rebuilds: claims, "not mine", decisions."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from peergraph.authors import ownership
from peergraph.authors.models import (
    AuthorRecord,
    AuthorshipLink,
    ClaimedAuthorship,
    RecordClaim,
    RecordDecision,
    RecordMove,
    RecordRedirect,
)
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.profiles.queries import evidence_sentence
from peergraph.profiles.services import rebuild
from peergraph.works.models import Authorship

ORCID = "0000-0002-1825-0097"
OTHER_ORCID = "0000-0002-1694-233X"


@pytest.fixture
def built(engine, test_data):
    import_file(engine, ImportTarget(test_data / "profiles.csl.json", "csl-json"))
    rebuild(engine)


def records_named(engine, name: str) -> list[int]:
    with Session(engine) as session:
        return sorted(
            session.scalars(select(AuthorRecord.id).where(AuthorRecord.display_name == name))
        )


def authorships_of(engine, record_id: int) -> set[int]:
    with Session(engine) as session:
        return set(
            session.scalars(
                select(AuthorshipLink.authorship_id).where(AuthorshipLink.record_id == record_id)
            )
        )


def does(engine) -> list[int]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(Authorship.id).where(Authorship.family == "Doe").order_by(Authorship.id)
            )
        )


def two_jane_does(engine) -> list[int]:
    """The two Jane Doe papers (one venue, co-author and subject each; nothing in common
    but the name) as two records, made so by two different ORCIDs rather than left to
    the model, which may read a rare name's lone pair either way."""
    with engine.begin() as conn:
        for authorship, orcid in zip(does(engine), [ORCID, OTHER_ORCID], strict=True):
            conn.execute(update(Authorship).values(orcid=orcid).where(Authorship.id == authorship))
    rebuild(engine, full=True)  # the store was edited by hand, not through an import
    records = records_named(engine, "Jane Doe")
    assert len(records) == 2
    return records


def claim(engine, record_id: int, claimant: str, **kwargs) -> int:
    with engine.begin() as conn:
        return ownership.claim_record(conn, record_id, claimant, **kwargs)


def test_a_claim_survives_a_rebuild_with_new_data(engine, built, tmp_path):
    (radford,) = [r for r in records_named(engine, "Alec Radford")]
    evidence = {"method": "orcid-login", "orcid": ORCID}
    claim_id = claim(engine, radford, "account:1", evidence=evidence)
    covered = authorships_of(engine, radford)
    extra = tmp_path / "more.csl.json"
    extra.write_text(
        json.dumps(
            [
                {
                    "id": f"new{i}",
                    "type": "article-journal",
                    "title": f"A new study of representation learning, part {i}",
                    "author": [
                        {"given": "Alec", "family": "Radford"},
                        {"given": "Wen", "family": f"Person{i}"},
                    ],
                    "issued": {"date-parts": [[2024]]},
                }
                for i in range(3)
            ]
        )
    )
    import_file(engine, ImportTarget(extra, "csl-json"))
    rebuild(engine)
    with Session(engine) as session:
        kept = session.get(RecordClaim, claim_id)
        assert kept.record_id == radford and kept.evidence == evidence
        assert kept.status == "approved" and session.get(AuthorRecord, radford) is not None
    assert covered <= authorships_of(engine, radford)
    with Session(engine) as session:
        methods = session.scalars(
            select(AuthorshipLink.method).where(AuthorshipLink.authorship_id.in_(covered))
        ).all()
        assert set(methods) == {"claim"}
        link = session.get(AuthorshipLink, min(covered))
        assert "claimed this record" in evidence_sentence(link)


def test_one_claimant_claiming_two_records_joins_them(engine, built):
    first, second = two_jane_does(engine)
    older = claim(engine, first, "account:7")
    newer = claim(engine, second, "account:7")
    report = rebuild(engine)
    assert report.retired_records == 1
    assert records_named(engine, "Jane Doe") == [first]
    assert authorships_of(engine, first) == set(does(engine))
    with Session(engine) as session:
        assert session.get(RecordClaim, older).record_id == first
        assert session.get(RecordClaim, newer).record_id == first
        (move,) = session.scalars(select(RecordMove)).all()
        assert (move.table_name, move.row_id) == ("record_claims", newer)
        assert (move.from_record, move.to_record, move.reason) == (second, first, "folded")
        assert session.get(RecordRedirect, second).new_id == first
        # one owner per record: the older claim covers both, the newer one is folded into it
        folded = session.get(RecordClaim, newer)
        assert folded.status == "withdrawn" and f"folded into claim {older}" in folded.reason
        assert session.get(RecordClaim, older).status == "approved"
        covered = session.scalars(
            select(ClaimedAuthorship.authorship_id).where(ClaimedAuthorship.claim_id == older)
        ).all()
        assert set(covered) == set(does(engine))


def test_not_mine_overrides_even_a_shared_orcid(engine, built):
    mine, theirs = does(engine)
    with engine.begin() as conn:
        conn.execute(update(Authorship).values(orcid=ORCID).where(Authorship.family == "Doe"))
    rebuild(engine, full=True)  # the store was edited by hand, not through an import
    (doe,) = records_named(engine, "Jane Doe")
    claim_id = claim(engine, doe, "account:3")
    with engine.begin() as conn:
        ownership.mark_not_mine(conn, claim_id, theirs)
    rebuild(engine)
    assert authorships_of(engine, doe) == {mine}
    with Session(engine) as session:
        link = session.get(AuthorshipLink, theirs)
        assert link.record_id != doe
        assert session.get(RecordClaim, claim_id).record_id == doe


def test_a_decision_moves_with_its_authorships_when_records_merge(engine, built):
    first, second = two_jane_does(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(RecordDecision.__table__).values(
                record_id=second, kind="note", detail="checked by hand", decided_by="admin"
            )
        )
        conn.execute(update(Authorship).values(orcid=ORCID).where(Authorship.family == "Doe"))
    rebuild(engine, full=True)  # the store was edited by hand, not through an import
    with Session(engine) as session:
        (decision,) = session.scalars(select(RecordDecision)).all()
        assert decision.record_id == first and decision.detail == "checked by hand"
        (move,) = session.scalars(select(RecordMove)).all()
        assert (move.from_record, move.to_record, move.reason) == (second, first, "merged")


def test_a_claimed_record_cannot_be_deleted_by_accident(engine, built):
    (radford,) = records_named(engine, "Alec Radford")
    claim(engine, radford, "account:1")
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(delete(AuthorRecord.__table__).where(AuthorRecord.id == radford))
    assert records_named(engine, "Alec Radford") == [radford]
