"""Name keys and given-name compatibility for author disambiguation."""

from __future__ import annotations

import re

from peergraph.ingest.names import PARTICLES
from peergraph.ingest.normalize import fold

_TOKEN_SPLIT = re.compile(r"[\s.\-‐‑–,]+")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def given_tokens(given: str | None) -> tuple[str, ...]:
    """``"Radford M."`` → ("radford", "m"); ``"J.-P."`` → ("j", "p"); folded, no dots."""
    if not given:
        return ()
    tokens = (_NON_ALNUM.sub("", t) for t in _TOKEN_SPLIT.split(fold(given)))
    out: list[str] = []
    for token in tokens:
        if not token:
            continue
        if len(token) > 1 and token.isalpha() and token.isupper():
            token = token.lower()
        out.append(token)
    return tuple(out)


def family_key(family: str | None) -> str:
    """The main family name, folded: particles skipped, first remaining word, no hyphens.

    "van der Maaten" → "maaten"; "Diaz de Ilarraza Sanchez" → "diaz"; "Abbasi-Yadkori"
    → "abbasiyadkori". Compound Spanish surnames then share a block with their short form.
    """
    if not family:
        return ""
    words = [w for w in fold(family).split() if w]
    while len(words) > 1 and words[0] in PARTICLES:
        words.pop(0)
    return _NON_ALNUM.sub("", words[0]) if words else ""


def block_key(given: str | None, family: str | None) -> str:
    """Family key + first initial: the set of authorships compared with each other."""
    tokens = given_tokens(given)
    key = family_key(family)
    if not key:
        key = _NON_ALNUM.sub("", fold(given or ""))
        return f"{key}_"
    return f"{key}_{tokens[0][0]}" if tokens else f"{key}_"


def tokens_compatible(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Can two given-name token lists belong to one person?

    Position by position: two full names must be equal, or one a prefix of the other of
    at least three letters ("Chris"/"Christopher"); an initial matches a name with that
    first letter. Missing middle names are fine; conflicting ones ("Robert L." vs
    "Robert E.") are not.
    """
    for x, y in zip(a, b, strict=False):
        if x == y:
            continue
        if len(x) == 1 or len(y) == 1:
            if x[0] != y[0]:
                return False
            continue
        short, long = (x, y) if len(x) <= len(y) else (y, x)
        if not (len(short) >= 3 and long.startswith(short)):
            return False
    return True
