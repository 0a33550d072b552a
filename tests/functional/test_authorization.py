"""The authorization matrix: every route of the app × every kind of visitor → the status
it must answer. It reads the app's route table, so a route added without a row here
fails the test until someone decides who may use it.

Each request is well-formed for its route (the CSRF token of the visitor's own browser,
and harmless form values: a wrong password, a link that is not valid), so the status
says what the visitor may do, not what was malformed. "Owner of a record" and "owner of
another record" are accounts whose approved claims hold the record in the path, and
another record.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from peergraph.accounts import services
from peergraph.accounts.models import Account
from peergraph.authors.models import AuthorRecord, RecordClaim
from peergraph.authors.ownership import claim_record
from peergraph.claims.models import RecordSettings
from peergraph.claims.services import Actor
from peergraph.conversations import services as conversations
from peergraph.conversations.models import Conversation, Message
from peergraph.db.base import utcnow
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.profiles.services import rebuild
from peergraph.web.app import create_app
from peergraph.works.models import Institution, Topic, Work

ROLES = ("anonymous", "member", "moderator", "admin", "other_owner", "owner")
PASSWORD = "correct horse battery staple"
ALL = dict.fromkeys(ROLES)


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


def signed_in(status: int, anonymous: int = 303, **roles: int) -> dict[str, int]:
    """Logged-in visitors get ``status`` (or what ``roles`` say); anonymous ones are sent
    to /login (303)."""
    return {**dict.fromkeys(ROLES, status), "anonymous": anonymous, **roles}


def moderators(status: int) -> dict[str, int]:
    """Moderators and admins get ``status``; other accounts 403; anonymous to /login."""
    return signed_in(403, moderator=status, admin=status)


# (method, path) → form values sent (None for a GET) and the status per role
MATRIX: dict[tuple[str, str], tuple[dict[str, str] | None, dict[str, int]]] = {
    ("GET", "/api/openapi.json"): (None, everyone(200)),
    ("GET", "/healthz"): (None, everyone(200)),
    ("GET", "/readyz"): (None, everyone(200)),
    ("GET", "/metrics"): (None, everyone(200)),
    ("GET", "/api/stats"): (None, everyone(200)),
    ("GET", "/api/works"): (None, everyone(200)),
    ("GET", "/api/works/{work_id}"): (None, everyone(200)),
    ("GET", "/api/works/{work_id}/sources"): (None, everyone(200)),
    ("GET", "/api/works/{work_id}/similar"): (None, everyone(200)),
    ("GET", "/api/imports"): (None, everyone(200)),
    ("GET", "/api/researchers"): (None, everyone(200)),
    ("GET", "/api/researchers/{record_id}"): (None, everyone(200)),
    ("GET", "/api/graph/slice"): (None, everyone(200)),
    ("GET", "/explore"): (None, everyone(200)),
    ("GET", "/api/researchers/{record_id}/works"): (None, everyone(200)),
    ("GET", "/api/researchers/{record_id}/similar"): (None, everyone(200)),
    ("GET", "/api/search"): (None, everyone(200)),
    ("GET", "/api/search/status"): (None, everyone(200)),
    ("GET", "/api/docs"): (None, everyone(200)),
    ("GET", "/"): (None, everyone(200)),
    ("GET", "/works/{work_id}"): (None, everyone(200)),
    ("GET", "/works/{work_id}/sources"): (None, everyone(200)),
    ("GET", "/researchers"): (None, everyone(200)),
    ("GET", "/researchers/{record_id}"): (None, everyone(200)),
    ("GET", "/researchers/{record_id}/trust"): (None, everyone(200)),
    ("GET", "/search"): (None, everyone(200)),
    ("GET", "/topics/{topic_id}"): (None, everyone(200)),
    ("GET", "/api/topics/{topic_id}"): (None, everyone(200)),
    ("GET", "/institutions/{institution_id}"): (None, everyone(200)),
    ("GET", "/api/institutions/{institution_id}"): (None, everyone(200)),
    # accounts
    ("GET", "/signup"): (None, everyone(200)),
    ("POST", "/signup"): ({"email": "not an address", "password": PASSWORD}, everyone(400)),
    ("GET", "/verify-email"): (None, everyone(400)),  # no token: "link not valid"
    ("POST", "/verify-email"): ({"token": "forged"}, everyone(400)),
    ("GET", "/login"): (None, signed_in(303, anonymous=200)),  # logged in: to /account
    ("POST", "/login"): (
        {"email": "{role}-x@example.org", "password": "wrong password"},
        everyone(400),
    ),
    ("GET", "/reset"): (None, everyone(200)),
    ("POST", "/reset"): ({"email": "not an address"}, everyone(400)),
    ("GET", "/reset/confirm"): (None, everyone(400)),
    ("POST", "/reset/confirm"): ({"token": "forged", "password": PASSWORD}, everyone(400)),
    ("GET", "/account"): (None, signed_in(200)),
    # sign in with ORCID is not configured here (tests/functional/test_orcid.py runs it)
    ("GET", "/login/orcid"): (None, everyone(404)),
    ("GET", "/login/orcid/callback"): (None, everyone(404)),
    ("POST", "/login/orcid/signup"): ({"email": "x@example.org"}, everyone(404)),
    ("POST", "/account/orcid/unlink"): ({}, signed_in(303)),
    ("POST", "/account/password"): (
        {"current_password": "wrong password", "new_password": PASSWORD},
        signed_in(400),
    ),
    ("POST", "/account/email"): (
        {"new_email": "new@example.org", "password": "wrong password"},
        signed_in(400),
    ),
    ("GET", "/account/email/confirm"): (None, everyone(400)),
    ("POST", "/account/email/confirm"): ({"token": "forged"}, everyone(400)),
    ("POST", "/account/tokens"): ({"name": "   "}, signed_in(400)),
    ("POST", "/account/tokens/{token_id}/revoke"): ({}, signed_in(404)),  # not theirs
    ("POST", "/account/delete"): ({"password": PASSWORD, "confirm": ""}, signed_in(400)),
    ("GET", "/api/me"): (None, signed_in(200, anonymous=401)),
    # claims, disputes, follows, moderation ({record_id} is owned by "owner")
    ("GET", "/researchers/{record_id}/claim"): (None, signed_in(200)),
    ("POST", "/researchers/{record_id}/claim"): ({"method": "review"}, signed_in(400)),
    ("GET", "/researchers/{record_id}/dispute"): (None, signed_in(200)),
    ("POST", "/researchers/{record_id}/dispute"): ({"statement": ""}, signed_in(400)),
    ("GET", "/researchers/{record_id}/audit"): (
        None,
        signed_in(403, owner=200, moderator=200, admin=200),
    ),
    ("GET", "/researchers/{record_id}/followers"): (None, signed_in(403, owner=200)),
    ("GET", "/researchers/{record_id}/edit"): (None, signed_in(403, owner=200)),
    ("POST", "/researchers/{record_id}/edit"): (  # staying open to collaborate
        {"bio": "Hello.", "open_to_collaborate": "1"},
        signed_in(403, owner=303),
    ),
    ("POST", "/researchers/{record_id}/not-mine"): (  # a work not on the record: 400
        {"authorship_id": "999999999"},
        signed_in(403, owner=400),
    ),
    ("POST", "/researchers/{record_id}/follow"): ({}, signed_in(303)),
    ("POST", "/researchers/{record_id}/unfollow"): ({}, signed_in(303)),
    ("POST", "/topics/{topic_id}/follow"): ({}, signed_in(303)),
    ("POST", "/topics/{topic_id}/unfollow"): ({}, signed_in(303)),
    ("GET", "/following"): (None, signed_in(200)),
    ("GET", "/moderation"): (None, moderators(200)),
    ("POST", "/moderation/claims/{claim_id}"): (
        {"decision": "approve", "reason": ""},
        moderators(400),
    ),
    ("POST", "/moderation/claims/{claim_id}/confirm"): ({"evidence": ""}, moderators(400)),
    ("POST", "/moderation/disputes/{dispute_id}"): (
        {"decision": "dismiss", "reason": ""},
        moderators(400),
    ),
    # focused conversations: {conversation_id} is an invitation from "other_owner" to
    # "owner"; {message_id} its text; strangers learn nothing (404)
    ("GET", "/researchers/{record_id}/invite"): (None, signed_in(403, other_owner=200)),
    ("POST", "/researchers/{record_id}/invite"): (
        {"about": "", "message": ""},
        signed_in(403, other_owner=400),
    ),
    ("GET", "/conversations"): (None, signed_in(200)),
    ("GET", "/conversations/events"): (None, signed_in(200)),
    ("GET", "/api/conversations"): (None, signed_in(200, anonymous=401)),
    ("GET", "/conversations/{conversation_id}"): (
        None,
        signed_in(404, owner=200, other_owner=200),
    ),
    ("GET", "/api/conversations/{conversation_id}"): (
        None,
        signed_in(404, anonymous=401, owner=200, other_owner=200),
    ),
    ("POST", "/conversations/{conversation_id}/accept"): (
        {},
        signed_in(404, other_owner=403, owner=303),
    ),
    ("POST", "/conversations/{conversation_id}/decline"): (  # accepted already: 400
        {"reason": ""},
        signed_in(404, other_owner=403, owner=400),
    ),
    ("POST", "/conversations/{conversation_id}/messages"): (
        {"body": ""},
        signed_in(404, other_owner=400, owner=400),
    ),
    ("POST", "/conversations/{conversation_id}/read"): (
        {},
        signed_in(404, other_owner=200, owner=200),
    ),
    ("POST", "/conversations/{conversation_id}/archive"): (
        {"on": "false"},
        signed_in(404, other_owner=303, owner=303),
    ),
    ("POST", "/conversations/{conversation_id}/messages/{message_id}/report"): (
        {"reason": ""},
        signed_in(404, other_owner=400, owner=400),
    ),
    ("POST", "/conversations/{conversation_id}/leave"): (
        {},
        signed_in(404, other_owner=303, owner=303),
    ),
    ("POST", "/conversations/{conversation_id}/block"): (
        {},
        signed_in(404, other_owner=303, owner=303),
    ),
    ("POST", "/moderation/reports/{report_id}"): ({"decision": "dismiss"}, moderators(404)),
    ("POST", "/account/notifications"): ({"choice": "sometimes"}, signed_in(400)),
    ("POST", "/account/blocks/{block_id}/delete"): ({}, signed_in(303)),
    # dashboard, feeds, saved searches, alerts, Atom ({search_id} is nobody's: 404)
    ("GET", "/dashboard"): (None, signed_in(200)),
    ("GET", "/api/suggestions"): (None, signed_in(200, anonymous=401)),
    ("GET", "/feed"): (None, signed_in(200)),
    ("GET", "/api/feed"): (None, signed_in(200, anonymous=401)),
    ("GET", "/api/searches"): (None, signed_in(200, anonymous=401)),
    ("POST", "/searches"): ({"q": "   ", "mode": "keyword"}, signed_in(400)),
    ("POST", "/searches/{search_id}/alerts"): ({}, signed_in(404)),
    ("POST", "/searches/{search_id}/delete"): ({}, signed_in(404)),
    ("POST", "/account/alerts"): ({"alerts": "sometimes"}, signed_in(400)),
    ("GET", "/searches/{token}.atom"): (None, everyone(404)),
    ("GET", "/researchers/{record_id}/works.atom"): (None, everyone(200)),
    # near the end: the owner releases the record (the owner's claim is {claim_id})
    ("POST", "/claims/{claim_id}/withdraw"): ({}, signed_in(404, owner=303)),
    ("POST", "/logout"): ({}, everyone(303)),  # last: it ends the session
}
# what the route needs to answer
QUERY = {
    "/api/search": "?q=graph",
    "/search": "?q=graph",
    "/api/graph/slice": "?node=work:1",
    "/conversations/events": "?wait=0",
}
MOUNTS = {"/static", "/static/swagger-ui"}  # files, the same for everyone


@pytest.fixture
def app(settings, engine, test_data):  # type: ignore[no-untyped-def]
    import_file(engine, ImportTarget(test_data / "profiles.csl.json", "csl-json"))
    import_file(engine, ImportTarget(test_data / "openalex.jsonl", "openalex-jsonl"))
    rebuild(engine)
    with Session(engine) as session:
        accounts = {}
        for role in ROLES[1:]:
            kind = role if role in ("moderator", "admin") else "member"
            accounts[role] = services.create_user(
                session, f"{role}@example.org", PASSWORD, kind, utcnow()
            ).id
        session.commit()
    with engine.begin() as conn:
        owned, other = conn.execute(
            select(AuthorRecord.id).order_by(AuthorRecord.id).limit(2)
        ).scalars()
        for role, record_id in (("owner", owned), ("other_owner", other)):
            account = accounts[role]
            claim_record(conn, record_id, f"account:{account}", account_id=account)
    app = create_app(settings)
    with Session(engine) as session:
        session.add(RecordSettings(record_id=owned, open_to_collaborate=True))
        session.flush()
        inviter = session.get_one(Account, accounts["other_owner"])
        ctx = services.Context(app.state.signing, "http://testserver", "127.0.0.1", utcnow())
        work = conversations.anchor_choices(session, other, owned)["their-work"][0]
        conversations.invite(session, Actor(inviter, ctx), owned, work.kind, work.id, "Talk?")
        session.commit()
    return app


@pytest.fixture
def clients(app) -> Iterator[dict[str, TestClient]]:  # type: ignore[no-untyped-def]
    out = {}
    with TestClient(app) as anonymous:
        out["anonymous"] = anonymous
        for role in ROLES[1:]:
            client = TestClient(app)
            logged = client.post(
                "/login",
                data={
                    "email": f"{role}@example.org",
                    "password": PASSWORD,
                    "csrf_token": token(client),
                },
                follow_redirects=False,
            )
            assert logged.status_code == 303, logged.text
            out[role] = client
        yield out


def token(client: TestClient) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/reset").text)
    assert match
    return match.group(1)


def routes(app) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    found = set()
    for route in iter_route_contexts(app.routes):
        methods = getattr(route, "methods", None)
        if methods is None:
            assert route.path in MOUNTS, f"{route.path} is mounted but not in MOUNTS"
            continue
        found |= {(method, route.path) for method in methods - {"HEAD"}}
    return found


def test_every_route_has_a_row(app):
    found = routes(app)
    missing = sorted(found - set(MATRIX))
    assert not missing, f"routes without a row in the authorization matrix: {missing}"
    stale = sorted(set(MATRIX) - found)
    assert not stale, f"rows for routes the app no longer has: {stale}"


def test_every_route_answers_each_visitor_as_the_matrix_says(app, clients, engine):
    with Session(engine) as session:
        owned = session.scalars(select(AuthorRecord.id).order_by(AuthorRecord.id)).first()
        claim = select(RecordClaim.id).where(RecordClaim.record_id == owned)
        values = {
            "work_id": str(session.scalars(select(Work.id).order_by(Work.id)).first()),
            "record_id": str(owned),
            "token_id": "999999",
            "claim_id": str(session.scalars(claim).one()),
            "dispute_id": "999999",
            "conversation_id": str(session.scalars(select(Conversation.id)).one()),
            "message_id": str(session.scalars(select(Message.id)).one()),
            "report_id": "999999",
            "block_id": "999999",
            "search_id": "999999",
            "token": "no-such-feed-token-0000",
            "topic_id": str(session.scalars(select(Topic.id).order_by(Topic.id)).first()),
            "institution_id": str(
                session.scalars(select(Institution.id).order_by(Institution.id)).first()
            ),
        }
    wrong = []
    for (method, path), (form, expected) in MATRIX.items():
        url = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path) + QUERY.get(path, "")
        for role in ROLES:
            client = clients[role]
            if method == "GET":
                response = client.get(url, follow_redirects=False)
            else:
                # "{role}": each visitor's own value (one address would hit its rate limit)
                data = {k: v.replace("{role}", role) for k, v in (form or {}).items()}
                data["csrf_token"] = token(client)
                response = client.post(url, data=data, follow_redirects=False)
            if response.status_code != expected[role]:
                wrong.append(
                    f"{method} {path} as {role}: {response.status_code}, not {expected[role]}"
                )
    assert not wrong, "\n".join(wrong)


DOCS = Path(__file__).resolve().parents[2] / "docs" / "authorization.md"
BEGIN, END = "<!-- matrix: begin -->", "<!-- matrix: end -->"


def matrix_markdown() -> str:
    """The matrix as docs/authorization.md shows it: one row per route, one column per
    kind of visitor, the status each gets."""
    lines = [
        "| route | " + " | ".join(r.replace("_", " ") for r in ROLES) + " |",
        "| --- | " + " | ".join("---:" for _ in ROLES) + " |",
    ]
    for (method, path), (_form, expected) in sorted(MATRIX.items(), key=lambda kv: kv[0][1]):
        cells = " | ".join(str(expected[r]) for r in ROLES)
        lines.append(f"| `{method} {path}` | {cells} |")
    return "\n".join(lines)


def test_docs_carry_the_matrix():
    """docs/authorization.md is generated from MATRIX: PEERGRAPH_WRITE_DOCS=1 rewrites it."""
    table = "\n" + matrix_markdown() + "\n"
    text = DOCS.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    if os.environ.get("PEERGRAPH_WRITE_DOCS") == "1":
        DOCS.write_text(text[:start] + table + text[end:])
        text = DOCS.read_text()
        start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    assert text[start:end] == table, (
        "docs/authorization.md is out of date: PEERGRAPH_WRITE_DOCS=1 .venv/bin/pytest "
        "tests/functional/test_authorization.py -k docs"
    )
