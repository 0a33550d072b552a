"""The pieces of collaborator suggestions and semantic alerts that are plain arithmetic."""

from __future__ import annotations

import math

import numpy as np
import pytest

from peergraph.feeds.matching import threshold
from peergraph.suggestions import scoring
from peergraph.suggestions.scoring import Evidence, Model


def test_adamic_adar_weighs_a_rare_common_coauthor_more():
    degree = {1: 2, 2: 100}
    assert scoring.adamic_adar([1], degree) == pytest.approx(1 / math.log(2))
    assert scoring.adamic_adar([1], degree) > scoring.adamic_adar([2], degree)
    assert scoring.adamic_adar([], degree) == 0


def test_topic_cosine_and_complementary_topics():
    own, theirs = {1: 3.0, 2: 1.0}, {1: 1.0, 3: 5.0, 4: 2.0}
    assert 0 < scoring.cosine(own, theirs) < 1
    assert scoring.cosine(own, {9: 1.0}) == 0
    assert scoring.complementary(own, theirs) == [3, 4]
    assert scoring.complementary(own, {7: 1.0}) == []  # nothing shared: nothing to complement


def test_features_fade_activity_over_five_years():
    recent = Evidence(1, (2, 3), 1.0, 0.5, 0.2, 10, 2024).features(2026)
    old = Evidence(1, (), 0.0, 0.5, 0.2, 10, 2015).features(2026)
    assert recent[0] == pytest.approx(math.log(3)) and old[0] == 0
    assert recent[5] == pytest.approx(0.6) and old[5] == 0


def test_the_packaged_model_is_additive_and_prefers_evidence():
    model = scoring.packaged()
    strong = Evidence(1, (2, 3), 1.5, 0.8, 0.6, 20, 2025).features(2026)
    weak = Evidence(1, (), 0.0, 0.2, 0.0, 1, 2012).features(2026)
    assert model.score(strong) > model.score(weak)
    assert model.score(strong) == pytest.approx(model.bias + sum(model.contributions(strong)))
    assert model.scores(np.array([strong, weak])) == pytest.approx(
        [model.score(strong), model.score(weak)]
    )


def test_a_model_file_with_other_features_is_refused():
    data = scoring.packaged().to_json()
    data["features"] = [*data["features"][:-1], "something else"]
    with pytest.raises(ValueError, match="features"):
        Model.from_json(data)


def test_short_semantic_searches_need_a_lower_cosine():
    assert threshold("bandits") == 0.5
    assert threshold("gaussian process regression for time series") == 0.55
    long = "transformers pretrained on protein sequences predict the effect of mutations"
    assert threshold(long) == 0.6
