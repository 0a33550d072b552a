"""The pipeline's pure parts, without Spark: reading order, the nodes that group records,
the de-duplication rule run over one group, and master parsing."""

from __future__ import annotations

import pickle
import zlib

from peergraph.ingest.dedupe import WorkMatcher, merged_authorships
from peergraph.ingest.records import (
    AuthorshipRecord,
    InstitutionRecord,
    SourceRecord,
    WorkRecord,
)
from peergraph.pipeline import entities
from peergraph.pipeline.authors import (
    authorship_id,
    bucket_of,
    bucketed,
    pack,
    unpack,
    with_counts,
    work_doc,
)
from peergraph.pipeline.session import local_cores
from peergraph.pipeline.stages import WorkKeys, match_group, order, position


def work(g: int, title: str = "A title long enough to be a key", **ids: str) -> WorkKeys:
    record = WorkRecord(
        title=title, year=2020, identifiers=ids, authorships=[AuthorshipRecord("X Li", "X", "Li")]
    )
    return WorkKeys.of(g, record)


def test_reading_order_round_trips_and_sorts_files_first():
    assert position(order(3, 17)) == (3, 17)
    assert order(1, 4_000_000) < order(2, 1)


def test_nodes_are_the_strong_identifiers_and_the_key():
    keys = work(1, doi="10.1/a", mag="123", arxiv="2101.00001")
    assert keys.nodes() == ["doi:10.1/a", "arxiv:2101.00001", f"key:{keys.key}"]
    untitled = WorkKeys.of(2, WorkRecord(title="Preface"))
    assert untitled.nodes() == []  # no year: no key, so it is never compared


def test_a_group_follows_reading_order_not_arrival_order():
    a = work(order(1, 1), doi="10.1/a", arxiv="2101.00001")
    b = work(order(1, 2), doi="10.1/b")
    c = work(order(2, 1), arxiv="2101.00002")  # conflicts with a (arXiv), not with b
    got = sorted(match_group([c, b, a]))
    assert got == [(a.g, a.g, True), (b.g, b.g, True), (c.g, b.g, False)]


def test_a_work_conflicts_on_the_identifiers_it_claimed_first():
    matcher = WorkMatcher()
    slot, claimed = matcher.add({"doi": "10.1/a"}, "k")
    assert claimed == [("doi", "10.1/a")]
    # a copy that brings a second DOI: it is not claimed, the work keeps its first
    assert matcher.merge(slot, {"doi": "10.1/b", "pmid": "9"}) == [
        ("doi", "10.1/b"),
        ("pmid", "9"),
    ]
    assert matcher.identifiers[slot] == {"doi": "10.1/a", "pmid": "9"}
    assert matcher.match({"doi": "10.1/b"}, None) == slot  # found by either DOI
    assert matcher.match({"doi": "10.1/c"}, "k") is None  # same key, another DOI


def test_local_masters():
    assert local_cores("local[2]") == 2
    assert local_cores("local") == 1
    assert local_cores("local[4, 3]") == 4
    assert local_cores("local[*]") is None
    assert local_cores("spark://host:7077") is None


def test_a_work_doc_crosses_shuffles_as_plain_tuples():
    record = WorkRecord(
        title="A paper",
        year=2020,
        source=SourceRecord("Journal of Tests", issn_l="1234-5678"),
        authorships=[
            AuthorshipRecord("Wei Zhang", "Wei", "Zhang", institutions=[InstitutionRecord("U")]),
            AuthorshipRecord("Y Li"),
        ],
    )
    records = [(order(1, 1), record)]
    merged = merged_authorships([record])
    resolved = entities.resolve(entities.work_occurrences(records, merged))
    doc = work_doc(7, records, {"year": 2020, "title": "A paper", "abstract": None}, resolved)
    assert doc.row[2] == 1 and doc.row[5] == "Journal of Tests"  # venue id and name
    assert doc.institutions == [(authorship_id(7, 0), 1)]
    packed = pack(doc)
    assert unpack(packed) == doc
    assert pickle.loads(pickle.dumps(packed)) == packed  # nothing but builtins inside
    counted = with_counts(packed, [(a.id, (1, 2, 3, 4, 5, 6)) for a in doc.authorships])
    assert [a.counts for a in unpack(counted).authorships] == [(1, 2, 3, 4, 5, 6)] * 2
    assert [a.id for a in doc.authorships] == [authorship_id(7, 0), authorship_id(7, 1)]
    # one bucket per family scope of its authors, the same in every process
    assert sorted(scope for _, (scope, _) in bucketed(packed, 8)) == sorted(
        {a.scope for a in doc.authorships}
    )
    assert bucket_of("zhang", 8) == zlib.crc32(b"zhang") % 8


def occurrence(g: int, item: SourceRecord | InstitutionRecord) -> entities.Occurrence:
    return entities.entity_occurrences(g, item)[0]


def test_venues_and_institutions_resolve_by_the_writers_rule():
    nar = SourceRecord("Nucleic Acids Research", openalex_id="S1", issn_l="0305-1048")
    stub = SourceRecord("Nucleic acids research")  # name only: the oldest venue of its name
    by_issn = SourceRecord("NAR", issn_l="0305-1048")  # found by its ISSN-L
    other = SourceRecord("Nucleic Acids Research", openalex_id="S2")  # ids: never by name
    inst = InstitutionRecord("Stony Brook University", openalex_id="I1", ror="05qghxh33")
    same_ror = InstitutionRecord("SUNY Stony Brook", openalex_id="I9", ror="05qghxh33")
    named = InstitutionRecord("Somewhere")
    found = [
        occurrence(order(1, 1), nar),
        occurrence(order(1, 2), stub),
        occurrence(order(2, 1), by_issn),
        occurrence(order(2, 2), other),
        occurrence(order(1, 3), inst),
        occurrence(order(2, 3), same_ror),
        occurrence(order(2, 4), named),
        occurrence(order(2, 5), named),
    ]
    for arrival in (found, found[::-1]):  # reading order decides, not arrival
        resolved = entities.resolve(arrival)
        assert [
            resolved.source_id(g, r) for g, r in ((order(1, 2), stub), (order(2, 1), by_issn))
        ] == [1, 1]
        assert resolved.source_id(order(2, 2), other) == 2
        assert resolved.institution_id(order(2, 3), same_ror) == 1
        assert resolved.institution_id(order(2, 4), named) == 2
        assert [r["name"] for r in resolved.sources] == ["Nucleic Acids Research"] * 2
        assert resolved.institutions[0]["openalex_id"] == "I1"  # a stub fills, never overwrites
