"""Disambiguation and profile computation through the services, on a real store."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from peergraph.authors.models import AuthorRecord, AuthorshipLink, RecordRedirect
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.profiles.models import Collaboration, Profile, TrustEvidence
from peergraph.profiles.services import FULL_SHARE, is_stale, rebuild
from peergraph.works.models import Authorship


@pytest.fixture
def built(engine, test_data):
    import_file(engine, ImportTarget(test_data / "profiles.csl.json", "csl-json"))
    assert is_stale(engine)
    report = rebuild(engine)
    assert not is_stale(engine)
    return report


def record_of(session: Session, name: str) -> AuthorRecord:
    return session.scalars(
        select(AuthorRecord)
        .where(AuthorRecord.display_name == name)
        .order_by(AuthorRecord.works_count.desc())
    ).first()


def test_records_separate_radford_from_neal(engine, built):
    assert built.authorships == 23 and built.records == built.new_records
    with Session(engine) as session:
        radford = record_of(session, "Alec Radford")
        neal = record_of(session, "Radford M. Neal")
        assert radford.works_count == 4 and neal.works_count == 2
        assert radford.first_year == 2016 and radford.last_year == 2023
        links = session.scalars(
            select(AuthorshipLink).where(AuthorshipLink.record_id == radford.id)
        ).all()
        assert {link.method for link in links} == {"model"}
        assert all(link.evidence and "p" in link.evidence for link in links)
        assert all(link.evidence.get("strongest") for link in links)


def test_profile_facts(engine, built):
    with Session(engine) as session:
        radford = record_of(session, "Alec Radford")
        kim = record_of(session, "Jong Wook Kim")
        collaboration = session.get(Collaboration, (radford.id, kim.id))
        assert collaboration.joint_works == 2
        assert collaboration.strength == pytest.approx(1 / 2 + 1 / 3, abs=1e-3)  # Newman
        assert session.get(Collaboration, (kim.id, radford.id)).strength == collaboration.strength
        profile = session.get(Profile, radford.id)
        assert profile.verification_level == "L0"
        assert profile.description and profile.description.startswith("Works on ")
        assert profile.close_collaborators_count == 4  # Kim, Sutskever; Metz, Chintala (0.5)
        assert profile.topics_count >= 1
        ledger = session.scalars(
            select(TrustEvidence).where(TrustEvidence.record_id == radford.id)
        ).all()
        assert {item.component for item in ledger} >= {"identity", "integrity"}
        assert profile.trust_score == round(sum(i.points for i in ledger))
        assert profile.affiliations is None  # CSL carries no affiliations


def test_rebuild_keeps_ids(engine, built):
    with engine.connect() as conn:
        before = conn.execute(
            text("SELECT authorship_id, record_id FROM authorship_links ORDER BY 1")
        ).all()
    again = rebuild(engine)
    assert (again.new_records, again.retired_records) == (0, 0)
    with engine.connect() as conn:
        after = conn.execute(
            text("SELECT authorship_id, record_id FROM authorship_links ORDER BY 1")
        ).all()
    assert before == after


def _set_orcids(engine, orcids: list[str]) -> None:
    with Session(engine) as session:
        does = session.scalars(
            select(Authorship).where(Authorship.family == "Doe").order_by(Authorship.id)
        ).all()
        for authorship, orcid in zip(does, orcids, strict=True):
            session.execute(
                update(Authorship).where(Authorship.id == authorship.id).values(orcid=orcid)
            )
        session.commit()


def test_split_then_merge_leaves_a_redirect(engine, built):
    _set_orcids(engine, ["0000-0002-1825-0097", "0000-0002-1825-0097"])  # one person
    rebuild(engine, full=True)  # edited by hand, not imported: an incremental run misses it
    with Session(engine) as session:
        doe = record_of(session, "Jane Doe")
        assert doe.works_count == 2
    _set_orcids(engine, ["0000-0002-1825-0097", "0000-0002-1694-233X"])  # two people after all
    split = rebuild(engine, full=True)
    assert (split.new_records, split.retired_records) == (1, 0)
    with Session(engine) as session:
        kept, new = sorted(
            session.scalars(
                select(AuthorRecord.id).where(AuthorRecord.display_name == "Jane Doe")
            ).all()
        )
        assert kept == doe.id
    _set_orcids(engine, ["0000-0002-1825-0097", "0000-0002-1825-0097"])  # one person again
    merged = rebuild(engine, full=True)
    assert (merged.new_records, merged.retired_records) == (0, 1)
    with Session(engine) as session:
        redirect = session.get(RecordRedirect, new)
        assert redirect.new_id == doe.id and redirect.reason == "merged"
        assert session.get(AuthorRecord, doe.id).orcid == "0000-0002-1825-0097"
        assert session.get(AuthorRecord, new) is None


def test_a_new_model_makes_the_store_stale_and_the_next_rebuild_full(engine, built):
    assert not is_stale(engine) and rebuild(engine).mode == "incremental"
    with engine.begin() as conn:  # as if the last rebuild had used another model file
        conn.execute(text("UPDATE rebuilds SET model = 'an older model'"))
    assert is_stale(engine)
    assert rebuild(engine).mode == "full"
    assert not is_stale(engine)


def test_a_rebuild_after_a_big_import_is_full_and_one_after_a_small_one_is_not(
    engine, built, test_data, tmp_path
):
    """Above FULL_SHARE of the works changed, planning an incremental run costs more than
    it saves (nearly every block is re-clustered): the rebuild runs in full."""
    works = json.loads((test_data / "sample.csl.json").read_text(encoding="utf-8"))
    import_file(engine, ImportTarget(test_data / "sample.csl.json", "csl-json"))
    total = _works(engine)
    assert len(works) > FULL_SHARE * total
    assert rebuild(engine).mode == "full"
    small = tmp_path / "one.csl.json"
    paper = {"id": "new", "type": "article-journal", "title": "A new paper on ranking"}
    small.write_text(json.dumps([{**paper, "author": works[0]["author"]}]))
    import_file(engine, ImportTarget(small, "csl-json"))
    assert _works(engine) == total + 1 and FULL_SHARE * (total + 1) >= 1
    assert rebuild(engine).mode == "incremental"


def _works(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM works")).scalar()
