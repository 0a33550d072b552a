"""Building and reading author records.

``load_corpus`` reads authorships (all, or the works of some blocks) into the arrays
disambiguation needs; ``write_records`` writes the clusters as records and links, keeping
record ids stable: a verified claim's record keeps its id, then each new cluster takes
the id of the old record it overlaps most (greedy, largest overlap first); an old id that
finds no cluster is retired with a redirect to where most of its authorships went, and
what people own on it moves along (authors/ownership.py). profiles/services.py runs a
rebuild, full or incremental, in one transaction.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import sparse
from sqlalchemy import (
    Connection,
    Row,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from peergraph.authors import disambiguation, ownership
from peergraph.authors.features import (
    Corpus,
    NameCounts,
    coauthor_key,
    count_bin,
    hashed_words,
    name_bins,
    normalise_rows,
    scoped_hops,
)
from peergraph.authors.models import (
    AuthorRecord,
    AuthorshipLink,
    AuthorshipName,
    RecordRedirect,
)
from peergraph.authors.names import (
    block_key,
    family_key,
    family_scope,
    first_name,
    given_tokens,
    native_name,
    split_native,
)
from peergraph.authors.order import packaged as name_order
from peergraph.db.base import in_chunks, utcnow
from peergraph.ingest.names import order_guessed, parse_name
from peergraph.works.models import (
    Authorship,
    AuthorshipInstitution,
    Source,
    Topic,
    Work,
    WorkReference,
    WorkTopic,
)

MAX_AUTHORS_FOR_COAUTHORS = 50  # co-authors on bigger author lists say little (Newman)
INSERT_CHUNK = 20_000

records_t: Table = AuthorRecord.__table__  # type: ignore[assignment]
links_t: Table = AuthorshipLink.__table__  # type: ignore[assignment]
redirects_t: Table = RecordRedirect.__table__  # type: ignore[assignment]
names_table: Table = AuthorshipName.__table__  # type: ignore[assignment]

Progress = Callable[[str], None]
Steps = Callable[[int, int], None]  # (done, total) within the current phase


@dataclass
class LoadedCorpus:
    corpus: Corpus
    work_ids: np.ndarray  # work id per work row
    raw_names: list[str]
    positions: np.ndarray
    texts: list[str]
    counts: NameCounts

    def text_matrix(self) -> sparse.csr_matrix:
        """TF-IDF of every work's title + abstract (for inferred topics)."""
        return text_matrix(self.texts)

    def release(self) -> None:
        """Drop the vectors that clustering needed and writing records does not: on the
        whole shared corpus, several hundred MB that the rest of a rebuild can use."""
        empty = sparse.csr_matrix((0, 1), dtype=np.float32)
        corpus = self.corpus
        corpus.titles = corpus.venue_words = corpus.topics = corpus.references = empty
        corpus.coauthors = corpus.coauthor_hops = corpus.institutions = empty
        corpus.affiliations = empty
        corpus.__dict__.pop("coauthor_sets", None)  # a cached_property of the co-authors


@dataclass
class CorpusRows:
    """What disambiguation reads, as plain rows: from the store (``read_rows``) or from a
    Spark task (pipeline/). Each is an iterable consumed once, in this order.

    - ``works``: (work id, year, venue key, title, abstract, venue name), by work id;
    - ``authorships``: (authorship id, work id, position, raw name, given, family, ORCID,
      upstream id, raw affiliations, order guessed), by authorship id;
    - ``institutions``: (authorship id, institution key);
    - ``topics``: (work id, topic key, score), source-given topics only;
    - ``references``: (work id, scheme, value).

    Venue, institution and topic keys only need to tell those apart (store ids, or any
    other key)."""

    works: Iterable[tuple[Any, ...]]
    authorships: Iterable[tuple[Any, ...]]
    institutions: Iterable[tuple[Any, ...]]
    topics: Iterable[tuple[Any, ...]]
    references: Iterable[tuple[Any, ...]]


Counting = Callable[[Sequence[tuple[str, ...]], list[str], list[str]], NameCounts]


