"""Read-side services for works: counts, paged listings, single works."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session, selectinload

from peergraph.ingest.models import ImportIssue, ImportRun, Provenance
from peergraph.links import identifier_link
from peergraph.works.models import (
    Authorship,
    AuthorshipInstitution,
    Institution,
    Source,
    Topic,
    UpstreamAuthor,
    Work,
    WorkIdentifier,
    WorkReference,
    WorkTopic,
)

COUNTED_TABLES = {
    "works": Work,
    "work_identifiers": WorkIdentifier,
    "authorships": Authorship,
    "sources": Source,
    "institutions": Institution,
    "authorship_institutions": AuthorshipInstitution,
    "topics": Topic,
    "work_topics": WorkTopic,
    "work_references": WorkReference,
    "upstream_authors": UpstreamAuthor,
    "imports": ImportRun,
    "import_issues": ImportIssue,
    "provenance": Provenance,
}
MAX_PAGE_SIZE = 100


@dataclass
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int
    total_capped: bool = False  # counting stopped at ``total``: there are more

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def count_tables(session: Session) -> dict[str, int]:
    return {
        name: session.scalar(select(func.count()).select_from(model)) or 0
        for name, model in COUNTED_TABLES.items()
    }


def count_works(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Work)) or 0


def counts_by_source(session: Session) -> list[dict[str, Any]]:
    """Per data source (import format): records imported, and distinct works they back."""
    rows = session.execute(
        select(
            ImportRun.format,
            func.count(distinct(ImportRun.id)),
            func.count(Provenance.id),
            func.count(distinct(Provenance.entity_id)),
        )
        .join(Provenance, Provenance.import_id == ImportRun.id)
        .where(Provenance.entity_type == "work")
        .group_by(ImportRun.format)
        .order_by(ImportRun.format)
    ).all()
    return [
        {"format": fmt, "files": files, "records": records, "works": works}
        for fmt, files, records, works in rows
    ]


def list_works(session: Session, *, page: int = 1, per_page: int = 25) -> Page:
    """Works newest first (then by id), with venue and authors loaded in two queries."""
    per_page = max(1, min(per_page, MAX_PAGE_SIZE))
    total = count_works(session)
    query = (
        select(Work)
        .options(selectinload(Work.source), selectinload(Work.authorships))
        .order_by(Work.year.desc().nulls_last(), Work.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return Page(list(session.scalars(query)), page, per_page, total)


def get_work(session: Session, work_id: int) -> Work | None:
    return session.scalar(
        select(Work)
        .where(Work.id == work_id)
        .options(
            selectinload(Work.source),
            selectinload(Work.identifiers),
            selectinload(Work.authorships).selectinload(Authorship.institutions),
        )
    )


def work_topics(session: Session, work_id: int) -> list[tuple[Topic, WorkTopic]]:
    rows = session.execute(
        select(Topic, WorkTopic)
        .join(WorkTopic, WorkTopic.topic_id == Topic.id)
        .where(WorkTopic.work_id == work_id)
        .order_by(WorkTopic.is_primary.desc(), WorkTopic.score.desc().nulls_last())
    ).all()
    return [(topic, link) for topic, link in rows]


PROVENANCE_ON_PAGE = 10  # a work page shows this many sources; the rest are paged
PROVENANCE_PER_PAGE = 50
PROVENANCE_COUNT_CAP = 10_000  # the work page counts this far ("10,000+"), in a millisecond


def work_provenance(
    session: Session,
    work_id: int,
    *,
    page: int = 1,
    per_page: int = PROVENANCE_ON_PAGE,
    count_cap: int | None = None,
) -> Page:
    """The records a work came from, oldest first, one page of them: a work can be backed
    by any number of records (the same paper in many files), and no page may load them
    all. Items are (Provenance, ImportRun) pairs. With ``count_cap`` the total stops there
    (``total_capped``): counting a million rows takes 100 ms, and the work page must not."""
    where = (Provenance.entity_type == "work", Provenance.entity_id == work_id)
    rows_to_count = select(Provenance.id).where(*where)
    if count_cap is not None:
        rows_to_count = rows_to_count.limit(count_cap + 1)
    total = session.scalar(select(func.count()).select_from(rows_to_count.subquery())) or 0
    capped = count_cap is not None and total > count_cap
    if capped:
        total -= 1  # the one row counted past the cap only said there are more
    # the page first, then its imports: joined in one query, PostgreSQL's planner may
    # join every source of the work before it sorts (1 s for a million sources)
    sources = session.scalars(
        select(Provenance)
        .where(*where)
        .order_by(Provenance.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    runs = {
        run.id: run
        for run in session.scalars(
            select(ImportRun).where(ImportRun.id.in_({p.import_id for p in sources}))
        )
    }
    items = [(p, runs[p.import_id]) for p in sources if p.import_id in runs]
    return Page(items, page, per_page, total, capped)


IDENTIFIER_LINKS = {
    "doi": "https://doi.org/{}",
    "arxiv": "https://arxiv.org/abs/{}",
    "openalex": "https://openalex.org/{}",
    "pmid": "https://pubmed.ncbi.nlm.nih.gov/{}",
    "pmcid": "https://www.ncbi.nlm.nih.gov/pmc/articles/{}",
    "orcid": "https://orcid.org/{}",
    "ror": "https://ror.org/{}",
}


TOPIC_SOURCES = {
    "openalex": "OpenAlex topic",
    "openalex-concept": "OpenAlex concept",
    "arxiv": "arXiv category",
    "inferred": "inferred from titles and abstracts",
}


def topic_source(taxonomy: str) -> str:
    """Where a topic comes from, in words (pages show it next to the topic)."""
    return TOPIC_SOURCES.get(taxonomy, taxonomy)


def identifier_url(scheme: str, value: str) -> str | None:
    """The resolver link for an identifier, through the URL policy (links.py)."""
    template = IDENTIFIER_LINKS.get(scheme)
    return identifier_link(template, value) if template else None


def author_counts(session: Session, work_ids: list[int]) -> dict[int, int]:
    """Number of authors of each work (0 for a work without any), from the index alone."""
    counts = dict.fromkeys(work_ids, 0)
    counts.update(
        session.execute(
            select(Authorship.work_id, func.count())
            .where(Authorship.work_id.in_(work_ids))
            .group_by(Authorship.work_id)
        ).all()
    )
    return counts


def h_index(counts: list[int]) -> int:
    """The largest h such that h of the works have at least h citations each (Hirsch 2005)."""
    ranked = sorted((c for c in counts if c > 0), reverse=True)
    return sum(1 for rank, count in enumerate(ranked, start=1) if count >= rank)


@dataclass(frozen=True)
class Citations:
    """Citation figures of a set of works, from the counts the sources gave."""

    total: int  # Σ cited-by counts of the works that have one
    h_index: int
    counted: int  # works with a count
    works: int  # all the works
    sources: tuple[str, ...]  # who counted ("OpenAlex")
    as_of: str | None  # the newest count's date


def citations_of(rows: list[tuple[int | None, str | None, str | None]], works: int) -> Citations:
    """From (count, source, date) of each work."""
    counted = [(c, s, d) for c, s, d in rows if c is not None]
    counts = [int(c) for c, _, _ in counted]
    return Citations(
        total=sum(counts),
        h_index=h_index(counts),
        counted=len(counted),
        works=works,
        sources=tuple(sorted({s for _, s, _ in counted if s})),
        as_of=max((d for _, _, d in counted if d), default=None),
    )


def work_references(session: Session, work_id: int, limit: int = 200) -> dict[str, Any]:
    """What a work cites (linked where the cited work is in the store) and the works in
    the store that cite it."""
    cited = session.execute(
        select(WorkReference.target_scheme, WorkReference.target_value, Work)
        .outerjoin(Work, Work.id == WorkReference.cited_work_id)
        .where(WorkReference.citing_work_id == work_id)
        .order_by(Work.year.desc().nulls_last(), WorkReference.id)
        .limit(limit)
    ).all()
    total = session.scalar(select(func.count()).where(WorkReference.citing_work_id == work_id)) or 0
    citing = session.scalars(
        select(Work)
        .join(WorkReference, WorkReference.citing_work_id == Work.id)
        .where(WorkReference.cited_work_id == work_id)
        .order_by(Work.year.desc().nulls_last(), Work.id.desc())
        .limit(limit)
    ).all()
    citing_total = (
        session.scalar(select(func.count()).where(WorkReference.cited_work_id == work_id)) or 0
    )
    return {
        "references": [(scheme, value, work) for scheme, value, work in cited],
        "references_total": int(total),
        "cited_by": list(citing),
        "cited_by_total": int(citing_total),
    }


def person_name(raw: str, given: str | None = None, family: str | None = None) -> str:
    """A person's name as pages show it: always "given family" ("Aaron van den Oord"),
    whatever order the source printed ("Oord, Aaron van den"), so that a list of people
    joined by commas reads as people, not as twice as many names."""
    if given and family:
        return f"{given.strip()} {family.strip()}"
    if raw.count(",") == 1:
        last, first = (part.strip() for part in raw.split(","))
        if last and first:
            return f"{first} {last}"
    return raw.strip()


def author_name(authorship: Authorship) -> str:
    return person_name(authorship.raw_name, authorship.given, authorship.family)


def work_summary(work: Work, *, authors: list[str] | None = None) -> dict[str, Any]:
    """The JSON shape of a work in listings (``authors``: names already loaded)."""
    return {
        "id": work.id,
        "title": work.title,
        "year": work.year,
        "type": work.type,
        "venue": work.source.name if work.source else None,
        "authors": authors if authors is not None else [author_name(a) for a in work.authorships],
    }


def numbered_affiliations(work: Work) -> tuple[list[str], dict[int, list[int]]]:
    """A work's affiliations as papers print them: each distinct one once, numbered in
    order of first appearance, and authorship id → its numbers (institutions where the
    source resolved them, else the raw strings)."""
    numbers: dict[str, int] = {}
    of_author: dict[int, list[int]] = {}
    for authorship in work.authorships:
        names = [i.name for i in authorship.institutions] or authorship.raw_affiliations or []
        of_author[authorship.id] = [numbers.setdefault(n, len(numbers) + 1) for n in names]
    return list(numbers), of_author


def work_detail(work: Work, topics: list[tuple[Topic, WorkTopic]] | None = None) -> dict[str, Any]:
    data = work_summary(work)
    data.update(
        abstract=work.abstract,
        publication_date=work.publication_date,
        language=work.language,
        volume=work.volume,
        issue=work.issue,
        pages=work.pages,
        url=work.url,
        cited_by_count=work.cited_by_count,
        cited_by_source=work.cited_by_source,
        cited_by_date=work.cited_by_date,
        identifiers={i.scheme: i.value for i in work.identifiers},
        authorships=[
            {
                "position": a.position,
                "raw_name": a.raw_name,
                "given": a.given,
                "family": a.family,
                "orcid": a.orcid,
                "upstream_author_id": a.upstream_author_id,
                "raw_affiliations": a.raw_affiliations or [],
                "institutions": [
                    {"name": i.name, "ror": i.ror, "country_code": i.country_code}
                    for i in a.institutions
                ],
            }
            for a in work.authorships
        ],
        topics=[
            {
                "name": t.name,
                "taxonomy": t.taxonomy,
                "external_id": t.external_id,
                "field": t.field,
                "score": link.score,
                "is_primary": link.is_primary,
            }
            for t, link in (topics or [])
        ],
    )
    return data
