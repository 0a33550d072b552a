"""What the owner of a claimed record may change (docs/claims.md, "What an owner can do"):
a display name, a short bio, links, "open to collaborate", hiding the profile from
public listings, and "not mine" on a work.

* **Display name.** The chosen name replaces the record's name wherever the record is
  shown (its pages, lists, search, the JSON API) and survives rebuilds. The names the
  record was published under are no longer listed ("Also published as" is dropped), an
  earlier chosen name is overwritten, not kept, and the audit log notes *that* the name
  changed, never the names: nothing deadnames the owner.
* **Links** go through the one URL policy (links.py ``safe_link``): only http(s), no
  ``javascript:``; GitHub and Scholar links must point at those sites; an ORCID iD must
  pass its checksum.
* **Not mine** records a cannot-link for the next disambiguation
  (authors/ownership.py), takes the work off the record's list at once, queues an
  incremental rebuild for the worker, and is audited.

None of it touches the trust score: nothing an account does to its own record alone
raises it (docs/trust.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from peergraph.accounts.models import Account
from peergraph.authors.models import (
    AuthorRecord,
    AuthorshipCorrection,
    AuthorshipLink,
    RecordClaim,
)
from peergraph.authors.ownership import HOLDING
from peergraph.claims.models import RecordSettings
from peergraph.claims.services import Actor, ClaimError, NotAllowed, audit
from peergraph.db import generation
from peergraph.ingest.normalize import normalize_orcid
from peergraph.links import safe_link

MAX_DISPLAY_NAME = 200
MAX_BIO = 1_000
LINK_KINDS = {"homepage": "Homepage", "orcid": "ORCID", "github": "GitHub", "scholar": "Scholar"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


class NotOwner(NotAllowed):
    """Only the account whose approved claim holds the record may change it."""


@dataclass(frozen=True)
class Edits:
    display_name: str
    bio: str
    links: dict[str, str]
    open_to_collaborate: bool
    hidden: bool


def owned_claim(session: Session, actor: Actor, record_id: int) -> RecordClaim:
    claim = session.scalars(
        select(RecordClaim).where(
            RecordClaim.record_id == record_id,
            RecordClaim.status.in_(HOLDING),
            RecordClaim.account_id == actor.account.id,
        )
    ).first()
    if claim is None:
        raise NotOwner("Only the researcher who claimed this record can change it.")
    return claim


def visible_to(session: Session, record_id: int, account: Account | None) -> bool:
    """Whether the record's pages answer this visitor: a record its owner hid resolves
    only for the owner and for moderators (to everyone else it does not exist)."""
    hidden = session.scalar(
        select(
            exists().where(RecordSettings.record_id == record_id, RecordSettings.hidden.is_(True))
        )
    )
    if not hidden:
        return True
    if account is None:
        return False
    if account.role in ("moderator", "admin"):
        return True
    return (
        session.scalar(
            select(
                exists().where(
                    RecordClaim.record_id == record_id,
                    RecordClaim.status.in_(HOLDING),
                    RecordClaim.account_id == account.id,
                )
            )
        )
        is True
    )


def record_settings(session: Session, record_id: int) -> RecordSettings | None:
    """What the owner chose (the newest row: two records of one owner may have merged)."""
    return session.scalars(
        select(RecordSettings)
        .where(RecordSettings.record_id == record_id)
        .order_by(RecordSettings.updated_at.desc(), RecordSettings.id.desc())
    ).first()


def clean_text(value: str, limit: int, label: str, *, one_line: bool) -> str:
    text = _CONTROL.sub("", value.replace("\r\n", "\n"))
    text = (
        " ".join(text.split())
        if one_line
        else "\n".join(" ".join(line.split()) for line in text.split("\n")).strip()
    )
    if len(text) > limit:
        raise ClaimError(f"The {label} is {len(text):,} characters long; at most {limit:,} fit.")
    return text


def clean_links(raw: dict[str, str]) -> dict[str, str]:
    """The owner's links, each checked by the URL policy; a bad one is refused by name."""
    links: dict[str, str] = {}
    for kind, label in LINK_KINDS.items():
        value = (raw.get(kind) or "").strip()
        if not value:
            continue
        if kind == "orcid":
            orcid = normalize_orcid(value)
            if orcid is None:
                raise ClaimError(f"{value[:100]!r} is not an ORCID iD (the checksum fails).")
            links[kind] = f"https://orcid.org/{orcid}"
            continue
        link = safe_link(value)
        if link is None:
            raise ClaimError(
                f"The {label} link must be a web address starting with https:// or http://."
            )
        host = (urlsplit(link).hostname or "").lower()
        if kind == "github" and host not in ("github.com", "www.github.com"):
            raise ClaimError("The GitHub link must point at github.com.")
        if kind == "scholar" and not host.startswith("scholar.google."):
            raise ClaimError("The Scholar link must point at scholar.google.com.")
        links[kind] = link
    return links


