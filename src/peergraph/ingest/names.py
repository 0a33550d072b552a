"""Personal-name parsing into (given, family), keeping particles with the family name."""

from __future__ import annotations

import re

# Lower-case particles that belong to the family name ("van der Waals", "de la Cruz").
PARTICLES = frozenset(
    [
        "van",
        "von",
        "der",
        "den",
        "de",
        "del",
        "della",
        "dela",
        "di",
        "da",
        "das",
        "dos",
        "do",
        "du",
        "des",
        "la",
        "le",
        "lo",
        "ter",
        "ten",
        "te",
        "zu",
        "al",
        "el",
        "bin",
        "ibn",
        "ben",
        "af",
        "av",
        "y",
        "st.",
    ]
)
SUFFIXES = frozenset(["jr", "jr.", "sr", "sr.", "ii", "iii", "iv", "v"])
_WS = re.compile(r"\s+")


def parse_name(raw: str) -> tuple[str | None, str | None]:
    """Split a printed name into (given, family).

    "Neal, Radford M." → ("Radford M.", "Neal"); "Laurens van der Maaten" →
    ("Laurens", "van der Maaten"); a single word ("Aristotle") is a family name only.
    """
    name = _WS.sub(" ", raw).strip().strip(",")
    if not name:
        return None, None
    if "," in name:
        parts = [p.strip() for p in name.split(",") if p.strip()]
        if len(parts) >= 2 and parts[1].lower() in SUFFIXES:
            parts = [parts[0], *parts[2:]]
        if len(parts) >= 2:
            return parts[1] or None, parts[0]
        name = parts[0] if parts else ""
        if not name:
            return None, None
    tokens = name.split(" ")
    while len(tokens) > 1 and tokens[-1].lower().rstrip(",") in SUFFIXES:
        tokens.pop()
    if len(tokens) == 1:
        return None, tokens[0]
    start = len(tokens) - 1
    while start > 1 and tokens[start - 1].lower() in PARTICLES:
        start -= 1
    given = " ".join(tokens[:start]) or None
    return given, " ".join(tokens[start:])


def order_guessed(raw: str) -> bool:
    """Did ``parse_name`` have to guess which word is the family name? Yes for a name
    printed in one string of several words without a comma ("Zhang Wei" may be either
    way round); a comma ("Zhang, Wei") states the order."""
    return "," not in raw and len(raw.split()) > 1


def display_name(given: str | None, family: str | None) -> str:
    return " ".join(part for part in (given, family) if part)