def read_rows(conn: Connection, scope: Table | None = None) -> CorpusRows:
    """The store's rows for ``build_corpus``: every work, or only those in the temporary
    table ``scope`` (``work_scope``). Streamed: nothing is read before it is needed."""
    works = (
        select(Work.id, Work.year, Work.source_id, Work.title, Work.abstract, Source.name)
        .outerjoin(Source, Source.id == Work.source_id)
        .order_by(Work.id)
    )
    authorships = select(
        Authorship.id,
        Authorship.work_id,
        Authorship.position,
        Authorship.raw_name,
        Authorship.given,
        Authorship.family,
        Authorship.orcid,
        Authorship.upstream_author_id,
        Authorship.raw_affiliations,
        Authorship.order_guessed,
    ).order_by(Authorship.id)
    institution_links = select(
        AuthorshipInstitution.authorship_id, AuthorshipInstitution.institution_id
    )
    work_topics = (
        select(WorkTopic.work_id, WorkTopic.topic_id, WorkTopic.score)
        .join(Topic, Topic.id == WorkTopic.topic_id)
        .where(Topic.taxonomy != "inferred")
    )
    references_of = select(
        WorkReference.citing_work_id, WorkReference.target_scheme, WorkReference.target_value
    )
    if scope is not None:
        in_scope = select(scope.c.id)
        works = works.where(Work.id.in_(in_scope))
        authorships = authorships.where(Authorship.work_id.in_(in_scope))
        institution_links = institution_links.join(
            Authorship, Authorship.id == AuthorshipInstitution.authorship_id
        ).where(Authorship.work_id.in_(in_scope))
        work_topics = work_topics.where(WorkTopic.work_id.in_(in_scope))
        references_of = references_of.where(WorkReference.citing_work_id.in_(in_scope))

    def streamed(query: Any) -> Iterator[tuple[Any, ...]]:
        yield from (tuple(row) for row in conn.execute(query))

    return CorpusRows(
        works=(
            (work_id, year, source_id, title, abstract, venue or "")
            for work_id, year, source_id, title, abstract, venue in streamed(works)
        ),
        authorships=streamed(authorships),
        institutions=streamed(institution_links),
        topics=streamed(work_topics),
        references=streamed(references_of),
    )


def load_corpus(conn: Connection, scope: Table | None = None) -> LoadedCorpus:
    """Read works and authorships into the arrays disambiguation needs: all of them, or
    only the works listed in the temporary table ``scope`` (``work_scope``). Name counts
    are store-wide either way: counted here for the whole store, or read from
    ``authorship_names`` for a scope."""
    rows = read_rows(conn, scope)
    if scope is None:
        return build_corpus(rows)
    return build_corpus(
        rows, lambda given, families, keys: store_counts(conn, given, families, keys)
    )


