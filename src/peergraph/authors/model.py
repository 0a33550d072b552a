"""The pairwise "same person?" model: gradient-boosted trees, stored as JSON.

Training (``peergraph train disambiguation``, authors/training.py) fits scikit-learn's
HistGradientBoostingClassifier and exports its trees with ``export``; ranking pairs at
rebuild time needs only numpy (``PairModel.probability``), so the shipped file is plain
data: no pickle, no code, readable on any platform and any scikit-learn version.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

MODEL_FILE = "pairwise_model.json"
FORMAT = "peergraph-pairwise-gbdt/1"


@dataclass
class PairModel:
    """Trees in flat arrays: node k of the ensemble has a feature, a threshold, where a
    missing value goes, its children (absolute indices) and, for a leaf, a value."""

    features: tuple[str, ...]
    baseline: float
    roots: np.ndarray  # int64: first node of each tree
    feature: np.ndarray  # int32
    threshold: np.ndarray  # float64
    missing_left: np.ndarray  # bool
    left: np.ndarray  # int64
    right: np.ndarray
    leaf: np.ndarray  # bool
    value: np.ndarray  # float64
    depth: int
    threshold_distance: float  # clustering: merge while average distance ≤ this
    meta: dict[str, Any]
    digest: str = ""  # of the trees and threshold: a rebuild with another model is full
    _predictors: list[Any] | None = field(default=None, repr=False, compare=False)
    _splits: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def margin(self, x: np.ndarray) -> np.ndarray:
        """Raw score (log-odds) of each row of x (pairs × features).

        Walked by scikit-learn's compiled tree predictor (the same trees, rebuilt from the
        JSON) when it is importable: about 20× faster than the numpy walk, which stays as
        the fallback for a scikit-learn whose private predictor API has moved."""
        compiled = self._compiled()
        if compiled is None:
            return self.margin_numpy(x)
        from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

        data = np.ascontiguousarray(x, dtype=np.float64)
        no_categories = np.zeros((0, 8), dtype=np.uint32)
        f_idx_map = np.zeros(data.shape[1], dtype=np.uint32)
        threads = _openmp_effective_n_threads()
        total = np.full(data.shape[0], self.baseline, dtype=np.float64)
        for predictor in compiled:
            total += predictor.predict(data, no_categories, f_idx_map, threads)
        return total

    def _compiled(self) -> list[Any] | None:
        if self._predictors is None:
            self._predictors = _tree_predictors(self) or []
        return self._predictors or None

    def margin_numpy(self, x: np.ndarray, chunk: int = 65_536) -> np.ndarray:
        """``margin`` in numpy, in cache-sized chunks. A leaf points to itself on both
        sides, so every row walks ``depth`` steps."""
        n = x.shape[0]
        total = np.full(n, self.baseline, dtype=np.float64)
        is_leaf = self.leaf
        own = np.arange(len(is_leaf))
        left = np.where(is_leaf, own, self.left)
        right = np.where(is_leaf, own, self.right)
        feature = np.where(is_leaf, 0, self.feature)
        threshold = np.where(is_leaf, np.inf, self.threshold)
        missing_left = self.missing_left | is_leaf
        for start in range(0, n, chunk):
            part = np.ascontiguousarray(x[start : start + chunk].T, dtype=np.float64)
            m = part.shape[1]
            flat = part.ravel()
            offsets = np.arange(m)
            out = total[start : start + m]
            for root in self.roots:
                node = np.full(m, root, dtype=np.int64)
                for _ in range(self.depth):
                    values = flat[feature[node] * m + offsets]
                    go_left = (values <= threshold[node]) | (np.isnan(values) & missing_left[node])
                    node = np.where(go_left, left[node], right[node])
                out += self.value[node]
        return total

    def splits(self, name: str) -> np.ndarray:
        """The thresholds at which some tree splits on feature ``name``, sorted: a change
        of that feature that crosses none of them cannot change any score."""
        if name not in self._splits:
            k = self.features.index(name)
            self._splits[name] = np.unique(self.threshold[~self.leaf & (self.feature == k)])
        return self._splits[name]

    def probability(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.margin(x), -30, 30)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PairModel:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a pairwise model file (format {data.get('format')!r})")
        trees = data["trees"]
        roots, offset = [], 0
        arrays: dict[str, list[Any]] = {
            k: []
            for k in ("feature", "threshold", "missing_left", "left", "right", "leaf", "value")
        }
        for tree in trees:
            roots.append(offset)
            arrays["feature"].extend(tree["feature"])
            arrays["threshold"].extend(tree["threshold"])
            arrays["missing_left"].extend(tree["missing_left"])
            arrays["left"].extend(c + offset for c in tree["left"])
            arrays["right"].extend(c + offset for c in tree["right"])
            arrays["leaf"].extend(tree["leaf"])
            arrays["value"].extend(tree["value"])
            offset += len(tree["feature"])
        return cls(
            features=tuple(data["features"]),
            baseline=float(data["baseline"]),
            roots=np.array(roots, dtype=np.int64),
            feature=np.array(arrays["feature"], dtype=np.int64),
            threshold=np.array(arrays["threshold"], dtype=np.float64),
            missing_left=np.array(arrays["missing_left"], dtype=bool),
            left=np.array(arrays["left"], dtype=np.int64),
            right=np.array(arrays["right"], dtype=np.int64),
            leaf=np.array(arrays["leaf"], dtype=bool),
            value=np.array(arrays["value"], dtype=np.float64),
            depth=int(data["max_depth"]) + 1,
            threshold_distance=float(data["threshold"]),
            meta=data.get("meta", {}),
            digest=hashlib.sha256(
                json.dumps(
                    [data["features"], data["baseline"], data["threshold"], trees],
                    sort_keys=True,
                ).encode()
            ).hexdigest()[:32],
        )


def _tree_predictors(model: PairModel) -> list[Any] | None:
    """scikit-learn TreePredictors for the model's trees, or None where that private
    API is missing."""
    try:
        from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE
        from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    except ImportError:  # pragma: no cover - depends on the installed scikit-learn
        return None
    out = []
    ends = [*model.roots[1:].tolist(), len(model.feature)]
    no_categories = np.zeros((0, 8), dtype=np.uint32)
    for root, end in zip(model.roots.tolist(), ends, strict=True):
        part = slice(root, end)
        leaf = model.leaf[part]
        nodes = np.zeros(end - root, dtype=PREDICTOR_RECORD_DTYPE)
        nodes["value"] = model.value[part]
        nodes["feature_idx"] = np.where(leaf, 0, model.feature[part])
        nodes["num_threshold"] = model.threshold[part]
        nodes["missing_go_to_left"] = model.missing_left[part]
        nodes["left"] = np.where(leaf, 0, model.left[part] - root)
        nodes["right"] = np.where(leaf, 0, model.right[part] - root)
        nodes["is_leaf"] = leaf
        out.append(TreePredictor(nodes, no_categories, no_categories))
    return out


def export(
    classifier: Any, features: tuple[str, ...], threshold: float, meta: dict[str, Any]
) -> dict[str, Any]:
    """A fitted binary HistGradientBoostingClassifier as the JSON document above."""
    trees = []
    max_depth = 0
    for (predictor,) in classifier._predictors:  # one tree per iteration (binary)
        nodes = predictor.nodes
        if nodes["is_categorical"].any():
            raise ValueError("categorical splits are not supported")
        trees.append(
            {
                "feature": nodes["feature_idx"].astype(int).tolist(),
                "threshold": [float(t) for t in nodes["num_threshold"]],
                "missing_left": nodes["missing_go_to_left"].astype(bool).tolist(),
                "left": nodes["left"].astype(int).tolist(),
                "right": nodes["right"].astype(int).tolist(),
                "leaf": nodes["is_leaf"].astype(bool).tolist(),
                "value": [float(v) for v in nodes["value"]],
            }
        )
        max_depth = max(max_depth, int(nodes["depth"].max()))
    baseline = float(np.ravel(classifier._baseline_prediction)[0])
    return {
        "format": FORMAT,
        "features": list(features),
        "baseline": baseline,
        "max_depth": max_depth,
        "threshold": threshold,
        "trees": trees,
        "meta": meta,
    }


def load(path: Path | None = None) -> PairModel:
    """The model at ``path``, or the one shipped with the package."""
    if path is None:
        return packaged()
    return PairModel.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def packaged() -> PairModel:
    text = resources.files("peergraph.authors").joinpath(MODEL_FILE).read_text(encoding="utf-8")
    return PairModel.from_dict(json.loads(text))
