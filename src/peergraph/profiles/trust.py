"""The trust score: a documented sum of named components over an evidence ledger.

score = Σ points of the record's ledger items, each component capped (docs/trust.md):

    identity    ≤ 45   verification level: L1 +10 (a persistent identifier asserted by the
                       sources), L2 +20 more (a claim proving control), L3 +15 more (confirmed)
    integrity   ≤ 10   10 × mean disambiguation confidence; −5 for each upheld dispute of
                       a claim on this record, −5 for each claim of the owner's account
                       that moderators rejected or whose dispute they upheld
    footprint   ≤ 10   10 × (1 − e^(−n/20)), n = works carrying a DOI, arXiv id or PMID
    network     ≤ 25   verified (L2+) close collaborators, 5 each
    community   ≤ 10   moderator-recorded standing (reserved)

Identity first: what a user does alone (following, editing, messaging, a second account
following the first) adds no item; citations and followers never do. Bands: 0–24
Emerging, 25–49 Developing, 50–74 Established, 75–100 Trusted.
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
            "community", "moderation", "recorded standing", 0.0, "no moderator-recorded standing"
        )
    )
    return items


@dataclass(frozen=True)
class ClaimFacts:
    """What claims and moderators say about one record (claims/services.py keeps them)."""

    claim_id: int | None = None  # the claim that holds the record (approved or disputed)
    level: str | None = None  # L2 | L3
    method: str | None = None  # orcid | email | review
    disputed: bool = False
    upheld_disputes: int = 0  # disputes of claims on this record that moderators upheld
    owner_strikes: int = 0  # the owner's rejected claims and upheld disputes, elsewhere too
    verified_collaborators: int = 0  # close collaborators whose records are L2 or L3


PROOF = {
    "orcid": "ORCID sign-in whose iD is on the record's authorships",
    "email": "a verified e-mail address at a domain of one of the record's institutions",
    "review": "evidence a moderator reviewed",
}
STRIKE_POINTS = -5.0
COLLABORATOR_POINTS = 5.0


def claim_evidence(facts: ClaimFacts) -> list[LedgerItem]:
    """The ledger items that come from claims, disputes and moderators' decisions."""
    items: list[LedgerItem] = []
    source = f"claim #{facts.claim_id}" if facts.claim_id else "claims"
    if facts.level in ("L2", "L3"):
        proof = PROOF.get(facts.method or "", "a claim")
        items.append(
            LedgerItem(
                "identity",
                "claims",
                "claim proving control",
                20.0,
                f"{source}: the owner proved control with {proof} (L2)",
            )
        )
    if facts.level == "L3":
        items.append(
            LedgerItem(
                "identity",
                "moderation",
                "confirmed by a moderator",
                15.0,
                f"{source}: a moderator confirmed the claim with recorded evidence (L3)",
            )
        )
    if facts.disputed:
        items.append(
            LedgerItem(
                "integrity",
                "claims",
                "claim disputed",
                0.0,
                f"{source} is disputed by another account; a moderator decides",
            )
        )
    if facts.upheld_disputes:
        items.append(
            LedgerItem(
                "integrity",
                "moderation",
                "upheld disputes",
                STRIKE_POINTS * facts.upheld_disputes,
                f"moderators upheld {facts.upheld_disputes} dispute(s) of a claim on this record",
            )
        )
    if facts.owner_strikes:
        items.append(
            LedgerItem(
                "integrity",
                "moderation",
                "owner's rejected claims",
                STRIKE_POINTS * facts.owner_strikes,
                f"moderators rejected {facts.owner_strikes} claim(s) of the owner's "
                "account, or upheld disputes of them",
            )
        )
    n = facts.verified_collaborators
    items.append(
        LedgerItem(
            "network",
            "claims",
            "verified close collaborators",
            COLLABORATOR_POINTS * n,
            f"{n} close collaborator(s) have a verified (L2+) record"
            if n
            else "no close collaborator has a verified (L2+) record yet",
        )
    )
    return items


def verification_level(
    orcid: str | None, upstream_ids: list[str], claim_level: str | None = None
) -> str:
    if claim_level in ("L2", "L3"):
        return claim_level
    return "L1" if orcid or upstream_ids else "L0"
