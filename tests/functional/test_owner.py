"""What the owner of a claimed record changes: display name without deadnaming, bio,
links through the URL policy, open to collaborate, hiding, and "not mine"; none of it
moves trust (claims/owner.py, docs/claims.md)."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from peergraph.authors.models import (
    AuthorRecord,
    AuthorshipCorrection,
    AuthorshipLink,
    RecordClaim,
)
from peergraph.claims.models import AuditEntry, RecordSettings
from peergraph.jobs.models import Job
from peergraph.profiles.services import rebuild
from tests.functional.test_claims import app as app
from tests.functional.test_claims import browser, claim, record, store, token, trust_of

assert store  # a fixture, used through ``app``

EDIT = {"display_name": "", "bio": "", "homepage": "", "orcid": "", "github": "", "scholar": ""}


def owned(app, engine, email: str = "ada@examples.ac.uk"):  # type: ignore[no-untyped-def]
    ada = record(engine, "A. Lovelace")
    owner = browser(app, engine, email)
    assert claim(owner, ada, "email").status_code == 303
    return ada, owner


def edit(client: TestClient, record_id: int, **fields: str):  # type: ignore[no-untyped-def]
    data = {**EDIT, **fields, "csrf_token": token(client, f"/researchers/{record_id}/edit")}
    return client.post(f"/researchers/{record_id}/edit", data=data, follow_redirects=False)


def test_a_chosen_name_replaces_every_published_name_and_is_not_kept(app, engine):  # type: ignore[no-untyped-def]
    ada, owner = owned(app, engine)
    with Session(engine) as session:
        published = session.get_one(AuthorRecord, ada).name_variants
    score = trust_of(owner, ada)["trust"]["score"]
    assert "Edit your profile" in owner.get(f"/researchers/{ada}").text

    assert edit(owner, ada, display_name="  Ada   King ").status_code == 303
    anonymous = TestClient(app)
    page = anonymous.get(f"/researchers/{ada}").text
    assert "<h1>Ada King</h1>" in page and "Also published as" not in page
    shown = anonymous.get(f"/api/researchers/{ada}").json()
    assert shown["display_name"] == "Ada King" and shown["name_variants"] == []
    listed = anonymous.get("/api/researchers", params={"per_page": 100}).json()["items"]
    assert "Ada King" in [r["display_name"] for r in listed]

    assert edit(owner, ada, display_name="Ada L. King").status_code == 303
    rebuild(engine, full=True)  # the choice outlives a rebuild, under the same id
    assert anonymous.get(f"/api/researchers/{ada}").json()["display_name"] == "Ada L. King"
    with Session(engine) as session:
        kept = session.scalars(select(RecordSettings.display_name)).all()
        assert kept == ["Ada L. King"]  # the earlier choice is gone
        trail = json.dumps([e.detail for e in session.scalars(select(AuditEntry))])
        assert "display name" in trail
        for name in ("Ada King", "Ada L. King", *published):
            assert name not in trail  # the log says that the name changed, never the names
    assert trust_of(owner, ada)["trust"]["score"] == score  # editing raises nothing

    assert edit(owner, ada, display_name="").status_code == 303  # back to the works' name
    assert anonymous.get(f"/api/researchers/{ada}").json()["display_name"] == published[0]


def test_bio_and_links_are_checked_and_shown_as_text(app, engine):  # type: ignore[no-untyped-def]
    ada, owner = owned(app, engine)
    payload = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    refused = edit(owner, ada, bio=payload, homepage="javascript:alert(3)")
    assert refused.status_code == 400 and "must be a web address" in refused.text
    assert payload not in refused.text  # the form again, escaped
    wrong_site = edit(owner, ada, github="https://evil.example.org/ada")
    assert wrong_site.status_code == 400 and "github.com" in wrong_site.text
    bad_orcid = edit(owner, ada, orcid="0000-0002-1825-0098")
    assert bad_orcid.status_code == 400 and "not an ORCID iD" in bad_orcid.text
    too_long = edit(owner, ada, bio="x" * 1001)
    assert too_long.status_code == 400 and "at most 1,000" in too_long.text

    done = edit(
        owner,
        ada,
        bio=payload,
        homepage="https://example.org/ada",
        github="https://github.com/ada",
        orcid="0000-0002-1825-0097",
        open_to_collaborate="1",
    )
    assert done.status_code == 303
    page = TestClient(app).get(f"/researchers/{ada}").text
    assert payload not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="https://example.org/ada"' in page and 'href="https://github.com/ada"' in page
    assert 'href="https://orcid.org/0000-0002-1825-0097"' in page
    assert "Open to collaborate" in page and "javascript:" not in page
    shown = TestClient(app).get(f"/api/researchers/{ada}").json()
    assert shown["open_to_collaborate"] is True and shown["bio"] == payload  # JSON is data
    assert shown["links"]["homepage"] == "https://example.org/ada"


def test_only_the_owner_edits(app, engine):  # type: ignore[no-untyped-def]
    ada, _owner = owned(app, engine)
    other = browser(app, engine, "other@example.org")
    assert other.get(f"/researchers/{ada}/edit").status_code == 403
    assert edit_as(other, ada).status_code == 403
    with Session(engine) as session:
        assert session.scalars(select(RecordSettings)).all() == []


def edit_as(client: TestClient, record_id: int):  # type: ignore[no-untyped-def]
    data = {**EDIT, "display_name": "Mallory", "csrf_token": token(client)}
    return client.post(f"/researchers/{record_id}/edit", data=data, follow_redirects=False)


def test_a_hidden_profile_resolves_only_for_its_owner_and_moderators(app, engine):  # type: ignore[no-untyped-def]
    ada, owner = owned(app, engine)
    assert edit(owner, ada, hidden="1").status_code == 303
    anonymous = TestClient(app)
    assert anonymous.get(f"/researchers/{ada}").status_code == 404
    assert anonymous.get(f"/researchers/{ada}/trust").status_code == 404
    assert anonymous.get(f"/api/researchers/{ada}").status_code == 404
    listed = anonymous.get("/api/researchers", params={"per_page": 100}).json()["items"]
    assert ada not in [r["id"] for r in listed]
    assert "A. Lovelace" not in anonymous.get("/researchers").text
    member = browser(app, engine, "member@example.org")
    assert member.get(f"/researchers/{ada}").status_code == 404
    page = owner.get(f"/researchers/{ada}")
    assert page.status_code == 200 and "Hidden from public listings" in page.text
    moderator = browser(app, engine, "mod@example.org", role="moderator")
    assert moderator.get(f"/researchers/{ada}").status_code == 200
    assert edit(owner, ada).status_code == 303  # shown again
    assert anonymous.get(f"/researchers/{ada}").status_code == 200


def reviewed(app, engine, name: str):  # type: ignore[no-untyped-def]
    """A claim by review that a moderator approves: any record, not only Ada's."""
    record_id = record(engine, name)
    owner = browser(app, engine, "owner@example.org")
    claim(owner, record_id, "review", statement="My homepage lists these papers.")
    moderator = browser(app, engine, "mod@example.org", role="moderator")
    with Session(engine) as session:
        claim_id = session.scalars(select(RecordClaim.id)).one()
    decided = moderator.post(
        f"/moderation/claims/{claim_id}",
        data={"decision": "approve", "reason": "homepage checked", "csrf_token": token(moderator)},
        follow_redirects=False,
    )
    assert decided.status_code == 303
    return record_id, owner