def save_settings(session: Session, actor: Actor, record_id: int, edits: Edits) -> RecordSettings:
    """Apply the owner's edits (all fields at once, as the form sends them)."""
    claim = owned_claim(session, actor, record_id)
    name = clean_text(edits.display_name, MAX_DISPLAY_NAME, "display name", one_line=True)
    bio = clean_text(edits.bio, MAX_BIO, "bio", one_line=False)
    links = clean_links(edits.links)
    current = record_settings(session, record_id)
    if current is None:
        current = RecordSettings(record_id=record_id)
        session.add(current)
    else:  # one row per record from now on: an earlier chosen name is not kept
        session.execute(
            delete(RecordSettings).where(
                RecordSettings.record_id == record_id, RecordSettings.id != current.id
            )
        )
    changed = [
        field
        for field, before, after in (
            ("display name", current.display_name, name or None),
            ("bio", current.bio, bio or None),
            ("links", current.links or {}, links),
            ("open to collaborate", bool(current.open_to_collaborate), edits.open_to_collaborate),
            ("hidden", bool(current.hidden), edits.hidden),
        )
        if before != after
    ]
    current.display_name = name or None
    current.bio = bio or None
    current.links = links
    current.open_to_collaborate = edits.open_to_collaborate
    current.hidden = edits.hidden
    current.updated_at = actor.now
    record = session.get_one(AuthorRecord, record_id)
    apply_display_name(record, current)
    # names and hiding reach graph slices and memoised lists: they must not outlive this
    generation.advance(session.connection(), "records")
    if changed:
        audit(
            session,
            actor.account,
            "record.edited",
            actor.now,
            record_id=record_id,
            claim_id=claim.id,
            detail={"changed": changed},  # which fields, never the names
        )
    session.flush()
    return current


def apply_display_name(record: AuthorRecord, settings: RecordSettings | None) -> None:
    """The record's shown name: the owner's choice, else the name its works carry most."""
    chosen = settings.display_name if settings else None
    record.display_name = chosen or (record.name_variants or [record.display_name])[0]


def not_mine(session: Session, actor: Actor, record_id: int, authorship_id: int) -> None:
    """The owner says the authorship on their record is someone else's."""
    claim = owned_claim(session, actor, record_id)
    linked = session.scalar(
        select(AuthorshipLink.authorship_id).where(
            AuthorshipLink.record_id == record_id, AuthorshipLink.authorship_id == authorship_id
        )
    )
    if linked is None:
        raise ClaimError("That work is not on this record.")
    already = session.scalar(
        select(
            exists().where(
                AuthorshipCorrection.claim_id == claim.id,
                AuthorshipCorrection.authorship_id == authorship_id,
            )
        )
    )
    if already:
        return
    session.add(
        AuthorshipCorrection(
            claim_id=claim.id, authorship_id=authorship_id, kind="not-mine", created_at=actor.now
        )
    )
    audit(
        session,
        actor.account,
        "authorship.not-mine",
        actor.now,
        record_id=record_id,
        claim_id=claim.id,
        detail={"authorship_id": authorship_id},
    )
    session.flush()
