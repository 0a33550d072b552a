"""Ranking metrics against hand-computed cases, and query building."""

from __future__ import annotations

import math

import pytest

from peergraph.search.embeddings import rrf
from peergraph.search.keyword import fts_query, query_terms
from peergraph.search.lexical import Tokenizer
from peergraph.search.metrics import mrr_at_k, ndcg_at_k, recall_at_k
from peergraph.search.services import snippet


def test_ndcg_by_hand():
    qrels = {"a": 1, "b": 1}
    assert ndcg_at_k(["a", "b", "x"], qrels) == pytest.approx(1.0)
    # relevant at ranks 2 and 3: (1/log2 3 + 1/log2 4) / (1 + 1/log2 3)
    expected = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(["x", "a", "b"], qrels) == pytest.approx(expected)
    assert ndcg_at_k(["x", "y"], qrels) == 0.0
    # graded gains: the ideal puts the gain-2 document first
    graded = {"a": 2, "b": 1}
    assert ndcg_at_k(["b", "a"], graded) == pytest.approx(
        (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    )
    assert ndcg_at_k(["a"], {"a": 1}, k=10) == 1.0
    assert ndcg_at_k(["x"] * 10 + ["a"], {"a": 1}, k=10) == 0.0  # past the cut-off


def test_recall_and_mrr_by_hand():
    qrels = {"a": 1, "b": 1, "c": 1, "d": 0}
    assert recall_at_k(["a", "x", "c"], qrels, 100) == pytest.approx(2 / 3)
    assert recall_at_k(["a", "x", "c"], qrels, 1) == pytest.approx(1 / 3)
    assert mrr_at_k(["x", "d", "b"], qrels, 10) == pytest.approx(1 / 3)  # d is judged 0
    assert mrr_at_k(["x", "y"], qrels, 10) == 0.0
    assert recall_at_k(["a"], {}, 10) == 0.0


def test_query_building_never_passes_syntax_through():
    assert query_terms("The effects of BERT on the NEAR operator?") == [
        "effects",
        "bert",
        "near",
        "operator",
    ]
    assert fts_query('title:x OR "y" AND z*') == '"title" OR "x" OR "y" OR "z"'
    assert fts_query("the of and") is None
    assert fts_query("🙂 ?!") is None
    assert len(query_terms(" ".join(f"w{i}" for i in range(500)))) == 64


def test_snippet_escapes_html_marks_stems_and_picks_the_densest_window():
    tokenizer = Tokenizer()
    stems = {tokenizer.word(w) for w in ("matching", "networks")}
    assert (
        str(snippet("a <b> Matched & more", stems, tokenizer))
        == "a &lt;b&gt; <mark>Matched</mark> &amp; more"
    )
    text = " ".join(["filler"] * 30 + ["network", "x", "matches", "network"] + ["tail"] * 30)
    marked = str(snippet(text, stems, tokenizer, words=10))
    assert marked.startswith("… ") and marked.endswith(" …")
    assert marked.count("<mark>") == 3 and len(marked.split()) == 12
    assert snippet("nothing here", stems, tokenizer) is None


def test_snippet_words_are_the_index_tokens_in_ascii_and_in_any_script():
    """ASCII text takes a faster path than the regex; both split words where FTS5 does
    (letters and digits only, "_" separates) and mark the same words."""
    tokenizer = Tokenizer()
    stems = {tokenizer.word(w) for w in ("naive", "bayes", "networks")}
    ascii_text = "Naive_Bayes (networks), x2!"
    assert str(snippet(ascii_text, stems, tokenizer)) == (
        "<mark>Naive</mark>_<mark>Bayes</mark> (<mark>networks</mark>), x2!"
    )
    accented = "Naïve_Bayes (networks), x²!"
    assert str(snippet(accented, stems, tokenizer)) == (
        "<mark>Naïve</mark>_<mark>Bayes</mark> (<mark>networks</mark>), x²!"
    )
    dotted = "İstanbul NETWORKS"  # lower-casing "İ" makes two characters
    assert str(snippet(dotted, stems, tokenizer)) == "İstanbul <mark>NETWORKS</mark>"


def test_reciprocal_rank_fusion_by_hand():
    # a: 1/61 + 1/62; b: 1/62 + 1/61; c: 1/63; d: 1/63 — ties broken by id
    assert rrf([["a", "b", "c"], ["b", "a", "d"]]) == ["a", "b", "c", "d"]
    assert rrf([["a", "b"], ["b"]]) == ["b", "a"]
    assert rrf([["a"], ["b"]], weights=[1.0, 2.0]) == ["b", "a"]
    assert rrf([]) == []


def test_zscore_fusion_by_hand():
    from peergraph.search.embeddings import zscore_fusion

    lexical = [("a", 10.0), ("b", 8.0), ("c", 0.0)]  # z: a 1.07, b 0.27, c -1.34
    dense = [("c", 0.9), ("b", 0.8), ("d", 0.1)]  # z: c 0.86, b 0.54, d -1.40
    # b: .27 + .54 = .81; a: 1.07 + (-1.40) = -.33; c: -1.34 + .86 = -.48; d: -1.34 - 1.40
    assert zscore_fusion([lexical, dense]) == ["b", "a", "c", "d"]
    assert zscore_fusion([lexical, []]) == ["a", "b", "c"]
    assert zscore_fusion([[("x", 1.0)], [("x", 5.0)]]) == ["x"]  # one candidate: sd 0 is safe


def test_the_stem_cache_stays_bounded():
    from peergraph.search.lexical import CACHED_WORDS, Tokenizer

    tokenizer = Tokenizer()
    for n in range(CACHED_WORDS + 10):
        tokenizer.word(f"walking{n}")
    assert 0 < len(tokenizer._cache) <= CACHED_WORDS
    assert tokenizer.word("walking") == "walk"


def test_acronyms_are_words_in_capitals_but_not_shouting():
    from peergraph.search.keyword import acronym, acronyms, exact_terms, query_acronyms

    assert acronym("CLIP") == "=clip" and acronym("NLP") == "=nlp"
    assert acronym("GANs") == "=gan" and acronym("BERTs") == "=bert"
    plain = ("Clip", "clip", "A", "3D", "X2", "s", "ResNet", "ABCDEFGHIJKLMN", "GATA3", "GPT4")
    for word in plain:
        assert acronym(word) is None, word
    assert acronyms(["CLIP", "for", "images"]) == ["=clip", None, None]
    # a title typed in capitals is shouting: none of its words is an acronym
    assert acronyms(["DEEP", "LEARNING", "FOR", "NLP"]) == [None] * 4
    assert exact_terms("DEEP RESIDUAL LEARNING FOR IMAGE RECOGNITION", 6) == []
    assert exact_terms("We train CLIP and two GANs on MS-COCO; clipping (gradient).", 11) == [
        "=clip",
        "=gan",
        "=ms",
        "=coco",
    ]
    assert exact_terms("FOO_BAR", 2) == ["=foo", "=bar"]  # "_" separates, as in the index
    # the query's acronyms, keyed by the query terms (lower case, stop words gone)
    assert query_acronyms("CLIP for zero-shot transfer") == {"clip": "=clip"}
    assert query_acronyms("the GANs of NLP") == {"gans": "=gan", "nlp": "=nlp"}
    assert query_acronyms("DEEP LEARNING FOR NLP") == {}
    assert query_acronyms("clip") == {}


def test_snippet_marks_an_acronym_as_written_only():
    text = "Gradient clipping helps. CLIP learns from captions; Clip art is not CLIP."
    marked = str(snippet(text, {"=clip"}, Tokenizer()))
    assert marked.count("<mark>") == 2 and "<mark>CLIP</mark> learns" in marked
    assert "<mark>clipping" not in marked and "<mark>Clip</mark>" not in marked
    assert snippet("gradient clipping only", {"=clip"}, Tokenizer()) is None
