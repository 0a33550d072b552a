"""The trust score: a documented sum of named components over an evidence ledger.

score = Σ points of the record's ledger items, each component capped (docs/trust.md):

    identity    ≤ 45   verification level: L1 +10 (a persistent identifier asserted by the
                       sources), L2 +20 more (a claim proving control), L3 +15 more (confirmed)
    integrity   ≤ 10   10 × mean disambiguation confidence; upheld disputes subtract
    footprint   ≤ 10   10 × (1 − e^(−n/20)), n = works carrying a DOI, arXiv id or PMID
    network     ≤ 25   verified (L2+) close collaborators, 5 each
    community   ≤ 10   moderator-recorded standing (reserved)

Identity first: what a user does alone (following, editing, messaging) adds no item;
citations and followers never do. Bands: 0–24 Emerging, 25–49 Developing,
50–74 Established, 75–100 Trusted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CAPS = {"identity": 45.0, "integrity": 10.0, "footprint": 10.0, "network": 25.0, "community": 10.0}
COMPONENT_NAMES = {
    "identity": "Identity assurance",
    "integrity": "Record integrity",
    "footprint": "Scholarly footprint",
    "network": "Verified network",
    "community": "Community standing",
}
BANDS = ((75, "Trusted"), (50, "Established"), (25, "Developing"), (0, "Emerging"))


@dataclass(frozen=True)
class LedgerItem:
    component: str
    source: str
    method: str
    points: float
    detail: str


def band(score: int) -> str:
    return next(name for floor, name in BANDS if score >= floor)


def score_ledger(items: list[LedgerItem]) -> tuple[int, dict[str, float]]:
    """Total and per-component points; each component is clamped to [0, cap]."""
    totals = dict.fromkeys(CAPS, 0.0)
    for item in items:
        totals[item.component] = totals.get(item.component, 0.0) + item.points
    clamped = {c: max(0.0, min(CAPS[c], v)) for c, v in totals.items()}
    return round(sum(clamped.values())), clamped


def imported_evidence(
    *,
    orcid: str | None,
    upstream_ids: list[str],
    mean_confidence: float,
    works_with_pid: int,
    works: int,
) -> list[LedgerItem]:
    """The ledger items that come from imported data alone (no claims yet)."""
    items: list[LedgerItem] = []
    if orcid:
        items.append(
            LedgerItem(
                "identity",
                "imported works",
                "ORCID asserted on authorships",
                10.0,
                f"the sources attach ORCID {orcid} to this record's authorships (L1)",
            )
        )
    elif upstream_ids:
        items.append(
            LedgerItem(
                "identity",
                "imported works",
                "upstream author id",
                10.0,
                f"the sources give an author id ({', '.join(upstream_ids[:3])}) (L1)",
            )
        )
    else:
        items.append(
            LedgerItem(
                "identity",
                "imported works",
                "no persistent identifier",
                0.0,
                "no ORCID or author id in the sources, and no claim yet (L0)",
            )
        )
    items.append(
        LedgerItem(
            "integrity",
            "author disambiguation",
            "mean link confidence",
            round(10.0 * mean_confidence, 1),
            f"the {works} works are linked to this record with mean confidence "
            f"{mean_confidence:.0%}",
        )
    )
    items.append(
        LedgerItem(
            "footprint",
            "imported works",
            "works with persistent identifiers",
            round(10.0 * (1 - math.exp(-works_with_pid / 20)), 1),
            f"{works_with_pid} of {works} works carry a DOI, arXiv id or PMID "
            "(saturating: 20 such works give 6.3 of 10 points)",
        )
    )
    items.append(
        LedgerItem(
            "network",
            "claims",
            "verified close collaborators",
            0.0,
            "no close collaborator has a verified (L2+) record yet",
        )
    )
    items.append(
        LedgerItem(
            "community", "moderation", "recorded standing", 0.0, "no moderator-recorded standing"
        )
    )
    return items


def verification_level(orcid: str | None, upstream_ids: list[str]) -> str:
    return "L1" if orcid or upstream_ids else "L0"
