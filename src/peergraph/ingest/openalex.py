"""OpenAlex entities: works, authors, institutions, sources, topics and concepts.

Accepts the snapshot's JSON Lines, single-entity API JSON and API list responses; the
entity type of each record is told by its id (``W…`` work, ``A…`` author, …).
"""

from __future__ import annotations

from typing import Any

from peergraph.ingest.common import check_work, normalize_type, wrong_type
from peergraph.ingest.names import order_guessed, parse_name
from peergraph.ingest.normalize import (
    clean_text,
    domain_from_url,
    normalize_arxiv,
    normalize_doi,
    normalize_openalex_id,
    normalize_orcid,
    normalize_pmid,
    normalize_ror,
    parse_year,
)
from peergraph.ingest.records import (
    AuthorRecord,
    AuthorshipRecord,
    InstitutionRecord,
    Record,
    RecordError,
    SourceRecord,
    TopicRecord,
    WorkRecord,
    WorkTopicLink,
)

MAX_ABSTRACT_WORDS = 50_000
ENTITY_BY_PREFIX = {
    "W": "work",
    "A": "author",
    "I": "institution",
    "S": "source",
    "T": "topic",
    "C": "concept",
    "P": "publisher",
    "F": "funder",
}


def _as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def parse_openalex_record(obj: Any) -> Record | RecordError:
    """Dispatch one OpenAlex JSON object on its id's entity prefix."""
    if not isinstance(obj, dict):
        return wrong_type("record", "an object", obj)
    raw_id = obj.get("id")
    if not isinstance(raw_id, str):
        return RecordError("missing-id", "record has no OpenAlex id")
    openalex_id = normalize_openalex_id(raw_id)
    if openalex_id is None:
        if "/topics/" not in raw_id and "/keywords/" not in raw_id:
            return RecordError("invalid-id", f"not an OpenAlex id: {raw_id[:80]!r}")
        openalex_id = "T" + raw_id.rsplit("/", 1)[-1]
    entity = ENTITY_BY_PREFIX.get(openalex_id[0], "unknown")
    if entity == "work":
        if "authorships" not in obj and ("hint" in obj or "entity_type" in obj):
            return RecordError("not-a-full-record", f"{openalex_id} is an autocomplete stub")
        return parse_work(obj, openalex_id)
    if entity == "author":
        return parse_author(obj, openalex_id)
    if entity == "institution":
        return parse_institution(obj, openalex_id, full=True)
    if entity == "source":
        return parse_source(obj, openalex_id, full=True)
    if entity == "topic":
        return parse_topic(obj, openalex_id, full=True)
    if entity == "concept":
        return parse_concept(obj, openalex_id, full=True)
    return RecordError("unsupported-entity", f"OpenAlex {entity} records are not imported")


def rebuild_abstract(index: Any) -> str | RecordError | None:
    """Turn OpenAlex's ``abstract_inverted_index`` ({word: [positions]}) back into text."""
    if index is None:
        return None
    if not isinstance(index, dict):
        return wrong_type("abstract_inverted_index", "an object", index)
    slots: dict[int, str] = {}
    for word, positions in index.items():
        if not isinstance(positions, list):
            return wrong_type("abstract_inverted_index[word]", "a list", positions)
        for position in positions:
            if not isinstance(position, int) or isinstance(position, bool) or position < 0:
                return RecordError("wrong-type", "abstract position is not a non-negative integer")
            if position > MAX_ABSTRACT_WORDS:
                return RecordError("absurd-size", f"abstract word position {position:,}")
            slots[position] = word
    if not slots:
        return None
    return clean_text(" ".join(slots[i] for i in sorted(slots)))


