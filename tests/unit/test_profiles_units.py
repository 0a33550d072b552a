"""Trust scoring, descriptions, topic labels and the works-per-year chart."""

from __future__ import annotations

import numpy as np
import pytest

from peergraph.profiles import trust
from peergraph.profiles.figures import describe
from peergraph.profiles.topics import label_clusters, title_phrases, topic_count
from peergraph.web.charts import works_per_year_svg


@pytest.mark.parametrize(
    ("score", "band"),
    [(0, "Emerging"), (24, "Emerging"), (25, "Developing"), (50, "Established"), (100, "Trusted")],
)
def test_bands(score, band):
    assert trust.band(score) == band


def test_ledger_components_are_capped_and_clamped():
    items = [
        trust.LedgerItem("footprint", "s", "m", 8.0, ""),
        trust.LedgerItem("footprint", "s", "m", 8.0, ""),  # capped at 10
        trust.LedgerItem("integrity", "s", "m", 5.0, ""),
        trust.LedgerItem("integrity", "dispute", "upheld", -9.0, ""),  # clamped at 0
        trust.LedgerItem("identity", "s", "m", 10.0, ""),
    ]
    total, components = trust.score_ledger(items)
    assert components["footprint"] == 10.0 and components["integrity"] == 0.0
    assert total == 20


def test_imported_evidence_is_identity_first():
    famous = trust.imported_evidence(
        orcid=None, upstream_ids=[], mean_confidence=1.0, works_with_pid=400, works=400
    )
    score, _ = trust.score_ledger(famous)
    assert score <= 24  # a famous but unverified author stays "Emerging"
    with_orcid = trust.imported_evidence(
        orcid="0000-0002-1825-0097", upstream_ids=[], mean_confidence=1.0, works_with_pid=0, works=1
    )
    assert trust.score_ledger(with_orcid)[0] == 20
    assert trust.verification_level("0000-0002-1825-0097", []) == "L1"
    assert trust.verification_level(None, []) == "L0"


def test_describe():
    assert describe([]) is None
    assert describe(["Reinforcement learning · offline"]) == "Works on reinforcement learning"
    assert (
        describe(["Transformers · attention", "GAN · images", "Speech · recognition"])
        == "Works on transformers, GAN and speech"
    )


def test_topic_labels_read_as_phrases():
    titles = [
        "Deep reinforcement learning for robots",
        "Offline reinforcement learning with value functions",
        "Reinforcement learning from human feedback",
        "Neural machine translation with attention",
        "Statistical machine translation of phrases",
        "Machine translation evaluation metrics",
    ]
    labels = label_clusters(titles, np.array([0, 0, 0, 1, 1, 1]), 2)
    assert labels[0].startswith("Reinforcement learning")
    assert labels[1].startswith("Machine translation")
    assert topic_count(145_000) == 120 and topic_count(100) == 8


def test_topic_labels_are_noun_phrases_found_in_the_titles_as_written():
    titles = [
        "Monte Carlo sampling for Bayesian inference",
        "Efficient Monte Carlo sampling in high dimensions",
        "Sequential Monte Carlo methods",
        "Markov chain Monte Carlo sampling revisited",
        "Hamiltonian Monte Carlo sampling",
        "Time series forecasting with deep networks",
        "Probabilistic Time Series Forecasting",  # title case: its capitals say nothing
        "Forecasting time series with transformers",
        "Deep time series forecasting models",
        "Improving Vision-Language Models with CLIP",
        "Vision-language models for captioning",
        "Scaling vision-language models",
    ]
    labels = label_clusters(titles, np.array([0] * 5 + [1] * 4 + [2] * 3), 3)
    # no "Sampling · monte carlo", no "Time series · series forecasting"
    assert labels == ["Monte Carlo sampling", "Time series forecasting", "Vision-language models"]
    for cluster, label in enumerate(labels):
        own = [
            t.lower()
            for t, c in zip(titles, [0] * 5 + [1] * 4 + [2] * 3, strict=True)
            if c == cluster
        ]
        assert any(label.lower() in t for t in own)
    phrases, sentence_case = title_phrases("Improving Deep Neural Machine Translation: a Study")
    assert "neural machine translation" in phrases and not sentence_case
    assert not {"improving deep", "deep", "deep neural", "study"} & phrases.keys()


def test_title_phrases_reach_four_words_and_skip_participles_and_foreign_function_words():
    phrases, _ = title_phrases("Adaptive Markov chain Monte Carlo for randomized trials")
    assert "markov chain monte carlo" in phrases and "randomized trials" in phrases
    assert "randomized" not in phrases  # a participle qualifies, it does not name
    phrases, _ = title_phrases("Estudio de la enseñanza de la física")
    assert not {"de la", "de", "la"} & phrases.keys() and "fisica" in phrases


def test_works_per_year_chart():
    svg = str(works_per_year_svg([(2018, 2), (2020, 5)]))
    assert svg.startswith("<svg") and '<title id="wpy-title">Works per year</title>' in svg
    assert svg.count("<rect") == 3  # 2018, 2019 (empty), 2020
    assert "2019: 0 works" in svg and "7 works from 2018 to 2020" in svg
    assert str(works_per_year_svg([])) == ""


def test_a_small_cluster_sharing_no_phrase_is_still_named_by_one_of_its_phrases():
    titles = [
        "Graph neural networks for molecules",
        "Graph neural networks for proteins",
        "Protein folding with language models",
        "Conformal prediction intervals",
    ]
    labels = label_clusters(titles, np.array([0, 0, 1, 1]), 2)
    assert labels[0] == "Graph neural networks"
    assert not labels[1].startswith("Miscellaneous")
    assert any(labels[1].lower() in t.lower() for t in titles[2:])


def test_labels_keep_acronyms_written_in_title_case_titles():
    titles = [
        "Improved Techniques for Training GANs",
        "Stabilizing Training of GANs",
        "Large-Scale Weak Supervision for Speech",
        "Large-Scale Weak Supervision of Images",
    ]
    labels = label_clusters(titles, np.array([0, 0, 1, 1]), 2)
    assert labels == ["GANs", "Large-scale weak supervision"]