def test_not_mine_takes_the_work_off_now_and_apart_at_the_rebuild(app, engine):  # type: ignore[no-untyped-def]
    ada, owner = reviewed(app, engine, "Alec Radford")
    works = owner.get(f"/api/researchers/{ada}/works").json()["items"]
    assert len(works) >= 2
    with Session(engine) as session:
        links = session.scalars(
            select(AuthorshipLink.authorship_id).where(AuthorshipLink.record_id == ada)
        ).all()
    disowned = links[0]
    form = {"authorship_id": str(disowned), "csrf_token": token(owner)}
    gone = owner.post(f"/researchers/{ada}/not-mine", data=form, follow_redirects=False)
    assert gone.status_code == 303
    after = owner.get(f"/api/researchers/{ada}/works").json()["items"]
    assert len(after) == len(works) - 1
    with Session(engine) as session:
        assert session.scalars(select(AuthorshipCorrection.authorship_id)).all() == [disowned]
        actions = session.scalars(select(AuditEntry.action)).all()
        assert "authorship.not-mine" in actions
        assert session.scalars(select(Job.kind).where(Job.state == "queued")).all() == ["rebuild"]
    stranger = browser(app, engine, "x@example.org")
    forged = {"authorship_id": str(links[1]), "csrf_token": token(stranger)}
    assert stranger.post(f"/researchers/{ada}/not-mine", data=forged).status_code == 403

    rebuild(engine)  # what the queued job runs
    with Session(engine) as session:
        moved = session.scalar(
            select(AuthorshipLink.record_id).where(AuthorshipLink.authorship_id == disowned)
        )
        assert moved is not None and moved != ada
    assert trust_of(owner, ada)["claim_state"] == "Claimed"