def build_corpus(source: CorpusRows, counting: Counting | None = None) -> LoadedCorpus:
    """The arrays disambiguation needs, from plain rows. ``counting`` gives the store-wide
    name counts for the names in ``source``; without it they are counted over ``source``,
    which is right when ``source`` is the whole store."""
    work_rows: dict[int, int] = {}
    years: list[float] = []
    venues: list[int] = []
    texts: list[str] = []
    work_ids: list[int] = []
    venue_names: list[str] = []
    venue_codes: dict[Any, int] = {}
    for work_id, year, venue_key, title, abstract, venue in source.works:
        venue_names.append(venue or "")
        work_rows[work_id] = len(work_ids)
        work_ids.append(work_id)
        years.append(float(year) if year is not None else np.nan)
        venues.append(
            -1 if venue_key is None else venue_codes.setdefault(venue_key, len(venue_codes))
        )
        texts.append(f"{title}. {abstract or ''}")
    n_works = len(work_ids)

    ids: list[int] = []
    rows: list[int] = []
    positions: list[int] = []
    given: list[tuple[str, ...]] = []
    families: list[str] = []
    blocks: list[str] = []
    native: list[str | None] = []
    orcids: list[str | None] = []
    upstream: list[str | None] = []
    raw_names: list[str] = []
    affiliations: list[str] = []
    # one parse per distinct name: names repeat (prolific authors), and the repeats then
    # share their tuples and strings
    parsed: dict[tuple[str, str | None, str | None, bool], Any] = {}
    for a_id, work_id, position, raw, g, f, orcid, up, affs, guess in source.authorships:
        parts = parsed.get((raw, g, f, guess))
        if parts is None:
            parts = parsed[(raw, g, f, guess)] = name_keys(raw, g, f, guess)
        tokens, family, block, native_form = parts
        ids.append(a_id)
        rows.append(work_rows[work_id])
        positions.append(position)
        given.append(tokens)
        families.append(family)
        blocks.append(block)
        native.append(native_form)
        orcids.append(orcid)
        upstream.append(up)
        raw_names.append(raw)
        affiliations.append(" ".join(affs) if isinstance(affs, list) else "")

    n = len(ids)
    row_of = {a_id: i for i, a_id in enumerate(ids)}
    by_work: dict[int, list[int]] = defaultdict(list)
    for i, w in enumerate(rows):
        by_work[w].append(i)
    work_authors = np.zeros(n_works, dtype=np.int64)
    for w, members in by_work.items():
        work_authors[w] = len(members)
    keys = [coauthor_key(g, f, b) for g, f, b in zip(given, families, blocks, strict=True)]
    counts = (counting or NameCounts.of)(given, families, keys)
    # a full-name co-author counts 1, a family + initial one ½ (it may be someone else)
    coauthor_weights = [1.0 if g and len(g[0]) > 1 else 0.5 for g in given]
    key_index: dict[str, int] = {}
    co_rows: list[int] = []
    co_cols: list[int] = []
    co_vals: list[float] = []
    for members in by_work.values():
        if len(members) < 2 or len(members) > MAX_AUTHORS_FOR_COAUTHORS:
            continue
        member_keys = [key_index.setdefault(keys[m], len(key_index)) for m in members]
        for m in members:
            for other, key in zip(members, member_keys, strict=True):
                if other != m:
                    co_rows.append(m)
                    co_cols.append(key)
                    co_vals.append(coauthor_weights[other])
    coauthors = sparse.csr_matrix(
        (np.array(co_vals, dtype=np.float32), (co_rows, co_cols)),
        shape=(n, max(len(key_index), 1)),
    )
    coauthors.sum_duplicates()
    coauthors.data = np.minimum(coauthors.data, 1.0)  # a repeated co-author counts once
    scopes: dict[str, int] = {}
    hops = scoped_hops(
        coauthors,
        np.array([scopes.setdefault(family_scope(b), len(scopes)) for b in blocks], dtype=np.int64),
        [key_index.get(k, -1) for k in keys],
    )
    key_counts = np.zeros(max(len(key_index), 1), dtype=np.float64)
    for name, column in key_index.items():
        key_counts[column] = counts.coauthor[name]

    inst_index: dict[int, int] = {}
    in_rows: list[int] = []
    in_cols: list[int] = []
    for a_id, inst_id in source.institutions:
        if a_id in row_of:
            in_rows.append(row_of[a_id])
            in_cols.append(inst_index.setdefault(inst_id, len(inst_index)))
    institutions = sparse.csr_matrix(
        (np.ones(len(in_rows), dtype=np.float32), (in_rows, in_cols)),
        shape=(n, max(len(inst_index), 1)),
    )
    institutions.sum_duplicates()
    institutions.data = np.minimum(institutions.data, 1.0)

    topic_rows: list[int] = []
    topic_cols: list[int] = []
    topic_vals: list[float] = []
    topic_index: dict[int, int] = {}
    for work_id, topic_id, score in source.topics:
        if work_id in work_rows:
            topic_rows.append(work_rows[work_id])
            topic_cols.append(topic_index.setdefault(topic_id, len(topic_index)))
            topic_vals.append(float(score) if score else 1.0)
    topics = normalise_rows(
        sparse.csr_matrix(
            (np.array(topic_vals, dtype=np.float32), (topic_rows, topic_cols)),
            shape=(n_works, max(len(topic_index), 1)),
        )
    )
    ref_rows: list[int] = []
    ref_cols: list[int] = []
    ref_index: dict[tuple[str, str], int] = {}
    for work_id, scheme, value in source.references:
        if work_id in work_rows:
            ref_rows.append(work_rows[work_id])
            ref_cols.append(ref_index.setdefault((scheme, value), len(ref_index)))
    references = sparse.csr_matrix(
        (np.ones(len(ref_rows), dtype=np.float32), (ref_rows, ref_cols)),
        shape=(n_works, max(len(ref_index), 1)),
    )
    references.sum_duplicates()
    references.data = np.minimum(references.data, 1.0)

    first_bins, family_bins, full_bins, family_firsts, first_families = name_bins(
        given, families, counts
    )
    corpus = Corpus(
        authorship_ids=np.array(ids, dtype=np.int64),
        work_rows=np.array(rows, dtype=np.int64),
        blocks=blocks,
        given=given,
        family_keys=families,
        native=native,
        orcids=orcids,
        upstream_ids=upstream,
        first_bins=first_bins,
        family_bins=family_bins,
        full_bins=full_bins,
        family_firsts=family_firsts,
        first_families=first_families,
        work_years=np.array(years, dtype=np.float64),
        work_venues=np.array(venues, dtype=np.int64),
        work_authors=work_authors,
        titles=hashed_words(texts) if texts else sparse.csr_matrix((0, 1), dtype=np.float32),
        venue_words=hashed_words(venue_names, stop_words=False)
        if venue_names
        else sparse.csr_matrix((0, 1), dtype=np.float32),
        topics=topics,
        references=references,
        coauthors=coauthors,
        coauthor_bins=count_bin(key_counts),
        coauthor_hops=hops,
        institutions=institutions,
        affiliations=hashed_words(affiliations, stop_words=False)
        if affiliations
        else sparse.csr_matrix((0, 1), dtype=np.float32),
    )
    return LoadedCorpus(corpus, np.array(work_ids), raw_names, np.array(positions), texts, counts)