def parse_work(obj: dict[str, Any], openalex_id: str) -> WorkRecord | RecordError:
    title = obj.get("title")
    if title is None:
        title = obj.get("display_name")
    if title is not None and not isinstance(title, str):
        return wrong_type("title", "a string", title)
    authorships_raw = obj.get("authorships") or []
    if not isinstance(authorships_raw, list):
        return wrong_type("authorships", "a list", authorships_raw)
    abstract = rebuild_abstract(obj.get("abstract_inverted_index"))
    if isinstance(abstract, RecordError):
        return abstract

    identifiers: dict[str, str] = {"openalex": openalex_id}
    ids = _as_dict(obj.get("ids"))
    if doi := normalize_doi(obj.get("doi")) or normalize_doi(ids.get("doi")):
        identifiers["doi"] = doi
    if pmid := normalize_pmid(ids.get("pmid")):
        identifiers["pmid"] = pmid
    pmcid = ids.get("pmcid")
    if isinstance(pmcid, str) and (tail := pmcid.rstrip("/").rsplit("/", 1)[-1]):
        identifiers["pmcid"] = tail.upper() if tail.upper().startswith("PMC") else f"PMC{tail}"
    if (mag := ids.get("mag")) is not None and str(mag).isdigit():
        identifiers["mag"] = str(mag)

    primary = _as_dict(obj.get("primary_location")) or None
    source = None
    url = None
    if primary:
        source = _source_stub(primary.get("source"))
        url = clean_text(primary.get("landing_page_url"))
    elif isinstance(obj.get("host_venue"), dict):  # pre-2023 schema
        venue = obj["host_venue"]
        source = _source_stub(venue)
        url = clean_text(venue.get("url"))
    for location in obj.get("locations") or []:
        if isinstance(location, dict) and (
            arxiv := normalize_arxiv(location.get("landing_page_url") or "")
        ):
            identifiers.setdefault("arxiv", arxiv)
    if url is None and "doi" in identifiers:
        url = f"https://doi.org/{identifiers['doi']}"

    authorships = []
    for entry in authorships_raw:
        if not isinstance(entry, dict):
            return wrong_type("authorships[]", "an object", entry)
        authorship = _authorship(entry)
        if authorship is not None:
            authorships.append(authorship)

    biblio = _as_dict(obj.get("biblio"))
    first, last = clean_text(biblio.get("first_page")), clean_text(biblio.get("last_page"))
    pages = f"{first}-{last}" if first and last and first != last else first

    year = parse_year(obj.get("publication_year")) or parse_year(obj.get("publication_date"))
    date = obj.get("publication_date") if isinstance(obj.get("publication_date"), str) else None
    record = WorkRecord(
        title=clean_text(title) or "",
        record_key=openalex_id,
        abstract=abstract,
        year=year,
        publication_date=date[:10] if date else None,
        type=_work_type(obj),
        language=(clean_text(obj.get("language")) or "")[:16] or None,
        source=source,
        volume=clean_text(biblio.get("volume")),
        issue=clean_text(biblio.get("issue")),
        pages=pages,
        url=url,
        identifiers=identifiers,
        authorships=authorships,
        topics=_work_topics(obj),
        references=[
            ("openalex", ref)
            for ref in (normalize_openalex_id(r, "W") for r in obj.get("referenced_works") or [])
            if ref
        ],
    )
    count = obj.get("cited_by_count")
    if isinstance(count, int) and not isinstance(count, bool) and 0 <= count < 10**9:
        record.cited_by_count = count
        updated = obj.get("updated_date")
        record.counts_date = (
            updated[:10] if isinstance(updated, str) and updated[:4].isdigit() else None
        )
    return check_work(record)


def _work_type(obj: dict[str, Any]) -> str | None:
    raw = obj.get("type")
    if raw == "article" and isinstance(obj.get("type_crossref"), str):
        raw = obj["type_crossref"]  # "article" alone hides proceedings papers
    return normalize_type(raw)


def _authorship(entry: dict[str, Any]) -> AuthorshipRecord | None:
    author = _as_dict(entry.get("author"))
    raw = clean_text(entry.get("raw_author_name")) or clean_text(author.get("display_name"))
    if not raw:
        return None
    given, family = parse_name(raw)
    affiliations = entry.get("raw_affiliation_strings")
    if not isinstance(affiliations, list):
        single = entry.get("raw_affiliation_string")
        affiliations = [single] if isinstance(single, str) else []
    institutions = [
        inst
        for inst in (
            parse_institution(i, normalize_openalex_id(i.get("id"), "I"), full=False)
            for i in entry.get("institutions") or []
            if isinstance(i, dict)
        )
        if isinstance(inst, InstitutionRecord)
    ]
    corresponding = entry.get("is_corresponding")
    return AuthorshipRecord(
        raw_name=raw,
        given=given,
        family=family,
        orcid=normalize_orcid(author.get("orcid")),
        upstream_author_id=normalize_openalex_id(author.get("id"), "A"),
        raw_affiliations=[a for a in (clean_text(x) for x in affiliations) if a],
        institutions=institutions,
        is_corresponding=corresponding if isinstance(corresponding, bool) else None,
        order_guessed=order_guessed(raw),
    )


def _work_topics(obj: dict[str, Any]) -> list[WorkTopicLink]:
    links: list[WorkTopicLink] = []
    primary = _as_dict(obj.get("primary_topic")) or None
    primary_id = normalize_topic_id(primary.get("id")) if primary else None
    topics: list[Any] = _as_list(obj.get("topics"))
    if not topics and primary:
        topics = [primary]
    seen: set[str] = set()
    for topic in topics:
        if not isinstance(topic, dict):
            continue
        record = parse_topic(topic, normalize_topic_id(topic.get("id")), full=False)
        if isinstance(record, TopicRecord) and record.external_id not in seen:
            seen.add(record.external_id)
            links.append(
                WorkTopicLink(record, _score(topic.get("score")), record.external_id == primary_id)
            )
    for concept in obj.get("concepts") or []:
        if not isinstance(concept, dict):
            continue
        record = parse_concept(concept, normalize_openalex_id(concept.get("id"), "C"), full=False)
        if isinstance(record, TopicRecord) and record.external_id not in seen:
            seen.add(record.external_id)
            links.append(WorkTopicLink(record, _score(concept.get("score"))))
    return links


