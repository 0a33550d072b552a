"""Topics inferred from titles and abstracts, for works whose sources give none.

Method (docs/profiles.md): latent semantic analysis (100-dimensional truncated SVD of the
TF-IDF matrix, rows re-normalised) then spherical k-means with k = clip(√(n/2.5), 8, 120)
clusters.
Each cluster is labelled by the noun phrase of its titles with the highest c-TF-IDF
(``label_clusters``), as the works write it: "Monte Carlo sampling", "Vision-language
models", not "topic_17". Each work gets its nearest cluster as an
``inferred`` topic with the cosine as its score.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

import numpy as np
from scipy import sparse

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
        # titles in French, Spanish, Portuguese, Italian and German have their own
        *"de la le les des del della di du el los las en et y da dos das um una une un "
        "para por con sur der die und von zu im".split(),
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


# a title's words, diacritics folded but case kept ("Monte Carlo", "vision-language")
_TITLE_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")
# punctuation ends a phrase: "Transformers: attention ..." gives two chunks
_BREAK = re.compile(r"[:;,.!?()\[\]{}\"/|–—]")
# words that open a title's clause but never a noun phrase ("Improving machine translation")
VERB_START = frozenset(
    (
        "improving exploring understanding revisiting rethinking leveraging making scaling "
        "enhancing boosting bridging evaluating estimating predicting detecting generating "
        "solving finding reducing optimizing optimising measuring beyond combining building "
        "designing enabling incorporating integrating unifying addressing analyzing analysing "
        "applying achieving adapting automating benchmarking characterizing comparing "
        "discovering extending harnessing identifying investigating mitigating overcoming "
        "quantifying learn learns training train"
    ).split()
)
# adjective endings: a noun phrase ends in its noun ("neural networks", not "deep neural")
_ADJECTIVE_END = re.compile(r"(?:ive|ous|ful|less|able|ible|ary|ian|al|ic|ent|ant)$")
NOUNS_LIKE_ADJECTIVES = frozenset(
    (
        "signal signals retrieval interval intervals proposal proposals tutorial music logic "
        "topic topics potential arrival removal survival trial trials material materials "
        "journal animal animals hospital capital rival principal manual terminal metal "
        "agent agents content gradient gradients component components segment segments "
        "element elements event events patient patients student students environment "
        "environments experiment experiments assessment treatment management alignment "
        "embedding argument arguments document documents equivalent constant constants "
        "variant variants tensor network dictionary library boundary summary vocabulary "
        "inventory memory category ontology classifier graphic graphics dynamic dynamics "
        "clinic mechanic mechanics physic physics statistic statistics metric metrics "
        "heuristic heuristics epidemic epidemics mechanism adversary adversaries "
        "descent ascent moment moments percent tangent intent"
    ).split()
)
# common adjectives the endings miss; a phrase does not end in one
ADJECTIVES = frozenset(
    (
        "deep robust fast large small high low simple sparse dense latent hidden multiple "
        "single general strong weak joint open hard soft local global online offline "
        "free better best fine full partial short long wide narrow scalable efficient "
        "effective improved accurate unsupervised supervised semi self multi non pre "
        "based driven aware guided"
    ).split()
)
NOUNS_LIKE_PARTICIPLES = frozenset("embed proceed breed speed".split())
MAX_PHRASE = 4  # "Markov chain Monte Carlo"
PHRASE_BONUS = 1.5  # c-TF-IDF weight of a phrase of two words or more
LONGER_SHARE = 0.4  # a phrase yields to a longer one found in this share of its titles


def _case_folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _sentence_case(words: list[str]) -> bool:
    """Whether a title is in sentence case (its capitals mean something): most words
    after the first, leaving out acronyms and function words, are in lower case."""
    rest = [w for w in words[1:] if not w.isupper() and w.lower() not in STOPWORDS]
    return bool(rest) and sum(w[0].isupper() for w in rest) * 2 < len(rest)


def _noun_like_end(word: str) -> bool:
    low = word.lower()
    if low in ADJECTIVES:
        return False
    if low.endswith("ed") and len(low) > 5 and low not in NOUNS_LIKE_PARTICIPLES:
        return False  # "randomized", "supervised": participles qualify a noun
    return low in NOUNS_LIKE_ADJECTIVES or not _ADJECTIVE_END.search(low) or word.isupper()


def title_phrases(title: str) -> tuple[dict[str, str], bool]:
    """The noun-phrase candidates of a title, {lower-case phrase: as written}, and
    whether the title is in sentence case. Candidates are runs of one to four words
    inside a chunk (the title cut at punctuation and function words) that do not open
    with a clause verb ("improving"), do not end in an adjective ("deep neural"), are
    not a lone generic word ("models") and hold no number alone."""
    folded = _case_folded(title)
    words_all = _TITLE_WORD.findall(folded)
    found: dict[str, str] = {}
    for part in _BREAK.split(folded):
        chunk: list[str] = []
        for word in [*_TITLE_WORD.findall(part), ""]:
            low = word.lower()
            if word and low not in STOPWORDS:
                chunk.append(word)
                continue
            for i in range(len(chunk)):
                for j in range(i + 1, min(i + MAX_PHRASE, len(chunk)) + 1):
                    span = chunk[i:j]
                    first, last = span[0].lower(), span[-1]
                    if first in VERB_START or (first in GENERIC and len(span) > 1):
                        continue
                    if not _noun_like_end(last):
                        continue
                    key = " ".join(w.lower() for w in span)
                    if len(span) == 1 and (key in GENERIC or len(key) < 3):
                        continue
                    found.setdefault(key, " ".join(span))
            chunk = []
    return found, _sentence_case(words_all)


def _display(key: str, trusted: Counter[str], word_forms: dict[str, Counter[str]]) -> str:
    """A phrase as the works write it: the commonest form among sentence-case titles
    ("Monte Carlo sampling"); otherwise each word as sentence-case titles write it
    elsewhere ("Markov"), or in lower case."""
    if trusted:
        return trusted.most_common(1)[0][0]
    return " ".join(
        word_forms[w].most_common(1)[0][0] if w in word_forms else w for w in key.split()
    )


def label_clusters(titles: list[str], assignment: np.ndarray, k: int) -> list[str]:
    """Each cluster's label: the noun phrase of its titles with the highest c-TF-IDF
    (Grootendorst 2022, BERTopic: a phrase's frequency in the cluster times
    log(1 + A / its frequency over all clusters), A the average cluster size; counted in
    titles, so one long title cannot dominate). A phrase yields to a longer one that
    holds it in 40 % of its titles or more ("series" → "time series forecasting"); a
    second phrase, sharing no word with the first, is added only to tell two clusters
    apart. Every label is a phrase that occurs in the cluster's own titles."""
    overall: Counter[str] = Counter()
    per_cluster: list[Counter[str]] = [Counter() for _ in range(k)]
    trusted: dict[str, Counter[str]] = {}  # phrase: its forms in sentence-case titles
    word_forms: dict[str, Counter[str]] = {}  # word: its forms there, not first in a title
    for title, cluster in zip(titles, assignment.tolist(), strict=True):
        phrases, sentence_case = title_phrases(title)
        overall.update(phrases.keys())
        per_cluster[cluster].update(phrases.keys())
        words = _TITLE_WORD.findall(_case_folded(title))
        if sentence_case:
            for key, form in phrases.items():
                trusted.setdefault(key, Counter())[form] += 1
            for word in words[1:]:
                word_forms.setdefault(word.lower(), Counter())[word] += 1
        else:
            # title case capitalises each word and each part of a hyphenated one
            # ("Large-Scale"), never a letter inside: "GANs", "BERT" are written so on
            # purpose, in any title
            for word in words:
                if any(ch.isupper() and word[i - 1] != "-" for i, ch in enumerate(word) if i):
                    word_forms.setdefault(word.lower(), Counter())[word] += 1
    sizes = np.bincount(assignment, minlength=k)
    average = max(len(titles), 1) / max(k, 1)
    ranked_per_cluster: list[list[str]] = []
    for cluster in range(k):
        size = max(int(sizes[cluster]), 1)
        counts = per_cluster[cluster]
        shared = {
            p: c for p, c in counts.items() if c >= max(2, size * 0.02) or (c >= 2 and size < 200)
        }
        if not shared and size < 10:
            # a handful of works that share no phrase (small stores): the best phrase of
            # any one of them still says more than "Miscellaneous"
            shared = dict(counts)
        # a phrase of several words names a field better than one word does
        weight = {
            p: (c / size) * math.log(1 + average / overall[p]) * (PHRASE_BONUS if " " in p else 1)
            for p, c in shared.items()
        }
        ranked = sorted(weight, key=lambda p: (-weight[p], p))
        chosen: list[str] = []
        for phrase in ranked:
            # the longest phrase that holds this one in at least half of its titles
            longer = [
                q
                for q in counts
                if len(q) > len(phrase)
                and f" {phrase} " in f" {q} "
                and q in weight
                and counts[q] >= LONGER_SHARE * counts[phrase]
            ]
            if longer:
                phrase = max(longer, key=lambda q: (counts[q] * len(q.split()), q))
            if any(set(phrase.split()) & set(c.split()) for c in chosen):
                continue  # "series forecasting" adds nothing to "time series"
            chosen.append(phrase)
            if len(chosen) == 3:
                break
        ranked_per_cluster.append(chosen)
    labels: list[str] = []
    used: set[str] = set()
    for cluster, chosen in enumerate(ranked_per_cluster):
        shown = [_display(p, trusted.get(p, Counter()), word_forms) for p in chosen]
        label = shown[0] if shown else f"Miscellaneous {cluster + 1}"
        if label.lower() in used and len(shown) > 1:
            label = ", ".join(shown[:2])
        if label.lower() in used:
            label = f"{label} ({cluster + 1})"
        used.add(label.lower())
        labels.append(label[:1].upper() + label[1:])
    return labels
