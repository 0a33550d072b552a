"""The profile figures' rules (profiles/figures.py, authors/services.record_values): the
store and the Spark pipeline call them with rows in different orders, so no figure may
depend on that order."""

from __future__ import annotations

import itertools
import random

import numpy as np

from peergraph.authors.services import record_values
from peergraph.profiles import figures
from peergraph.profiles.figures import InstitutionLink, TopicLink


def test_collaboration_shares_spread_a_work_over_its_coauthors():
    assert figures.collaboration_shares([3, 1, 2]) == [(1, 2, 0.5), (1, 3, 0.5), (2, 3, 0.5)]
    # one person twice on a paper is one record: no pair with itself, shares by authors
    assert figures.collaboration_shares([1, 1, 2]) == [(1, 2, 0.5)]
    assert figures.collaboration_shares([1]) == []
    assert figures.collaboration_shares(list(range(101))) == []


def test_strength_does_not_depend_on_the_order_of_works():
    shares = [1 / 3, 1 / 7, 0.1, 1 / 11, 1 / 13] * 7
    results = set()
    for seed in range(20):
        random.Random(seed).shuffle(shares)
        results.add(figures.strength(shares))
        results.add(round(sum(shares), 10))  # the plain sum's last bits move
    assert figures.strength(shares) in results
    assert len({figures.strength(random.sample(shares, len(shares))) for _ in range(20)}) == 1


def link(work: int, topic: str, score: float | None, taxonomy: str = "openalex") -> TopicLink:
    return TopicLink(work, topic, score, taxonomy, topic.title(), topic)


def test_record_topics_weigh_sources_and_inferred_topics_and_break_ties_by_name():
    links = [
        link(1, "graphs", 0.9),
        link(1, "k1", None, "inferred"),  # the work has source topics: weight 0.3
        link(2, "k1", None, "inferred"),  # it has none: weight 1
        link(4, "zebra", None),  # no score: 1
        link(3, "apple", 1.0),
    ]
    ranked = figures.record_topics(links)
    assert [(t.topic, t.weight, t.works_count) for t in ranked] == [
        ("k1", 1.3, 2),
        ("apple", 1.0, 1),
        ("zebra", 1.0, 1),
        ("graphs", 0.9, 1),
    ]
    for order in itertools.permutations(links):
        assert figures.record_topics(order) == ranked


def test_record_topics_keep_the_ten_heaviest():
    links = [link(w, f"t{w:02}", w / 100) for w in range(1, 16)]
    assert [t.topic for t in figures.record_topics(links)] == [f"t{w:02}" for w in range(15, 5, -1)]


def test_latest_affiliations_take_the_newest_year_and_ignore_row_order():
    rows = [
        InstitutionLink(2020, 5, "b", "Beta University", None, "DE"),
        InstitutionLink(2021, 7, "a", "Alpha Institute", "01abc", "FR"),
        InstitutionLink(2021, 9, "c", "Gamma Lab", None, None),
        InstitutionLink(2021, 9, "a", "Alpha Institute", "01abc", "FR"),
    ]
    expected = [
        {"id": "a", "name": "Alpha Institute", "ror": "01abc", "country_code": "FR", "year": 2021},
        {"id": "c", "name": "Gamma Lab", "ror": None, "country_code": None, "year": 2021},
    ]
    for order in itertools.permutations(rows):
        assert figures.latest_affiliations(order, []) == expected
    raw = [(2019, 3, 30, ["Old place"]), (2022, 4, 41, []), (2022, 4, 40, ["New place", "B", "C"])]
    assert figures.latest_affiliations([], raw) == [
        {"name": "New place", "ror": None, "country_code": None, "year": 2022},
        {"name": "B", "ror": None, "country_code": None, "year": 2022},
    ]
    assert figures.latest_affiliations([], []) is None


def test_a_record_row_does_not_depend_on_its_authorships_order():
    names = ["J. Smith", "Jane Smith", "Smith, Jane", "Jane Smith", "Smith, Jane"]
    orcids = [None, "0000-0002-1825-0097", None, None, None]
    upstream = ["A2", None, "A1", None, None]
    rows = list(zip(names, orcids, upstream, strict=True))
    seen = []
    for order in itertools.permutations(rows):
        values = record_values(
            [r[0] for r in order],
            [r[1] for r in order],
            [r[2] for r in order],
            {1: 2019.0, 2: np.nan},
            np.full(len(order), 0.9, dtype=np.float32),
            "smith_j",
        )
        seen.append(values)
    assert all(v == seen[0] for v in seen)
    assert seen[0]["display_name"] == "Smith, Jane"  # two each; the longer spelling
    assert seen[0]["name_variants"] == ["Jane Smith", "Smith, Jane", "J. Smith"]
    assert seen[0]["upstream_author_ids"] == ["A1", "A2"]
    assert (seen[0]["first_year"], seen[0]["works_count"]) == (2019, 2)


def test_the_snapshot_scores_imported_evidence():
    facts = figures.RecordFacts(
        orcid="0000-0002-1825-0097",
        upstream_ids=[],
        confidence=0.9,
        works=4,
        works_with_pid=2,
        top_topics=["Graph learning · spectral", "Databases", "Graph learning"],
        topics_count=3,
        close_collaborators=1,
        affiliations=None,
    )
    items, snapshot = figures.snapshot(facts)
    assert snapshot["verification_level"] == "L1"
    assert snapshot["description"] == "Works on graph learning and databases"
    assert snapshot["trust_score"] == round(sum(i.points for i in items))
    assert {i.component for i in items} == {"identity", "integrity", "footprint"}
