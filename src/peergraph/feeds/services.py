"""Saved searches, the feed page, the weekly alert digest and the Atom feeds
(docs/feeds.md). The matching that fills feeds is feeds/matching.py.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from peergraph.accounts import mail
from peergraph.accounts.models import Account
from peergraph.feeds.models import MODES, FeedItem, SavedSearch
from peergraph.search.embeddings import Encoder
from peergraph.search.keyword import query_terms
from peergraph.works.models import Work

MAX_SEARCHES = 50  # per account
MAX_QUERY = 300
BUDGET = 10  # alert items per weekly digest, best first; the rest stay on the feed only
PERIOD = timedelta(days=7)
PAGE = 50
ATOM_ENTRIES = 50
SUMMARY = 600
ALERT_CHOICES = {"weekly": "Weekly", "never": "Never"}


class FeedError(ValueError):
    """A saved search that cannot be kept; the message says why."""


def clean_query(raw: str) -> str:
    query = " ".join((raw or "").split())
    if not query:
        raise FeedError("Write what to search for.")
    if len(query) > MAX_QUERY:
        raise FeedError(f"A saved search holds at most {MAX_QUERY} characters.")
    if not query_terms(query):
        raise FeedError("The search needs at least one word that is not a stop word.")
    return query


def save_search(
    session: Session,
    account: Account,
    raw_query: str,
    mode: str,
    now: datetime,
    *,
    encoder: Encoder | None = None,
) -> SavedSearch:
    """Keep a keyword or semantic search; a semantic one stores its query vector, so that
    new works are compared without encoding anything again."""
    if mode not in MODES:
        raise FeedError(f"Choose a mode: {', '.join(MODES)}.")
    query = clean_query(raw_query)
    mine = list(session.scalars(select(SavedSearch).where(SavedSearch.account_id == account.id)))
    for existing in mine:
        if existing.query.casefold() == query.casefold() and existing.mode == mode:
            return existing
    if len(mine) >= MAX_SEARCHES:
        raise FeedError(f"You can keep at most {MAX_SEARCHES} saved searches; delete one first.")
    saved = SavedSearch(
        account_id=account.id,
        query=query,
        mode=mode,
        alerts=True,
        token=secrets.token_urlsafe(24),
        created_at=now,
    )
    if mode == "semantic":
        if encoder is None:
            raise FeedError(
                "Semantic searches cannot be saved here: this server has no text encoder."
            )
        vector = encoder.encode([query])[0].astype("float32")
        saved.model, saved.vector = encoder.name, vector.tobytes()
    session.add(saved)
    session.flush()
    return saved


def searches(session: Session, account: Account) -> list[tuple[SavedSearch, int]]:
    """The account's saved searches with how many feed items each produced."""
    counts = dict(
        session.execute(
            select(FeedItem.search_id, func.count())
            .where(FeedItem.account_id == account.id, FeedItem.search_id.is_not(None))
            .group_by(FeedItem.search_id)
        ).all()
    )
    return [
        (s, counts.get(s.id, 0))
        for s in session.scalars(
            select(SavedSearch)
            .where(SavedSearch.account_id == account.id)
            .order_by(SavedSearch.id.desc())
        )
    ]


def own_search(session: Session, account: Account, search_id: int) -> SavedSearch:
    saved = session.get(SavedSearch, search_id)
    if saved is None or saved.account_id != account.id:
        raise LookupError(search_id)
    return saved


def set_alerts(session: Session, account: Account, search_id: int, on: bool) -> SavedSearch:
    saved = own_search(session, account, search_id)
    saved.alerts = on
    if not on:  # what was waiting for the digest stays on the feed only
        session.execute(
            update(FeedItem)
            .where(FeedItem.search_id == saved.id, FeedItem.alert == "pending")
            .values(alert="none")
        )
    return saved


def by_token(session: Session, token: str) -> SavedSearch | None:
    return session.scalar(select(SavedSearch).where(SavedSearch.token == token))


def stop_alerts(session: Session, account: Account) -> None:
    """Alerts off: what was waiting for the digest stays on the feed only."""
    session.execute(
        update(FeedItem)
        .where(FeedItem.account_id == account.id, FeedItem.alert == "pending")
        .values(alert="none")
    )


def delete_search(session: Session, account: Account, search_id: int) -> None:
    session.delete(own_search(session, account, search_id))


@dataclass
class FeedPage:
    items: list[tuple[FeedItem, Work]]
    page: int
    pages: int
    total: int


