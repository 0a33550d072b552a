"""Disambiguation pieces on hand-made data: names, pair constraints, clustering, metrics."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from peergraph.authors import disambiguation as d
from peergraph.authors.evaluation import b_cubed, pairwise
from peergraph.authors.names import block_key, family_key, given_tokens, tokens_compatible


@pytest.mark.parametrize(
    ("given", "family", "key"),
    [
        ("Alec", "Radford", "radford_a"),
        ("Radford M.", "Neal", "neal_r"),
        ("Laurens", "van der Maaten", "maaten_l"),
        ("A.", "Díaz de Ilarraza Sánchez", "diaz_a"),
        ("Yasin", "Abbasi-Yadkori", "abbasiyadkori_y"),
        (None, "Aristotle", "aristotle_"),
        ("Jörg", "Müller", "muller_j"),
    ],
)
def test_block_key(given, family, key):
    assert block_key(given, family) == key


def test_given_tokens_and_family_key():
    assert given_tokens("Radford M.") == ("radford", "m")
    assert given_tokens("J.-P.") == ("j", "p")
    assert given_tokens("C. S.") == ("c", "s")
    assert family_key("van der Maaten") == "maaten"


@pytest.mark.parametrize(
    ("a", "b", "ok"),
    [
        ("Alec", "A.", True),
        ("Alec", "Andrew", False),
        ("Robert L.", "Robert E.", False),
        ("Robert L.", "Robert", True),
        ("Chris", "Christopher", True),
        ("C. S.", "Chris", True),
        ("Xiao-Ming", "Xiaoming", True),
        ("Al", "Alec", False),  # a two-letter prefix is too weak
    ],
)
def test_tokens_compatible(a, b, ok):
    assert tokens_compatible(given_tokens(a), given_tokens(b)) is ok


def corpus(authors, works, *, texts=None, venues=None, years=None):
    """authors: (work row, given, family, orcid, upstream id, co-author key set)."""
    n = len(authors)
    keys = sorted({k for a in authors for k in a[5]})
    index = {k: i for i, k in enumerate(keys)}
    rows, cols = [], []
    for i, a in enumerate(authors):
        for k in a[5]:
            rows.append(i)
            cols.append(index[k])
    co = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, max(len(keys), 1))
    )
    text = sparse.csr_matrix(
        np.array(texts if texts is not None else np.eye(works), dtype=np.float32)
    )
    return d.Corpus(
        authorship_ids=np.arange(100, 100 + n),
        work_rows=np.array([a[0] for a in authors]),
        blocks=[block_key(a[1], a[2]) for a in authors],
        given=[given_tokens(a[1]) for a in authors],
        family_keys=[family_key(a[2]) for a in authors],
        orcids=[a[3] for a in authors],
        upstream_ids=[a[4] for a in authors],
        work_years=np.array(years if years is not None else [2020.0] * works),
        work_venues=np.array(venues if venues is not None else [-1] * works),
        text=text,
        coauthors=co,
        institutions=sparse.csr_matrix((n, 1), dtype=np.float32),
    )


def filler(count, start):
    """Other people, so the name statistics look like a real corpus."""
    return [(start + i, f"Person{i}", f"Family{i}", None, None, set()) for i in range(count)]


def test_same_orcid_must_link_and_different_orcids_cannot():
    authors = [
        (0, "Jane", "Doe", "0000-0002-1825-0097", None, set()),
        (1, "J.", "Doe", "0000-0002-1825-0097", None, set()),
        (2, "Jane", "Doe", "0000-0002-1694-233X", None, set()),
        *filler(20, 3),
    ]
    result = d.cluster(corpus(authors, 23))
    assert result.labels[0] == result.labels[1] != result.labels[2]
    assert result.method[0] == "orcid" and result.confidence[0] == 1.0


def test_two_authorships_of_one_work_are_two_people():
    authors = [(0, "Wei", "Wang", None, None, set()), (0, "Wei", "Wang", None, None, set())]
    result = d.cluster(corpus(authors + filler(10, 1), 11))
    assert result.labels[0] != result.labels[1]


def test_rare_name_merges_without_other_evidence_common_name_needs_it():
    texts = np.eye(40)
    authors = [
        (0, "Yoshua", "Bengio", None, None, set()),
        (1, "Yoshua", "Bengio", None, None, set()),
        # a crowded block: many different "Y. Liu" given names make "Yang Liu" common
        *[
            (2 + i, name, "Liu", None, None, set())
            for i, name in enumerate(
                ["Yang", "Yang", "Yi", "Ying", "Yu", "Yue", "Yun", "Yan", "Yong", "Yuan", "Yajun"]
            )
        ],
        *filler(20, 13),
    ]
    result = d.cluster(corpus(authors, 40, texts=texts))
    assert result.labels[0] == result.labels[1]  # Bengio: uncommon name
    assert result.labels[2] != result.labels[3]  # two Yang Lius with nothing in common


COMMON_GIVEN = (
    *("Yi", "Ying", "Yu", "Yue", "Yun", "Yan", "Yong"),
    *("Yuan", "Yajun", "Yiqun", "Yanan", "Yuxin", "Yutong", "Yifan"),
)


def test_shared_coauthor_merges_a_common_name():
    authors = [
        (0, "Yang", "Liu", None, None, {"qun liu"}),
        (1, "Yang", "Liu", None, None, {"qun liu", "shouxun lin"}),
        (2, "Yang", "Liu", None, None, {"mari ostendorf"}),
        *[(3 + i, name, "Liu", None, None, set()) for i, name in enumerate(COMMON_GIVEN)],
        *filler(200, 17),
    ]
    result = d.cluster(corpus(authors, 217))
    assert result.labels[0] == result.labels[1] != result.labels[2]
    assert result.evidence[1]["coauthors"] >= 1


def test_incompatible_given_names_never_merge_even_through_an_initial():
    authors = [
        (0, "Robert L.", "Mercer", None, None, {"x"}),
        (1, "R.", "Mercer", None, None, {"x", "y"}),
        (2, "Robert E.", "Mercer", None, None, {"y"}),
    ]
    result = d.cluster(corpus(authors, 3))
    assert result.labels[0] != result.labels[2]


def test_b_cubed_and_pairwise_by_hand():
    gold = {"a": 1, "b": 1, "c": 2, "d": 2}
    perfect = b_cubed(gold, gold)
    assert (perfect.precision, perfect.recall, perfect.f1) == (1.0, 1.0, 1.0)
    merged = {"a": 0, "b": 0, "c": 0, "d": 0}  # one cluster for all
    scores = b_cubed(merged, gold)
    assert scores.precision == pytest.approx(0.5) and scores.recall == 1.0
    assert scores.f1 == pytest.approx(2 / 3)
    split = {"a": 0, "b": 1, "c": 2, "d": 3}
    assert b_cubed(split, gold).recall == pytest.approx(0.5)
    pairs = pairwise(merged, gold)  # 6 predicted pairs, 2 true
    assert pairs.precision == pytest.approx(2 / 6) and pairs.recall == 1.0
    assert pairwise(split, gold).precision == 1.0 and pairwise(split, gold).recall == 0.0