def _score(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def normalize_topic_id(value: object) -> str | None:
    return normalize_openalex_id(value, "T")


def _display(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return clean_text(value.get("display_name")) if isinstance(value, dict) else None


def parse_topic(
    obj: dict[str, Any], topic_id: str | None, *, full: bool
) -> TopicRecord | RecordError:
    name = clean_text(obj.get("display_name")) or clean_text(obj.get("name"))
    if not topic_id or not name:
        return RecordError("missing-field", "topic needs an id and a display_name")
    return TopicRecord(
        taxonomy="openalex",
        external_id=topic_id,
        name=name[:300],
        subfield=_display(obj, "subfield"),
        field=_display(obj, "field"),
        domain=_display(obj, "domain"),
        description=clean_text(obj.get("description")),
        full=full,
    )


def parse_concept(
    obj: dict[str, Any], concept_id: str | None, *, full: bool
) -> TopicRecord | RecordError:
    name = clean_text(obj.get("display_name")) or clean_text(obj.get("name"))
    if not concept_id or not name:
        return RecordError("missing-field", "concept needs an id and a display_name")
    level = obj.get("level")
    return TopicRecord(
        taxonomy="openalex-concept",
        external_id=concept_id,
        name=name[:300],
        level=level if isinstance(level, int) and not isinstance(level, bool) else None,
        description=clean_text(obj.get("description")),
        full=full,
    )


def _source_stub(obj: object) -> SourceRecord | None:
    if not isinstance(obj, dict):
        return None
    result = parse_source(obj, normalize_openalex_id(obj.get("id"), "S"), full=False)
    return result if isinstance(result, SourceRecord) else None


def parse_source(
    obj: dict[str, Any], source_id: str | None, *, full: bool
) -> SourceRecord | RecordError:
    name = clean_text(obj.get("display_name"))
    if not name:
        return RecordError("missing-field", "source has no display_name")
    issns = obj.get("issn")
    publisher = clean_text(obj.get("host_organization_name")) or clean_text(obj.get("publisher"))
    return SourceRecord(
        name=name[:500],
        short_name=(clean_text(obj.get("abbreviated_title")) or "")[:100] or None,
        openalex_id=source_id,
        issn_l=(clean_text(obj.get("issn_l")) or "")[:16] or None,
        issns=[i for i in issns if isinstance(i, str)] if isinstance(issns, list) else None,
        type=(clean_text(obj.get("type")) or "")[:40] or None,
        publisher=publisher[:300] if publisher else None,
        homepage_url=clean_text(obj.get("homepage_url")),
        full=full,
    )


def parse_institution(
    obj: dict[str, Any], institution_id: str | None, *, full: bool
) -> InstitutionRecord | RecordError:
    name = clean_text(obj.get("display_name"))
    if not name:
        return RecordError("missing-field", "institution has no display_name")
    geo = _as_dict(obj.get("geo"))
    country = clean_text(obj.get("country_code")) or clean_text(geo.get("country_code"))
    homepage = clean_text(obj.get("homepage_url"))
    domain = domain_from_url(homepage)
    ror = normalize_ror(obj.get("ror")) or normalize_ror((obj.get("ids") or {}).get("ror"))
    return InstitutionRecord(
        name=name[:500],
        openalex_id=institution_id,
        ror=ror,
        country_code=country.upper()[:2] if country else None,
        type=(clean_text(obj.get("type")) or "")[:40] or None,
        domains=[domain] if domain else None,
        homepage_url=homepage,
        full=full,
    )


def parse_author(obj: dict[str, Any], author_id: str) -> AuthorRecord | RecordError:
    name = clean_text(obj.get("display_name"))
    if not name:
        return RecordError("missing-field", "author has no display_name")
    alternatives = obj.get("display_name_alternatives")
    institutions: list[InstitutionRecord] = []
    raw_last = obj.get("last_known_institutions")
    if not isinstance(raw_last, list):
        raw_last = [obj.get("last_known_institution")] if obj.get("last_known_institution") else []
    for affiliation in obj.get("affiliations") or []:
        if isinstance(affiliation, dict) and isinstance(affiliation.get("institution"), dict):
            raw_last.append(affiliation["institution"])
    seen: set[str] = set()
    for inst in raw_last:
        if not isinstance(inst, dict):
            continue
        record = parse_institution(inst, normalize_openalex_id(inst.get("id"), "I"), full=False)
        if (
            isinstance(record, InstitutionRecord)
            and record.openalex_id
            and record.openalex_id not in seen
        ):
            seen.add(record.openalex_id)
            institutions.append(record)
    works_count = obj.get("works_count")
    return AuthorRecord(
        openalex_id=author_id,
        display_name=name[:500],
        orcid=normalize_orcid(obj.get("orcid")),
        name_alternatives=[a for a in (clean_text(x) for x in alternatives or []) if a][:50]
        if isinstance(alternatives, list)
        else [],
        institution_ids=[i.openalex_id for i in institutions if i.openalex_id],
        works_count=works_count
        if isinstance(works_count, int) and 0 <= works_count < 2**31
        else None,
        institutions=institutions,
    )