def feed(session: Session, account: Account, *, kind: str | None = None, page: int = 1) -> FeedPage:
    """Newest first: the newest matching pass's items on top, the best first within it
    (followed researchers, then topics, then the closest search matches)."""
    where = [FeedItem.account_id == account.id]
    if kind:
        where.append(FeedItem.kind == kind)
    total = int(session.scalar(select(func.count()).select_from(FeedItem).where(*where)) or 0)
    pages = max(1, -(-total // PAGE))
    page = min(max(page, 1), pages)
    rows = session.execute(
        select(FeedItem, Work)
        .join(Work, Work.id == FeedItem.work_id)
        .where(*where)
        .options(selectinload(Work.source), selectinload(Work.authorships))
        .order_by(
            FeedItem.created_at.desc(),
            FeedItem.score.desc(),
            Work.year.desc().nulls_last(),
            FeedItem.id.desc(),
        )
        .offset((page - 1) * PAGE)
        .limit(PAGE)
    )
    return FeedPage(list(rows), page, pages, total)


# ---- the weekly alert digest -----------------------------------------------------------------


def due(session: Session, now: datetime) -> list[int]:
    pending = select(FeedItem.account_id).where(FeedItem.alert == "pending").distinct()
    return list(
        session.scalars(
            select(Account.id).where(
                Account.id.in_(pending),
                Account.alerts == "weekly",
                Account.status == "active",
                Account.email_verified_at.is_not(None),
                or_(Account.last_alert_at.is_(None), Account.last_alert_at <= now - PERIOD),
            )
        )
    )


def compose(session: Session, account: Account, base_url: str) -> tuple[str, str, int] | None:
    """(subject, body, items mailed): the ``BUDGET`` best pending items; the others are
    marked "over" — they stay on the feed and are never mailed (so that a busy week does
    not spill into the next digest)."""
    rows = session.execute(
        select(FeedItem, Work)
        .join(Work, Work.id == FeedItem.work_id)
        .where(FeedItem.account_id == account.id, FeedItem.alert == "pending")
        .order_by(FeedItem.score.desc(), Work.year.desc().nulls_last(), FeedItem.id)
    ).all()
    if not rows:
        return None
    chosen, rest = rows[:BUDGET], rows[BUDGET:]
    lines = [f"New on your peergraph feed ({base_url}/feed), best first:", ""]
    for item, work in chosen:
        year = f" ({work.year})" if work.year else ""
        lines += [
            f"* {work.title}{year}",
            f"  {base_url}/works/{work.id}",
            f"  Why: {item.why}",
            "",
        ]
        item.alert = "mailed"
    for item, _work in rest:
        item.alert = "over"
    if rest:
        lines.append(f"And {len(rest)} more on your feed: {base_url}/feed")
    lines += [
        "",
        f"At most {BUDGET} items a week. Change or stop these alerts on {base_url}/feed.",
    ]
    many = "s" if len(chosen) != 1 else ""
    return f"peergraph: {len(chosen)} new work{many} for you", "\n".join(lines) + "\n", len(chosen)


def send_alerts(engine: Engine, base_url: str, now: datetime) -> int:
    """Queue one alert digest for each account that is due; returns how many."""
    with Session(engine) as session:
        ids = due(session, now)
    return mail.queue_digests(
        engine,
        ids,
        Account.last_alert_at,
        lambda account: PERIOD if account.alerts == "weekly" else None,
        lambda session, account: compose(session, account, base_url),
        now,
    )


# ---- Atom ----------------------------------------------------------------------------------------

ATOM = "http://www.w3.org/2005/Atom"


def _stamp(when: datetime) -> str:
    return when.replace(microsecond=0).isoformat() + "Z"


def atom(
    title: str,
    self_url: str,
    page_url: str,
    entries: list[tuple[Work, datetime, str | None]],
    base_url: str,
    updated: datetime,
) -> bytes:
    """An Atom 1.0 document (RFC 4287) built with ElementTree, which escapes every text."""
    ET.register_namespace("", ATOM)
    root = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(root, f"{{{ATOM}}}title").text = title
    ET.SubElement(root, f"{{{ATOM}}}id").text = self_url
    ET.SubElement(root, f"{{{ATOM}}}link", rel="self", href=self_url)
    ET.SubElement(root, f"{{{ATOM}}}link", rel="alternate", href=page_url, type="text/html")
    newest = max((when for _, when, _ in entries), default=updated)
    ET.SubElement(root, f"{{{ATOM}}}updated").text = _stamp(newest)
    ET.SubElement(ET.SubElement(root, f"{{{ATOM}}}author"), f"{{{ATOM}}}name").text = "peergraph"
    for work, when, why in entries:
        entry = ET.SubElement(root, f"{{{ATOM}}}entry")
        url = f"{base_url}/works/{work.id}"
        ET.SubElement(entry, f"{{{ATOM}}}title").text = work.title
        ET.SubElement(entry, f"{{{ATOM}}}id").text = url
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", href=url, type="text/html")
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = _stamp(when)
        if work.publication_date:
            # an RFC 3339 date-time: a full date at midnight, else when it arrived
            day = work.publication_date
            published = f"{day}T00:00:00Z" if len(day) == 10 else _stamp(when)
            ET.SubElement(entry, f"{{{ATOM}}}published").text = published
        for authorship in sorted(work.authorships, key=lambda a: a.position)[:10]:
            person = ET.SubElement(entry, f"{{{ATOM}}}author")
            ET.SubElement(person, f"{{{ATOM}}}name").text = authorship.raw_name
        summary = " ".join(filter(None, [why, _excerpt(work.abstract)]))
        if summary:
            ET.SubElement(entry, f"{{{ATOM}}}summary").text = summary
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8")


def _excerpt(text: str | None) -> str | None:
    if not text:
        return None
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY else text[: SUMMARY - 1] + "\u2026"


def search_entries(session: Session, saved: SavedSearch) -> list[tuple[Work, datetime, str | None]]:
    rows = session.execute(
        select(FeedItem, Work)
        .join(Work, Work.id == FeedItem.work_id)
        .where(FeedItem.search_id == saved.id)
        .options(selectinload(Work.authorships))
        .order_by(FeedItem.id.desc())
        .limit(ATOM_ENTRIES)
    )
    return [(work, item.created_at, item.why) for item, work in rows]


def record_entries(session: Session, work_ids: Any) -> list[tuple[Work, datetime, str | None]]:
    works = session.scalars(
        select(Work)
        .where(Work.id.in_(work_ids))
        .options(selectinload(Work.authorships))
        .order_by(Work.year.desc().nulls_last(), Work.id.desc())
        .limit(ATOM_ENTRIES)
    )
    return [(w, w.created_at, None) for w in works]