def name_keys(
    raw: str, given: str | None, family: str | None, guessed: bool = False
) -> tuple[tuple[str, ...], str, str, str | None]:
    """An authorship's given-name tokens, family key, block key and native-script name.

    ``guessed``: the importer guessed the order of the printed name; the name-order
    table then decides which word is the family name (authors/order.py)."""
    if given is None and family is None:
        given, family = parse_name(raw)
        guessed = order_guessed(raw)
    if guessed:
        given, family = name_order().reading(given, family)
    given, family = split_native(given, family)
    return (
        given_tokens(given),
        family_key(family),
        block_key(given, family),
        native_name(given, family),
    )


def store_counts(
    conn: Connection, given: Sequence[tuple[str, ...]], families: list[str], keys: list[str]
) -> NameCounts:
    """``NameCounts`` over the whole store (``authorship_names``), for these names only:
    equal, for them, to counting every authorship as a full load does."""
    names_t = names_table
    firsts = {first_name(g) for g in given} - {""}
    counts = NameCounts(Counter(), Counter(), Counter(), Counter(), Counter(), Counter())
    for chunk in in_chunks(firsts):
        for first, total, families_count in conn.execute(
            select(
                names_t.c.first_name,
                func.count(),
                func.count(names_t.c.family_key.distinct()),
            )
            .where(names_t.c.first_name.in_(chunk))
            .group_by(names_t.c.first_name)
        ):
            counts.first[first] = total
            counts.first_families[first] = families_count
    for chunk in in_chunks(set(families)):
        for family, first, total in conn.execute(
            select(names_t.c.family_key, names_t.c.first_name, func.count())
            .where(names_t.c.family_key.in_(chunk))
            .group_by(names_t.c.family_key, names_t.c.first_name)
        ):
            counts.family[family] += total
            if first:
                counts.full[(first, family)] = total
                counts.family_firsts[family] += 1
    for chunk in in_chunks(set(keys)):
        for key, total in conn.execute(
            select(names_t.c.coauthor_key, func.count())
            .where(names_t.c.coauthor_key.in_(chunk))
            .group_by(names_t.c.coauthor_key)
        ):
            counts.coauthor[key] = total
    return counts


