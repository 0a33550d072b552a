"""Read-side queries behind the profile page, the researcher list and their JSON.

Each function issues a fixed number of queries whatever the record's size (the profile
page's query count is asserted in tests/functional/test_profiles.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased, selectinload

from peergraph.authors.models import (
    AuthorRecord,
    AuthorshipCorrection,
    AuthorshipLink,
    RecordClaim,
    RecordRedirect,
)
from peergraph.authors.ownership import HOLDING
from peergraph.claims.models import Follow, RecordSettings
from peergraph.ingest.normalize import fold
from peergraph.links import safe_link
from peergraph.profiles import trust
from peergraph.profiles.models import (
    CLOSE_STRENGTH,
    Collaboration,
    Profile,
    RecordTopic,
    TrustEvidence,
)
from peergraph.works.models import Authorship, AuthorshipInstitution, Topic, Work
from peergraph.works.services import Citations, Page, citations_of, person_name

WORKS_PER_PAGE = 25  # a long record pages its works: compact rows, 25 at a time
BYLINE_AUTHORS = 3  # names shown on a work row; then "et al." with the count
SHOWN_COLLABORATORS = 20


@dataclass
class ProfileView:
    record: AuthorRecord
    profile: Profile | None
    topics: list[tuple[Topic, RecordTopic]]
    collaborators: list[tuple[AuthorRecord, Collaboration]]
    ledger: list[TrustEvidence]
    works: Page
    works_per_year: list[tuple[int, int]]
    sort: str
    followers: int = 0
    component_points: dict[str, float] = field(default_factory=dict)
    claim: RecordClaim | None = None  # the claim that holds the record: its owner
    settings: RecordSettings | None = None  # what the owner chose (claims/models.py)
    citations: Citations | None = None  # from the works' stored counts
    # work id → (its first BYLINE_AUTHORS names, how many authors it has)
    bylines: dict[int, tuple[list[str], int]] = field(default_factory=dict)

    @property
    def claim_state(self) -> str:
        """ "Unclaimed author", "Claimed" or "Claim disputed" (the snapshot's words)."""
        if self.claim is None:
            return "Unclaimed author"
        return "Claim disputed" if self.claim.status == "disputed" else "Claimed"

    @property
    def public_variants(self) -> list[str]:
        """The other names the record was published under, as shown publicly: none once
        its owner chose a display name (a name change must not deadname anyone)."""
        if self.settings is not None and self.settings.display_name:
            return []
        return [n for n in self.record.name_variants if n != self.record.display_name]

    @property
    def owner_links(self) -> dict[str, str]:
        """The owner's links (each checked by the URL policy when saved, and again here)."""
        links = (self.settings.links if self.settings else None) or {}
        return {kind: url for kind, url in links.items() if safe_link(url)}

    @property
    def open_to_collaborate(self) -> bool:
        return bool(self.claim and self.settings and self.settings.open_to_collaborate)

    @property
    def trust_score(self) -> int:
        return self.profile.trust_score if self.profile else 0

    @property
    def trust_band(self) -> str:
        return trust.band(self.trust_score)

    @property
    def verification_level(self) -> str:
        return self.profile.verification_level if self.profile else "L0"

    @property
    def close_collaborators(self) -> list[tuple[AuthorRecord, Collaboration]]:
        return [(r, c) for r, c in self.collaborators if c.strength >= CLOSE_STRENGTH]


def hidden_records() -> Any:
    """The ids of records whose owners hid them from public listings (a subquery)."""
    return select(RecordSettings.record_id).where(RecordSettings.hidden.is_(True))


def disowned(record_id: int) -> Any:
    """The authorships the record's owner marked "not mine": off the record's list at
    once, and apart at the next rebuild (a subquery)."""
    owners = select(RecordClaim.id).where(
        RecordClaim.record_id == record_id, RecordClaim.status.in_(HOLDING)
    )
    return select(AuthorshipCorrection.authorship_id).where(
        AuthorshipCorrection.kind == "not-mine", AuthorshipCorrection.claim_id.in_(owners)
    )


def count_records(session: Session) -> int:
    """Researcher records shown in public listings."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(AuthorRecord)
            .where(AuthorRecord.id.not_in(hidden_records()))
        )
        or 0
    )


def get_record(session: Session, record_id: int) -> AuthorRecord | None:
    return session.get(AuthorRecord, record_id)


def record_work_ids(session: Session, record_id: int) -> list[int]:
    return list(
        session.scalars(
            select(Authorship.work_id)
            .join(AuthorshipLink, AuthorshipLink.authorship_id == Authorship.id)
            .where(AuthorshipLink.record_id == record_id)
        )
    )


def records_of_works(session: Session, work_ids: list[int]) -> list[tuple[int, int]]:
    """(record id, work id) for every linked authorship of these works."""
    return list(
        session.execute(
            select(AuthorshipLink.record_id, Authorship.work_id)
            .join(Authorship, Authorship.id == AuthorshipLink.authorship_id)
            .where(Authorship.work_id.in_(work_ids))
        ).all()
    )


def get_redirect(session: Session, record_id: int) -> int | None:
    redirect = session.get(RecordRedirect, record_id)
    return redirect.new_id if redirect else None


def find_records(session: Session, name_or_id: str, limit: int = 10) -> list[AuthorRecord]:
    """A record id, or records whose display name matches (most works first)."""
    if name_or_id.isdigit():
        record = session.get(AuthorRecord, int(name_or_id))
        return [record] if record else []
    pattern = name_or_id.strip()
    return list(
        session.scalars(
            select(AuthorRecord)
            .where(func.lower(AuthorRecord.display_name) == pattern.lower())
            .order_by(AuthorRecord.works_count.desc())
            .limit(limit)
        )
    ) or list(
        session.scalars(
            select(AuthorRecord)
            .where(AuthorRecord.display_name.ilike(f"%{pattern}%"))
            .order_by(AuthorRecord.works_count.desc())
            .limit(limit)
        )
    )


def profile_view(
    session: Session, record: AuthorRecord, *, page: int = 1, sort: str = "newest"
) -> ProfileView:
    profile = session.get(Profile, record.id)
    topics = [
        (t, rt)
        for rt, t in session.execute(
            select(RecordTopic, Topic)
            .join(Topic, Topic.id == RecordTopic.topic_id)
            .where(RecordTopic.record_id == record.id)
            .order_by(RecordTopic.weight.desc())
        ).all()
    ]
    collaborators = [
        (r, c)
        for c, r in session.execute(
            select(Collaboration, AuthorRecord)
            .join(AuthorRecord, AuthorRecord.id == Collaboration.coauthor_id)
            .where(Collaboration.record_id == record.id)
            .order_by(Collaboration.strength.desc(), Collaboration.joint_works.desc())
            .limit(SHOWN_COLLABORATORS)
        ).all()
    ]
    ledger = list(
        session.scalars(
            select(TrustEvidence)
            .where(TrustEvidence.record_id == record.id)
            .order_by(TrustEvidence.id)
        )
    )
    _, components = trust.score_ledger(
        [trust.LedgerItem(i.component, i.source, i.method, i.points, i.detail) for i in ledger]
    )
    years = session.execute(
        select(Work.year, func.count(func.distinct(Work.id)))
        .join(Authorship, Authorship.work_id == Work.id)
        .join(AuthorshipLink, AuthorshipLink.authorship_id == Authorship.id)
        .where(AuthorshipLink.record_id == record.id, Work.year.is_not(None))
        .group_by(Work.year)
        .order_by(Work.year)
    ).all()
    return ProfileView(
        record=record,
        profile=profile,
        topics=topics,
        collaborators=collaborators,
        ledger=ledger,
        works=(works := record_works(session, record, page=page, sort=sort)),
        bylines=bylines(session, [work.id for work, _, _ in works.items]),
        citations=record_citations(session, record),
        works_per_year=[(int(y or 0), int(n)) for y, n in years],
        sort=sort,
        component_points=components,
        followers=int(
            session.scalar(select(func.count()).where(Follow.record_id == record.id)) or 0
        ),
        claim=session.scalars(
            select(RecordClaim).where(
                RecordClaim.record_id == record.id, RecordClaim.status.in_(HOLDING)
            )
        ).first(),
        settings=session.scalars(
            select(RecordSettings)
            .where(RecordSettings.record_id == record.id)
            .order_by(RecordSettings.updated_at.desc(), RecordSettings.id.desc())
        ).first(),
    )


def record_citations(session: Session, record: AuthorRecord) -> Citations:
    """Total citations and the h-index of the record's works, from the counts the
    sources gave (only OpenAlex gives them), in one query."""
    rows = session.execute(
        select(Work.cited_by_count, Work.cited_by_source, Work.cited_by_date)
        .join(Authorship, Authorship.work_id == Work.id)
        .join(AuthorshipLink, AuthorshipLink.authorship_id == Authorship.id)
        .where(AuthorshipLink.record_id == record.id)
    ).all()
    return citations_of([(r[0], r[1], r[2]) for r in rows], len(rows))


def bylines(session: Session, work_ids: list[int]) -> dict[int, tuple[list[str], int]]:
    """Each work's first names (given name first) and its number of authors, in one
    query whatever the works (a consortium paper's thousands of authorships are not
    loaded)."""
    if not work_ids:
        return {}
    every = aliased(Authorship)
    total = (
        select(func.count())
        .where(every.work_id == Authorship.work_id)
        .correlate(Authorship)
        .scalar_subquery()
    )
    out: dict[int, tuple[list[str], int]] = {work_id: ([], 0) for work_id in work_ids}
    for work_id, raw, given, family, count in session.execute(
        select(Authorship.work_id, Authorship.raw_name, Authorship.given, Authorship.family, total)
        .where(Authorship.work_id.in_(work_ids), Authorship.position < BYLINE_AUTHORS)
        .order_by(Authorship.work_id, Authorship.position)
    ):
        names, _ = out[work_id]
        names.append(person_name(raw, given, family))
        out[work_id] = (names, int(count))
    return out


def work_order(sort: str) -> tuple[Any, ...]:
    """ORDER BY of a paged work list: newest, oldest or most cited first (unknown values
    read as newest); ties broken by id so pages never overlap."""
    if sort == "oldest":
        return (Work.year.asc().nulls_last(), Work.id)
    if sort == "cited":
        return (Work.cited_by_count.desc().nulls_last(), Work.year.desc().nulls_last(), Work.id)
    return (Work.year.desc().nulls_last(), Work.id.desc())


def works_page(session: Session, work_ids: Any, *, page: int = 1, sort: str = "newest") -> Page:
    """One page of the works whose ids ``work_ids`` selects (a SELECT of one column of
    distinct work ids), in ``work_order(sort)``, with their venue and identifiers: the
    body of the topic and institution pages."""
    total = session.scalar(select(func.count()).select_from(work_ids.subquery())) or 0
    works = session.scalars(
        select(Work)
        .where(Work.id.in_(work_ids))
        .options(selectinload(Work.source), selectinload(Work.identifiers))
        .order_by(*work_order(sort))
        .limit(WORKS_PER_PAGE)
        .offset((page - 1) * WORKS_PER_PAGE)
    )
    return Page(list(works), page, WORKS_PER_PAGE, int(total))


def works_citations(session: Session, work_ids: Any, works: int) -> Citations:
    """The citation figures of the ``works`` works whose ids ``work_ids`` selects; only
    those with a count are read (the ML and ACL data have none)."""
    rows = session.execute(
        select(Work.cited_by_count, Work.cited_by_source, Work.cited_by_date).where(
            Work.id.in_(work_ids), Work.cited_by_count.is_not(None)
        )
    ).all()
    return citations_of([(r[0], r[1], r[2]) for r in rows], works)


def record_works(
    session: Session, record: AuthorRecord, *, page: int = 1, sort: str = "newest"
) -> Page:
    """The record's works with the link that put each one here (why this paper)."""
    order = work_order(sort)
    rows = session.execute(
        select(Work, AuthorshipLink, Authorship.position)
        .join(Authorship, Authorship.work_id == Work.id)
        .join(AuthorshipLink, AuthorshipLink.authorship_id == Authorship.id)
        .where(AuthorshipLink.record_id == record.id, Authorship.id.not_in(disowned(record.id)))
        .options(selectinload(Work.source), selectinload(Work.identifiers))
        .order_by(*order)
        .limit(WORKS_PER_PAGE)
        .offset((page - 1) * WORKS_PER_PAGE)
    ).all()
    return Page([tuple(r) for r in rows], page, WORKS_PER_PAGE, record.works_count)


def list_records(
    session: Session,
    *,
    prefix: str | None = None,
    topic_id: int | None = None,
    institution_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page:
    """Researchers, most works first, filtered by family-name prefix, topic, institution;
    never those their owners hid."""
    query = select(AuthorRecord).where(AuthorRecord.id.not_in(hidden_records()))
    if prefix:
        key = fold(prefix).strip()
        query = query.where(AuthorRecord.sort_name.like(f"{key}%"))
    if topic_id is not None:
        query = query.where(
            AuthorRecord.id.in_(
                select(RecordTopic.record_id).where(RecordTopic.topic_id == topic_id)
            )
        )
    if institution_id is not None:
        query = query.where(
            AuthorRecord.id.in_(
                select(AuthorshipLink.record_id)
                .join(
                    AuthorshipInstitution,
                    AuthorshipInstitution.authorship_id == AuthorshipLink.authorship_id,
                )
                .where(AuthorshipInstitution.institution_id == institution_id)
            )
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = list(
        session.scalars(
            query.order_by(AuthorRecord.works_count.desc(), AuthorRecord.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return Page(items, page, per_page, total)


@dataclass(frozen=True, slots=True)
class RecordRef:
    """What a work page shows of an author's record."""

    id: int
    display_name: str
    works_count: int


@dataclass(frozen=True, slots=True)
class LinkRef:
    """Why an authorship is on its record (``AuthorshipLink``'s shown columns)."""

    method: str
    confidence: float
    evidence: dict[str, Any] | None


def work_authors(session: Session, work_id: int) -> dict[int, tuple[RecordRef, LinkRef]]:
    """For a work page: authorship id → (record, link with the evidence). Plain columns,
    not ORM objects: a work of 450 authors would otherwise build 900 mapped instances."""
    rows = session.execute(
        select(
            Authorship.id,
            AuthorRecord.id,
            AuthorRecord.display_name,
            AuthorRecord.works_count,
            AuthorshipLink.method,
            AuthorshipLink.confidence,
            AuthorshipLink.evidence,
        )
        .join(AuthorshipLink, AuthorshipLink.authorship_id == Authorship.id)
        .join(AuthorRecord, AuthorRecord.id == AuthorshipLink.record_id)
        .where(Authorship.work_id == work_id)
    ).all()
    return {
        a_id: (RecordRef(r_id, name, count), LinkRef(method, confidence, evidence))
        for a_id, r_id, name, count, method, confidence, evidence in rows
    }


def evidence_sentence(link: AuthorshipLink | LinkRef, partner: str | None = None) -> str:
    """Plain words for why an authorship is on its record."""
    evidence = link.evidence or {}
    if link.method == "only-one":
        return "the only authorship with this name key in the data"
    if link.method == "orcid":
        return "the same ORCID as the record's other works"
    if link.method == "claim":
        return "the researcher who claimed this record confirmed it as theirs"
    if link.method == "not-mine":
        return "the owner of a record with this name said it is not theirs, so it stands alone"
    if evidence.get("alone"):
        return "no other authorship with this name matched closely enough, so it stands alone"
    reasons = []
    if link.method == "upstream-id":
        reasons.append("the same upstream author id")
    for name in evidence.get("strongest") or []:
        phrase = _EVIDENCE_WORDS.get(name)
        if name == "coauthors" and evidence.get("coauthors"):
            phrase = f"{evidence['coauthors']:g} shared co-author(s)"
        if phrase and phrase not in reasons:
            reasons.append(phrase)
    joined = ", ".join(reasons) if reasons else "a compatible name"
    with_work = f" with “{partner}”" if partner else ""
    return f"{joined}{with_work} (confidence {link.confidence:.0%})"


# the evidence groups of authors/disambiguation.py, strongest first on each link
_EVIDENCE_WORDS = {
    "coauthors": "co-authors in common, or who work together",
    "wording": "similar title/abstract wording",
    "venue": "the same or a similar venue",
    "affiliation": "the same affiliation",
    "topics": "the same topics",
    "references": "shared references",
    "upstream-id": "the same upstream author id",
    "rare-name": "an uncommon name",
    "years": "close publication years",
}


def profile_json(view: ProfileView) -> dict[str, Any]:
    record, profile = view.record, view.profile
    return {
        "id": record.id,
        "display_name": record.display_name,
        "name_variants": view.public_variants,
        "description": profile.description if profile else None,
        "bio": view.settings.bio if view.claim and view.settings else None,
        "links": view.owner_links if view.claim else {},
        "open_to_collaborate": view.open_to_collaborate,
        "role": "Researcher",
        "affiliations": (profile.affiliations or []) if profile else [],
        "orcid": record.orcid,
        "upstream_author_ids": record.upstream_author_ids or [],
        "claimed": view.claim is not None,
        "claim_state": view.claim_state,
        "trust": {
            "score": view.trust_score,
            "band": view.trust_band,
            "verification_level": view.verification_level,
            "components": view.component_points,
            "ledger": [
                {
                    "component": i.component,
                    "source": i.source,
                    "method": i.method,
                    "date": i.observed_at.date().isoformat(),
                    "points": i.points,
                    "detail": i.detail,
                }
                for i in view.ledger
            ],
        },
        "counts": {
            "works": record.works_count,
            "followers": view.followers,
            "topics": profile.topics_count if profile else 0,
            "close_collaborators": profile.close_collaborators_count if profile else 0,
        },
        "topics": [
            {
                "id": t.id,
                "name": t.name,
                "taxonomy": t.taxonomy,
                "works": rt.works_count,
                "weight": rt.weight,
            }
            for t, rt in view.topics
        ],
        "close_collaborators": [
            {
                "id": r.id,
                "display_name": r.display_name,
                "joint_works": c.joint_works,
                "strength": c.strength,
            }
            for r, c in view.close_collaborators
        ],
        "first_year": record.first_year,
        "last_year": record.last_year,
        "works_per_year": dict(view.works_per_year),
    }
