"""Which printed word is the family name, when a source printed a name as one string.

Structured sources (CSL-JSON, BibTeX "Family, Given", arXiv's parsed authors) say which
part of a name is the family name, and that order is used as given. Others print the
name as one string (OpenAlex's ``raw_author_name``, arXiv's author line, a CSL
``literal``), and the importer reads it the Western way, the last word as the family
name. A Chinese name is printed either way round: "Wei Zhang" and "Zhang Wei" are one
person, and read the Western way they land in two name blocks (``zhang_w``, ``wei_z``)
and never meet.

For such a guessed name this module decides the reading:

- printed family name + initials ("Zhang W.", "Smith J. K."): a family name is never an
  initial, so the spelt-out word is the family name;
- two words that are both pinyin ("Zhang Wei", "Zhihui Wang"): each word has a score,
  ln((times seen as a family name + 1) / (times seen as a first given name + 1)),
  counted over structured names (``train``), and the printed order is reversed when the
  printed given name out-scores the printed family name by more than ``margin``. The
  margin is the log-odds that such a source prints given name first, measured on the
  guessed names themselves, so reversal needs evidence that outweighs the source's
  habit (docs/disambiguation.md, "Name order").

The table ships with the package (``name_order.json``) and is rebuilt with
``peergraph train name-order``. Korean and Japanese romanisations are left in the
printed order: they are not pinyin, and the table would not know them.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from peergraph.authors.names import _TOKEN_SPLIT, _is_latin, given_tokens
from peergraph.ingest.normalize import fold

ORDER_FILE = "name_order.json"
FORMAT = "peergraph-name-order/1"
MIN_SEEN = 3  # a word seen fewer times (as family and as given together) scores 0
CLEAR = 2.0  # |score difference| at which a guessed name's printed order is clear


@lru_cache(maxsize=1)
def _syllables() -> frozenset[str]:
    """Every pinyin syllable without tones (pypinyin's dictionary), ü written v."""
    from pypinyin.contrib.tone_convert import to_normal
    from pypinyin.pinyin_dict import pinyin_dict

    out: set[str] = set()
    for readings in pinyin_dict.values():
        for reading in readings.split(","):
            syllable = to_normal(reading).replace("ü", "v")
            if syllable.isascii() and syllable.isalpha():
                out.add(syllable)
    return frozenset(out)


@lru_cache(maxsize=100_000)
def pinyin_like(word: str) -> bool:
    """Does a folded word read as one to three pinyin syllables ("zhihui" = zhi + hui)?"""
    if not word or len(word) > 18 or not word.isalpha():
        return False
    syllables = _syllables()
    fewest = [0] + [99] * len(word)
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - 6), end):
            if fewest[start] < 99 and word[start:end] in syllables:
                fewest[end] = min(fewest[end], fewest[start] + 1)
    return fewest[-1] <= 3


def one_word(text: str | None) -> str | None:
    """A name part as one folded word when it is one, hyphenated or joined ("Zhi-Hui" →
    "zhihui"); None for several words, an initial, or a non-Latin script."""
    if not text or not _is_latin(text) or " " in text.strip():
        return None
    parts = [p for p in _TOKEN_SPLIT.split(fold(text)) if p]
    if not parts or any(len(p) < 2 or not p.isalpha() for p in parts):
        return None
    return "".join(parts)


@dataclass(frozen=True)
class NameOrder:
    scores: dict[str, float]  # word → ln((as family + 1) / (as first given + 1))
    margin: float  # reverse when score(printed given) − score(printed family) > margin
    meta: dict[str, Any] = field(default_factory=dict)
    digest: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NameOrder:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a name-order table: format {data.get('format')!r}")
        scores = {str(k): float(v) for k, v in data["scores"].items()}
        canonical = json.dumps([sorted(scores.items()), data["margin"]], separators=(",", ":"))
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:12]
        return cls(scores, float(data["margin"]), dict(data.get("meta", {})), digest)

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "margin": self.margin,
            "scores": dict(sorted(self.scores.items())),
            "meta": self.meta,
        }

    def reading(self, given: str | None, family: str | None) -> tuple[str | None, str | None]:
        """(given, family) for a name whose order the importer guessed."""
        if not given or not family:
            return given, family
        words = given.split()
        family_tokens = given_tokens(family)
        if family_tokens and len(family_tokens[0]) == 1:
            # "Zhang W." read as given "Zhang", family "W.": the spelt-out word leads
            rest = [*words[1:], family]
            if one_word(words[0]) and all(len(t) == 1 for w in rest for t in given_tokens(w)):
                return " ".join(rest), words[0]
            return given, family
        g, f = one_word(given), one_word(family)
        if g is None or f is None or not pinyin_like(g) or not pinyin_like(f):
            return given, family
        if self.scores.get(g, 0.0) - self.scores.get(f, 0.0) > self.margin:
            return family, given
        return given, family


@lru_cache(maxsize=1)
def packaged() -> NameOrder:
    text = resources.files("peergraph.authors").joinpath(ORDER_FILE).read_text(encoding="utf-8")
    return NameOrder.from_dict(json.loads(text))


def train(names: Iterable[tuple[str | None, str | None, bool]]) -> NameOrder:
    """The table from (given, family, order guessed?) names.

    Scores come from the structured names; the margin from the guessed two-word pinyin
    names whose reading is clear either way (|score difference| ≥ ``CLEAR``): with r the
    share of those printed given name first, margin = ln(r / (1 − r)), +1 smoothed."""
    as_family: Counter[str] = Counter()
    as_given: Counter[str] = Counter()
    guessed: list[tuple[str, str]] = []
    for given, family, order_guessed in names:
        if order_guessed:
            g, f = one_word(given), one_word(family)
        else:  # structured: "Zhi Hui" is one given name, as "Zhi-Hui" is
            g, f = one_word(given.strip().replace(" ", "-") if given else None), one_word(family)
        if g is None or f is None or not pinyin_like(g) or not pinyin_like(f):
            continue
        if order_guessed:
            guessed.append((g, f))
            continue
        as_family[f] += 1
        as_given[g] += 1
    scores = {
        word: round(math.log((as_family[word] + 1) / (as_given[word] + 1)), 3)
        for word in as_family.keys() | as_given.keys()
        if as_family[word] + as_given[word] >= MIN_SEEN
    }
    given_first = reversed_ = 0
    for g, f in guessed:
        diff = scores.get(g, 0.0) - scores.get(f, 0.0)
        if diff <= -CLEAR:
            given_first += 1
        elif diff >= CLEAR:
            reversed_ += 1
    margin = round(max(0.0, math.log((given_first + 1) / (reversed_ + 1))), 3)
    meta = {
        "structured_names": sum(as_family.values()),
        "words": len(scores),
        "guessed_names": len(guessed),
        "clear_given_first": given_first,
        "clear_family_first": reversed_,
    }
    return NameOrder.from_dict({"format": FORMAT, "margin": margin, "scores": scores, "meta": meta})


def names_in(paths: Iterable[Path]) -> Iterator[tuple[str | None, str | None, bool]]:
    """(given, family, order guessed?) of every authorship in works files of any format
    the importer reads; records it rejects are skipped."""
    from peergraph.ingest.formats import expand_paths, iter_parsed
    from peergraph.ingest.records import WorkRecord

    for target in expand_paths(list(paths)):
        for parsed in iter_parsed(target.path, target.format):
            if isinstance(parsed.item, WorkRecord):
                for a in parsed.item.authorships:
                    yield a.given, a.family, a.order_guessed
