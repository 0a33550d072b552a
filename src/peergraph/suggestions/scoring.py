"""Collaborator suggestions: the evidence about a candidate, its features and the model.

One definition for the dashboard (suggestions/services.py, from the store) and for the
benchmark (benchmarks/collaborator_suggestions.py, from the ML Anthology graph):

- candidates are researchers one has not written with, drawn from two pools: co-authors of
  one's co-authors (the ``HOP_POOL`` with the highest Adamic–Adar) and the authors of the
  ``WORK_POOL`` works nearest to one's centroid (the normalised mean of one's works'
  vectors);
- each candidate's evidence: co-authors in common, Adamic–Adar over them, the cosine of the
  two centroids, the cosine of the two topic-weight vectors, how much the candidate has
  published and how recently;
- a logistic regression over those features, trained on an earlier period of the same
  graph (papers up to 2018, new co-authors 2019–2021) and shipped as ``model.json``;
  its additive contributions are the "why this?" shown beside each suggestion.

docs/suggestions.md has the formulas, the training and the measurements.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

HOP_POOL = 200  # co-authors of co-authors kept, by Adamic–Adar
WORK_POOL = 300  # nearest works whose authors join the pool
RECENT_YEARS = 5  # activity fades to nothing over this many years

FEATURES = ("common_coauthors", "adamic_adar", "embedding", "topics", "works", "recent")
LABELS = {
    "common_coauthors": "co-authors in common",
    "adamic_adar": "rarely shared co-authors (Adamic–Adar)",
    "embedding": "similar works",
    "topics": "shared topics",
    "works": "body of work",
    "recent": "recently active",
}


@dataclass
class Evidence:
    """What is known about one candidate, relative to the researcher asking."""

    candidate: int
    common: tuple[int, ...] = ()  # co-authors in common
    adamic_adar: float = 0.0
    embedding: float = 0.0  # cosine of the two centroids; 0 when either has no vectors
    topics: float = 0.0  # cosine of the two topic-weight vectors
    works: int = 0
    last_year: int | None = None

    def features(self, year: int) -> list[float]:
        recent = 0.0
        if self.last_year is not None:
            recent = max(0.0, 1.0 - max(0, year - self.last_year) / RECENT_YEARS)
        return [
            math.log1p(len(self.common)),
            self.adamic_adar,
            self.embedding,
            self.topics,
            math.log1p(self.works),
            recent,
        ]


def adamic_adar(common: Iterable[int], degree: Mapping[int, int]) -> float:
    """Σ 1 / log(degree) over the co-authors in common (Adamic & Adar 2003): a common
    co-author with few co-authors says more than one who writes with everybody."""
    return sum(1.0 / math.log(max(degree.get(z, 2), 2)) for z in common)


def cosine(a: Mapping[int, float], b: Mapping[int, float]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(w * b[t] for t, w in a.items() if t in b)
    if dot == 0.0:
        return 0.0
    norm = math.sqrt(sum(w * w for w in a.values())) * math.sqrt(sum(w * w for w in b.values()))
    return dot / norm


def complementary(
    own: Mapping[int, float], theirs: Mapping[int, float], *, limit: int = 2
) -> list[int]:
    """Their strongest topics that one does not have, when the two share at least one:
    what they would bring to a joint piece of work."""
    if not any(t in own for t in theirs):
        return []
    return [t for t in sorted(theirs, key=lambda t: -theirs[t]) if t not in own][:limit]


@dataclass(frozen=True)
class Model:
    """Standardised logistic regression: score = bias + Σ weight · (x − mean) / scale."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    trained_on: str = ""

    def contributions(self, x: Sequence[float]) -> list[float]:
        return [
            w * (v - m) / s
            for w, v, m, s in zip(self.weights, x, self.mean, self.scale, strict=True)
        ]

    def score(self, x: Sequence[float]) -> float:
        return self.bias + sum(self.contributions(x))

    def scores(self, matrix: np.ndarray) -> np.ndarray:
        z = (matrix - np.asarray(self.mean)) / np.asarray(self.scale)
        return np.asarray(self.bias + z @ np.asarray(self.weights))

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": [round(v, 6) for v in self.mean],
            "scale": [round(v, 6) for v in self.scale],
            "weights": [round(v, 6) for v in self.weights],
            "bias": round(self.bias, 6),
            "trained_on": self.trained_on,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Model:
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"model features {data['features']} are not {list(FEATURES)}")
        return cls(
            tuple(data["features"]),
            tuple(data["mean"]),
            tuple(data["scale"]),
            tuple(data["weights"]),
            float(data["bias"]),
            str(data.get("trained_on", "")),
        )


def train(matrix: np.ndarray, labels: np.ndarray, *, trained_on: str = "") -> Model:
    """Fit the logistic regression (scikit-learn, L2, balanced classes)."""
    from sklearn.linear_model import LogisticRegression

    mean = matrix.mean(axis=0)
    scale = matrix.std(axis=0)
    scale[scale == 0] = 1.0
    fit = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
    fit.fit((matrix - mean) / scale, labels)
    return Model(
        FEATURES,
        tuple(float(v) for v in mean),
        tuple(float(v) for v in scale),
        tuple(float(v) for v in fit.coef_[0]),
        float(fit.intercept_[0]),
        trained_on,
    )


@cache
def packaged() -> Model:
    text = resources.files("peergraph.suggestions").joinpath("model.json").read_text()
    return Model.from_json(json.loads(text))