def text_matrix(texts: list[str]) -> sparse.csr_matrix:
    """TF-IDF of title + abstract, L2-normalised rows (cosine = dot product)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not texts:
        return sparse.csr_matrix((0, 1), dtype=np.float32)
    vectorizer = TfidfVectorizer(
        stop_words="english",
        min_df=2 if len(texts) > 50 else 1,
        max_df=0.5,
        sublinear_tf=True,
        dtype=np.float32,
        token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z0-9\-]+\b",
    )
    try:
        return vectorizer.fit_transform(texts).tocsr()
    except ValueError:  # every word filtered out: tiny corpora
        return sparse.csr_matrix((len(texts), 1), dtype=np.float32)


@dataclass
class Written:
    authorships: int  # authorships (re)linked
    records: int  # records written (kept or new)
    new_records: int
    retired: int
    touched: set[int]  # record ids written or retired: the profiles to recompute


def name_rows(loaded: LoadedCorpus) -> list[dict[str, Any]]:
    """``authorship_names`` rows for every authorship of a full load."""
    corpus = loaded.corpus
    work_ids = loaded.work_ids[corpus.work_rows]
    return [
        {
            "authorship_id": int(a),
            "work_id": int(w),
            "block_key": b,
            "family_scope": family_scope(b),
            "first_name": first_name(g),
            "family_key": f,
            "coauthor_key": coauthor_key(g, f, b),
        }
        for a, w, b, g, f in zip(
            corpus.authorship_ids.tolist(),
            work_ids.tolist(),
            corpus.blocks,
            corpus.given,
            corpus.family_keys,
            strict=True,
        )
    ]


def _display_name(counts: Counter[str]) -> str:
    """The most used spelling that spells the first name out (else the most used one);
    ties go to the longer, then the alphabetically first: never to the order the
    authorships came in, which differs between the store and the pipeline."""
    full = [n for n in counts if _spelt_out(n)]
    pool = full or list(counts)
    return min(pool, key=lambda n: (-counts[n], -len(n), n))


@lru_cache(maxsize=65_536)
def _spelt_out(name: str) -> bool:
    """Does ``name`` spell its first given name out (not an initial)?"""
    return bool(first_name(given_tokens(parse_name(name)[0])))


def record_values(
    names: list[str],
    orcids: Sequence[str | None],
    upstream: Sequence[str | None],
    works: dict[int, float],
    confidence: np.ndarray,
    block: str,
) -> dict[str, Any]:
    """An author record's row from its cluster's authorships, in authorship order: their
    names, ORCIDs, upstream ids and link confidences (float32, as ``cluster`` gives
    them), the year of each of its works (NaN when undated) and the block of its first
    authorship. The rule `rebuild` writes and the Spark pipeline computes; nothing in it
    depends on the order of the authorships but the mean's last bits."""
    years = [y for y in works.values() if not np.isnan(y)]
    counts = Counter(names)
    display = _display_name(counts)
    given, family = parse_name(display)
    found_orcids = sorted({o for o in orcids if o})
    found_upstream = sorted({u for u in upstream if u})
    return {
        "display_name": display[:300],
        "name_variants": sorted(counts, key=lambda n: (-counts[n], n))[:20],
        "sort_name": f"{family_key(family)} {' '.join(given_tokens(given))}".strip()[:300],
        "block_key": block[:200],
        "orcid": found_orcids[0] if found_orcids else None,
        "upstream_author_ids": found_upstream or None,
        "works_count": len(works),
        "first_year": int(min(years)) if years else None,
        "last_year": int(max(years)) if years else None,
        # two decimals, what pages show: a re-clustering that only nudges scores
        # leaves the record (and its profile) as it was
        "confidence": round(float(np.mean(confidence)), 2),
    }


