"""Name keys and given-name compatibility for author disambiguation.

Every name part is romanised before it is folded: Chinese characters become pinyin
(pypinyin, which reads surnames and phrases better than a character table), any other
script goes through anyascii ("김민준" → "gimminjun", "Дмитрий" → "dmitriy"), and
Latin letters lose their accents. A name written in a non-Latin script also keeps that
spelling (``native_name``): two different Chinese names with the same pinyin are two
names, not one.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from anyascii import anyascii

from peergraph.ingest.names import PARTICLES
from peergraph.ingest.normalize import fold

_TOKEN_SPLIT = re.compile(r"[\s.\-‐‑–,]+")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_SPACE = re.compile(r"\s+")
# CJK unified ideographs (with extension A and the compatibility block)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def _is_latin(text: str) -> bool:
    return all(ord(ch) < 0x250 or unicodedata.category(ch)[0] != "L" for ch in text)


@lru_cache(maxsize=200_000)
def romanise(text: str) -> str:
    """``"振辉"`` → ``"zhenhui"``; ``"Jürgen"`` → ``"jurgen"``: folded ASCII letters."""
    if _is_latin(text):
        return fold(text)
    from pypinyin import lazy_pinyin

    def han(match: re.Match[str]) -> str:
        return "".join(lazy_pinyin(match.group(0)))

    return fold(anyascii(_HAN.sub(han, text)))


def native_name(given: str | None, family: str | None) -> str | None:
    """The name in its own script, spaces removed, when it is not written in Latin."""
    text = _SPACE.sub("", unicodedata.normalize("NFKC", f"{family or ''}{given or ''}"))
    if not text or _is_latin(text):
        return None
    return text


def split_native(given: str | None, family: str | None) -> tuple[str | None, str | None]:
    """A Chinese or Korean name printed as one word ("叶振辉") is family name first: the
    first character is the family name, the rest the given name."""
    if given or not family or " " in family.strip() or _is_latin(family):
        return given, family
    word = family.strip()
    if 2 <= len(word) <= 4 and all(_HAN.fullmatch(ch) or "\uac00" <= ch <= "\ud7a3" for ch in word):
        return word[1:], word[0]
    return given, family


@lru_cache(maxsize=200_000)
def given_tokens(given: str | None) -> tuple[str, ...]:
    """``"Radford M."`` → ("radford", "m"); ``"J.-P."`` → ("j", "p"); folded, no dots.

    A name in another script is one token of its romanisation ("振辉" → ("zhenhui",)).
    """
    if not given:
        return ()
    if not _is_latin(given):
        joined = _NON_ALNUM.sub("", romanise(given))
        return (joined,) if joined else ()
    tokens = (_NON_ALNUM.sub("", t) for t in _TOKEN_SPLIT.split(fold(given)))
    out: list[str] = []
    for token in tokens:
        if not token:
            continue
        if len(token) > 1 and token.isalpha() and token.isupper():
            token = token.lower()
        out.append(token)
    return tuple(out)


@lru_cache(maxsize=200_000)
def family_key(family: str | None) -> str:
    """The main family name, folded: particles skipped, first remaining word, no hyphens.

    "van der Maaten" → "maaten"; "Diaz de Ilarraza Sanchez" → "diaz"; "Abbasi-Yadkori"
    → "abbasiyadkori"; "叶" → "ye". Compound Spanish surnames then share a block with
    their short form.
    """
    if not family:
        return ""
    words = [w for w in romanise(family).split() if w]
    while len(words) > 1 and words[0] in PARTICLES:
        words.pop(0)
    return _NON_ALNUM.sub("", words[0]) if words else ""


def block_key(given: str | None, family: str | None) -> str:
    """Family key + first initial: the set of authorships compared with each other."""
    given, family = split_native(given, family)
    tokens = given_tokens(given)
    key = family_key(family)
    if not key:
        key = _NON_ALNUM.sub("", romanise(given or ""))
        return f"{key}_"
    return f"{key}_{tokens[0][0]}" if tokens else f"{key}_"


def family_scope(block: str) -> str:
    """The family part of a block key ("wang" of "wang_y"): the blocks whose features
    share co-author statistics (features.scoped_hops), re-clustered together."""
    return block.split("_", 1)[0]


def first_name(tokens: tuple[str, ...]) -> str:
    """The first given name when it is spelt out, else ''. Hyphenated and joined forms
    agree: ("zhi", "hui") and ("zhihui",) are both "zhihui" when every part is a syllable
    of two or more letters; ("xiao", "ming") likewise."""
    if not tokens or len(tokens[0]) < 2:
        return ""
    return tokens[0]


def joined_given(tokens: tuple[str, ...]) -> str:
    """All given-name parts joined ("zhi-hui" and "zhihui" both → "zhihui"); '' when the
    first part is an initial."""
    if not tokens or len(tokens[0]) < 2:
        return ""
    return "".join(tokens)


def tokens_compatible(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Can two given-name token lists belong to one person?

    Position by position: two full names must be equal, or one a prefix of the other of
    at least three letters ("Chris"/"Christopher"); an initial matches a name with that
    first letter. Missing middle names are fine; conflicting ones ("Robert L." vs
    "Robert E.") are not. Hyphenated and joined forms match ("Zhi-Hui"/"Zhihui"/"Z.-H.").
    """
    if len(a) != len(b) and a and b:
        # "zhihui" against ("zhi", "hui"), or ("z", "h") against ("zhihui",)
        short, long = (a, b) if len(a) < len(b) else (b, a)
        if len(short) == 1 and len(short[0]) > 2 and all(len(t) > 1 for t in long):
            if short[0] == "".join(long):
                return True
            if not short[0].startswith(long[0]):
                return False
    for x, y in zip(a, b, strict=False):
        if x == y:
            continue
        if len(x) == 1 or len(y) == 1:
            if x[0] != y[0]:
                return False
            continue
        short_, long_ = (x, y) if len(x) <= len(y) else (y, x)
        if not (len(short_) >= 3 and long_.startswith(short_)):
            return False
    return True
