"""Topics inferred from titles and abstracts, for works whose sources give none.

Method (docs/profiles.md): latent semantic analysis (100-dimensional truncated SVD of the
TF-IDF matrix, rows re-normalised) then spherical k-means with k = clip(√(n/2.5), 8, 120)
clusters.
Each cluster is labelled by its most distinctive title phrases: bigrams and unigrams
ranked by lift (share of the cluster's titles containing the phrase ÷ share of all titles)
times the phrase's frequency in the cluster, so labels read "reinforcement learning ·
policy optimization" rather than "topic_17". Each work gets its nearest cluster as an
``inferred`` topic with the cosine as its score.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from peergraph.ingest.normalize import fold

_WORD = re.compile(r"[a-z][a-z0-9\-]+")
# function words never start or end a label phrase
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "based",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "over",
        "the",
        "their",
        "this",
        "to",
        "towards",
        "toward",
        "under",
        "using",
        "via",
        "we",
        "what",
        "when",
        "why",
        "with",
        "without",
        "new",
        "novel",
        "approach",
        "approaches",
        "study",
        "paper",
        "results",
        "towards",
        "use",
        "used",
    ]
)
# words too general to be a label on their own (fine inside "reinforcement learning")
GENERIC = frozenset(
    [
        "learning",
        "model",
        "models",
        "method",
        "methods",
        "analysis",
        "problem",
        "problems",
        "data",
        "network",
        "networks",
        "efficient",
        "effective",
        "improved",
        "improving",
        "framework",
        "algorithm",
        "algorithms",
    ]
)


@dataclass
class InferredTopics:
    labels: list[str]
    assignment: np.ndarray  # cluster per work
    score: np.ndarray  # cosine of each work to its cluster centre
    sizes: list[int]


def topic_count(n_docs: int) -> int:
    return int(min(120, max(8, round(math.sqrt(n_docs / 2.5)))))


def infer_topics(text: sparse.csr_matrix, titles: list[str], *, seed: int = 0) -> InferredTopics:
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    n = text.shape[0]
    if n == 0:
        return InferredTopics([], np.zeros(0, dtype=np.int64), np.zeros(0), [])
    k = min(topic_count(n), n)
    # LSA first: k-means on raw sparse TF-IDF piles short, abstract-less titles into one
    # junk cluster; 100 latent dimensions give balanced, more coherent clusters.
    dims = min(100, max(1, min(text.shape) - 1))
    if dims >= 2:
        latent = normalize(TruncatedSVD(dims, random_state=seed).fit_transform(text))
    else:
        latent = normalize(text.toarray())
    if n <= 20_000:
        # never more clusters than distinct texts ("Paper 1", "Paper 2" are one point)
        k = min(k, len(np.unique(latent.round(6), axis=0)))
        model = KMeans(n_clusters=k, random_state=seed, n_init=3)
    else:
        model = MiniBatchKMeans(n_clusters=k, random_state=seed, batch_size=4096, n_init=3)
    assignment = model.fit_predict(latent)
    centres = normalize(model.cluster_centers_)
    score = np.einsum("ij,ij->i", latent, centres[assignment])
    labels = label_clusters(titles, assignment, k)
    sizes = np.bincount(assignment, minlength=k).tolist()
    return InferredTopics(labels, assignment, score, sizes)


def _phrases(title: str) -> set[str]:
    words = [w for w in _WORD.findall(fold(title))]
    phrases = {w for w in words if w not in STOPWORDS and w not in GENERIC and len(w) > 2}
    for a, b in itertools.pairwise(words):
        if a not in STOPWORDS and b not in STOPWORDS:
            phrases.add(f"{a} {b}")
    return phrases


def label_clusters(titles: list[str], assignment: np.ndarray, k: int) -> list[str]:
    overall: Counter[str] = Counter()
    per_cluster: list[Counter[str]] = [Counter() for _ in range(k)]
    for title, cluster in zip(titles, assignment.tolist(), strict=True):
        phrases = _phrases(title)
        overall.update(phrases)
        per_cluster[cluster].update(phrases)
    n = max(len(titles), 1)
    sizes = np.bincount(assignment, minlength=k)
    labels: list[str] = []
    used: set[str] = set()
    for cluster in range(k):
        size = max(int(sizes[cluster]), 1)
        ranked = sorted(
            (
                (count / size)
                * math.log((count / size) / (overall[p] / n))
                * (1.3 if " " in p else 1.0),
                p,
            )
            for p, count in per_cluster[cluster].items()
            if count >= max(2, size * 0.02) or (count >= 2 and size < 200)
        )
        counts = per_cluster[cluster]
        chosen: list[str] = []
        for _score, phrase in reversed(ranked):
            if " " not in phrase:  # "translation" → "machine translation" when it mostly is
                bigrams = [b for b in counts if " " in b and phrase in b.split()]
                best = max(bigrams, key=lambda b: counts[b], default=None)
                if best is not None and counts[best] >= 0.5 * counts[phrase]:
                    phrase = best
            if any(phrase in c or c in phrase for c in chosen):
                continue  # "neural" adds nothing to "neural networks"
            chosen.append(phrase)
            if len(chosen) == 3:
                break
        label = " · ".join(chosen[:2]) if chosen else f"miscellaneous {cluster + 1}"
        if label in used and len(chosen) > 2:
            label = " · ".join(chosen)
        if label in used:
            label = f"{label} ({cluster + 1})"
        used.add(label)
        labels.append(label[:1].upper() + label[1:])
    return labels