def write_records(
    conn: Connection,
    loaded: LoadedCorpus,
    result: disambiguation.Result,
    claims: list[ownership.Claim],
    *,
    changed: set[int] | None = None,
) -> Written:
    """Write the clusters as records and links, keeping ids stable (module docstring).

    ``changed``: for an incremental rebuild, the works created or enriched since the last
    one. Then only the rows with a label (the re-clustered blocks) are written, the
    records and links of every other authorship stay as they are, and a record counts as
    touched (its profile recomputed) only when its authorships, its row or one of its
    works changed: re-clustering a block mostly gives back the records it had."""
    partial = changed is not None
    corpus = loaded.corpus
    members: dict[int, list[int]] = defaultdict(list)
    for i, label in enumerate(result.labels.tolist()):
        if label >= 0:
            members[label].append(i)
    written = [int(corpus.authorship_ids[r]) for rows in members.values() for r in rows]

    old_links: dict[int, int] = {}
    if partial:
        for start in range(0, len(written), INSERT_CHUNK):
            part = written[start : start + INSERT_CHUNK]
            old_links.update(
                conn.execute(
                    select(links_t.c.authorship_id, links_t.c.record_id).where(
                        links_t.c.authorship_id.in_(part)
                    )
                ).all()
            )
        old_ids = set(old_links.values())
    else:
        old_links = dict(conn.execute(select(links_t.c.authorship_id, links_t.c.record_id)).all())
        old_ids = {r for (r,) in conn.execute(select(records_t.c.id))}
    clustered = {label: corpus.authorship_ids[rows].tolist() for label, rows in members.items()}
    assigned, taken, claim_label = keep_ids(
        clustered,
        dict(zip(corpus.authorship_ids.tolist(), result.labels.tolist(), strict=True)),
        old_links,
        old_ids,
        claims,
    )

    unchanged: set[int] = set()
    stored: dict[int, Row[Any]] = {}
    if partial:
        if changed is None:
            raise ValueError("a partial write needs the changed blocks")
        unchanged = _unchanged_members(conn, loaded, members, assigned, old_links, changed)
        for some in in_chunks({assigned[label] for label in unchanged}):
            stored.update(
                (row.id, row)
                for row in conn.execute(select(records_t).where(records_t.c.id.in_(some)))
            )
    now = utcnow()
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    insert_labels: list[int] = []
    for label in sorted(members, key=lambda lab: min(corpus.authorship_ids[members[lab]])):
        rows = members[label]
        values = record_values(
            [loaded.raw_names[r] for r in rows],
            [corpus.orcids[r] for r in rows],
            [corpus.upstream_ids[r] for r in rows],
            {int(corpus.work_rows[r]): corpus.work_years[corpus.work_rows[r]] for r in rows},
            result.confidence[rows],
            corpus.blocks[rows[0]],
        )
        values["updated_at"] = now
        if label in assigned:
            if partial and label in unchanged and _same_row(stored.get(assigned[label]), values):
                continue
            updates.append({"record_id": assigned[label], **values})
        else:
            inserts.append({**values, "created_at": now})
            insert_labels.append(label)
    if updates:
        statement = (
            update(records_t)
            .where(records_t.c.id == bindparam("record_id"))
            .values({c: bindparam(c) for c in updates[0] if c != "record_id"})
        )
        for start in range(0, len(updates), INSERT_CHUNK):
            conn.execute(statement, updates[start : start + INSERT_CHUNK])
    fresh: list[int] = []
    for start in range(0, len(inserts), INSERT_CHUNK):
        chunk = inserts[start : start + INSERT_CHUNK]
        ids = (
            conn.execute(
                insert(records_t).returning(records_t.c.id, sort_by_parameter_order=True), chunk
            )
            .scalars()
            .all()
        )
        for label, record_id in zip(insert_labels[start : start + INSERT_CHUNK], ids, strict=True):
            assigned[label] = record_id
            fresh.append(record_id)

    retired = old_ids - taken
    retire(
        conn,
        retirements(
            clustered,
            assigned,
            old_links,
            retired,
        ),
        retired,
        taken,
        {c: assigned[label] for c, label in claim_label.items()},
        now,
    )

    if partial:
        for start in range(0, len(written), INSERT_CHUNK):
            part = written[start : start + INSERT_CHUNK]
            conn.execute(delete(links_t).where(links_t.c.authorship_id.in_(part)))
    else:
        conn.execute(delete(links_t))
    rows_out = []
    for label, rows in members.items():
        record_id = assigned[label]
        for r in rows:
            rows_out.append(
                {
                    "authorship_id": int(corpus.authorship_ids[r]),
                    "record_id": record_id,
                    "confidence": float(result.confidence[r]),
                    "method": result.method[r],
                    "evidence": result.evidence[r] or None,
                }
            )
    for start in range(0, len(rows_out), INSERT_CHUNK):
        conn.execute(insert(links_t), rows_out[start : start + INSERT_CHUNK])
    kept = {assigned[label] for label in unchanged} - {u["record_id"] for u in updates}
    return Written(
        len(written),
        len(members),
        len(fresh),
        len(retired),
        (set(assigned.values()) - kept) | retired,
    )


def keep_ids(
    members: Mapping[int, Sequence[int]],
    label_of: Mapping[int, int],
    old_links: Mapping[int, int],
    old_ids: set[int],
    claims: Sequence[ownership.Claim],
) -> tuple[dict[int, int], set[int], dict[int, int]]:
    """The id rule of a rebuild (and of a pipeline run merged into a store): which new
    cluster keeps which old record id.

    ``members``: cluster label → its authorship ids; ``label_of``: authorship id → its
    label (-1: not clustered this time); ``old_links``: authorship id → the record that
    held it; ``old_ids``: the records that may be kept. A verified claim's record goes to
    the cluster holding the claim's first authorship; then, largest overlap first (ties:
    the older record, then the smaller label), each cluster keeps the old record it
    shares most authorships with, one record per cluster and one cluster per record.
    Returns (label → kept record id, the kept ids, claim id → its cluster's label)."""
    assigned: dict[int, int] = {}
    taken: set[int] = set()
    claim_label: dict[int, int] = {}
    for claim in claims:
        found = [a for a in claim.authorships if a in label_of]
        if not found:
            continue
        label = claim_label[claim.id] = label_of[found[0]]
        if label not in assigned and claim.record_id in old_ids and claim.record_id not in taken:
            assigned[label] = claim.record_id
            taken.add(claim.record_id)
    overlaps: list[tuple[int, int, int]] = []
    for label, authorships in members.items():
        counts = Counter(old_links[a] for a in authorships if a in old_links)
        overlaps.extend((count, label, old) for old, count in counts.items())
    overlaps.sort(key=lambda t: (-t[0], t[2], t[1]))
    for _count, label, old in overlaps:
        if label not in assigned and old not in taken:
            assigned[label] = old
            taken.add(old)
    return assigned, taken, claim_label


def retirements(
    members: Mapping[int, Sequence[int]],
    assigned: Mapping[int, int],
    old_links: Mapping[int, int],
    retired: set[int],
) -> dict[int, tuple[int, str]]:
    """Where each retired record went: the record that took most of its authorships,
    "merged" when that is at least half of them, else "split" (none: it had none left)."""
    destination: dict[int, Counter[int]] = defaultdict(Counter)
    if retired:
        for label, authorships in members.items():
            for a in authorships:
                previous = old_links.get(a)
                if previous is not None and previous in retired:
                    destination[previous][assigned[label]] += 1
    went: dict[int, tuple[int, str]] = {}
    for old in sorted(retired):
        if destination[old]:
            (target, count), *_ = destination[old].most_common(1)
            half = count * 2 >= sum(destination[old].values())
            went[old] = (target, "merged" if half else "split")
    return went


def retire(
    conn: Connection,
    went: Mapping[int, tuple[int, str]],
    retired: set[int],
    taken: set[int],
    claim_destination: Mapping[int, int],
    now: datetime,
) -> None:
    """Retire records: what people own moves on (``ownership.move_owned``), each retired
    id redirects to where most of it went, the records go; a kept id redirects no more,
    and owners' chosen names are shown again."""
    ownership.move_owned(conn, went, claim_destination, now)
    if retired:
        for old, (target, reason) in sorted(went.items()):
            conn.execute(delete(redirects_t).where(redirects_t.c.old_id == old))
            conn.execute(
                insert(redirects_t).values(old_id=old, new_id=target, reason=reason, created_at=now)
            )
            conn.execute(
                update(redirects_t).where(redirects_t.c.new_id == old).values(new_id=target)
            )
        for ids in in_chunks(retired):
            conn.execute(delete(records_t).where(records_t.c.id.in_(ids)))
    # an id that is live again must not redirect
    for ids in in_chunks(taken):
        conn.execute(delete(redirects_t).where(redirects_t.c.old_id.in_(ids)))
    ownership.apply_chosen_names(conn)  # an owner's chosen name outlives the rebuild


def _unchanged_members(
    conn: Connection,
    loaded: LoadedCorpus,
    members: dict[int, list[int]],
    assigned: dict[int, int],
    old_links: dict[int, int],
    changed: set[int],
) -> set[int]:
    """The clusters that got back an old record with exactly its old authorships, none of
    them on a changed work."""
    corpus = loaded.corpus
    candidates: dict[int, int] = {}
    for label, rows in members.items():
        record_id = assigned.get(label)
        if record_id is None:
            continue
        ids = corpus.authorship_ids[rows].tolist()
        works = loaded.work_ids[corpus.work_rows[rows]].tolist()
        if all(old_links.get(a) == record_id for a in ids) and not changed.intersection(works):
            candidates[label] = record_id
    held: dict[int, int] = {}
    for chunk in in_chunks(set(candidates.values())):
        held.update(
            conn.execute(
                select(links_t.c.record_id, func.count())
                .where(links_t.c.record_id.in_(chunk))
                .group_by(links_t.c.record_id)
            ).all()
        )
    return {
        label
        for label, record_id in candidates.items()
        if held.get(record_id) == len(members[label])
    }


def _same_row(row: Row[Any] | None, values: dict[str, Any]) -> bool:
    """Does the stored record ``row`` already hold ``values`` (its timestamp aside)?"""
    if row is None:
        return False
    return all(getattr(row, k) == v for k, v in values.items() if k != "updated_at")
