"""What people own on author records, and how it survives rebuilds.

A rebuild derives records, links, topics, collaborators and trust items, and may merge or
split records. It never deletes what people own: claims (with the authorships each
covers), "not mine" corrections and operator decisions. Those become constraints for the
clustering (a verified claim's authorships are a must-link group; a "not mine" and another
claimant's group are cannot-links), and when the record they hang on is retired they
move to the record that took its authorships, each move written to ``record_moves``.

``OWNED`` lists every table that points at a record and belongs to people; the identity
issue's follows join it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, delete, insert, select, update

from peergraph.authors.models import (
    AuthorRecord,
    AuthorshipCorrection,
    AuthorshipLink,
    ClaimedAuthorship,
    RecordClaim,
    RecordDecision,
    RecordMove,
)
from peergraph.claims.models import Follow, RecordSettings
from peergraph.db.base import in_chunks, utcnow

if TYPE_CHECKING:
    import numpy as np

    from peergraph.authors.disambiguation import Constraints

VERIFIED = "approved"
# claims whose authorships stay one record: approved, and approved but disputed (until a
# moderator decides, the owner keeps the record)
HOLDING = (VERIFIED, "disputed")

claims_t: Table = RecordClaim.__table__  # type: ignore[assignment]
claimed_t: Table = ClaimedAuthorship.__table__  # type: ignore[assignment]
corrections_t: Table = AuthorshipCorrection.__table__  # type: ignore[assignment]
decisions_t: Table = RecordDecision.__table__  # type: ignore[assignment]
moves_t: Table = RecordMove.__table__  # type: ignore[assignment]
links_t: Table = AuthorshipLink.__table__  # type: ignore[assignment]
settings_t: Table = RecordSettings.__table__  # type: ignore[assignment]
follows_t: Table = Follow.__table__  # type: ignore[assignment]
records_t: Table = AuthorRecord.__table__  # type: ignore[assignment]

# (table, its record column): rows that follow their record through merges and splits
OWNED: list[tuple[Table, str]] = [
    (claims_t, "record_id"),
    (decisions_t, "record_id"),
    (settings_t, "record_id"),
    (follows_t, "record_id"),
]


def claim_record(
    conn: Connection,
    record_id: int,
    claimant: str,
    *,
    status: str = VERIFIED,
    level: str | None = "L2",
    evidence: dict[str, Any] | None = None,
    account_id: int | None = None,
) -> int:
    """Record a claim on ``record_id``, covering the authorships it holds now (the claim
    flow is claims/services.py; operators and tests use this directly)."""
    now = utcnow()
    claim_id = conn.execute(
        insert(claims_t)
        .values(
            record_id=record_id,
            claimant=claimant,
            account_id=account_id,
            status=status,
            level=level,
            evidence=evidence,
            created_at=now,
            updated_at=now,
        )
        .returning(claims_t.c.id)
    ).scalar_one()
    authorships = conn.execute(
        select(links_t.c.authorship_id).where(links_t.c.record_id == record_id)
    ).scalars()
    rows = [{"claim_id": claim_id, "authorship_id": a} for a in authorships]
    if rows:
        conn.execute(insert(claimed_t), rows)
    return int(claim_id)


def mark_not_mine(conn: Connection, claim_id: int, authorship_id: int) -> int:
    """The claim's owner says an authorship is someone else's: a cannot-link from now on."""
    return int(
        conn.execute(
            insert(corrections_t)
            .values(
                claim_id=claim_id, authorship_id=authorship_id, kind="not-mine", created_at=utcnow()
            )
            .returning(corrections_t.c.id)
        ).scalar_one()
    )


@dataclass
class Claim:
    id: int
    record_id: int
    claimant: str
    authorships: list[int]  # covered, less the ones marked "not mine"
    not_mine: list[int]


def verified_claims(conn: Connection) -> list[Claim]:
    """Every verified claim, oldest first, with what it covers and what it disowns."""
    covered: dict[int, list[int]] = defaultdict(list)
    not_mine: dict[int, list[int]] = defaultdict(list)
    claims = conn.execute(
        select(claims_t.c.id, claims_t.c.record_id, claims_t.c.claimant)
        .where(claims_t.c.status.in_(HOLDING))
        .order_by(claims_t.c.id)
    ).all()
    if not claims:
        return []
    verified = select(claims_t.c.id).where(claims_t.c.status.in_(HOLDING))
    for claim_id, authorship_id in conn.execute(
        select(corrections_t.c.claim_id, corrections_t.c.authorship_id).where(
            corrections_t.c.kind == "not-mine", corrections_t.c.claim_id.in_(verified)
        )
    ):
        not_mine[claim_id].append(authorship_id)
    for claim_id, authorship_id in conn.execute(
        select(claimed_t.c.claim_id, claimed_t.c.authorship_id).where(
            claimed_t.c.claim_id.in_(verified)
        )
    ):
        covered[claim_id].append(authorship_id)
    out = []
    for claim_id, record_id, claimant in claims:
        disowned = set(not_mine[claim_id])
        out.append(
            Claim(
                claim_id,
                record_id,
                claimant,
                sorted(a for a in covered[claim_id] if a not in disowned),
                sorted(disowned),
            )
        )
    return out


def constraints_for(authorship_ids: np.ndarray, claims: list[Claim]) -> Constraints | None:
    """The clustering constraints of ``claims`` over a corpus's rows. One claimant's
    claims are one person (one group); different claimants are different people."""
    if not claims:
        return None
    row_of = {int(a): i for i, a in enumerate(authorship_ids.tolist())}
    group_of: dict[str, int] = {}
    groups: list[list[int]] = []
    apart: list[tuple[int, int]] = []
    for claim in claims:
        g = group_of.setdefault(claim.claimant, len(group_of))
        if g == len(groups):
            groups.append([])
        groups[g].extend(row_of[a] for a in claim.authorships if a in row_of)
        apart.extend((row_of[a], g) for a in claim.not_mine if a in row_of)
    separate = [(g1, g2) for g1 in range(len(groups)) for g2 in range(g1 + 1, len(groups))]
    # imported here: the clustering module pulls scipy, which the pages and the look-up
    # commands that read ownership never need (about 0.8 s of every CLI start)
    from peergraph.authors.disambiguation import Constraints

    return Constraints.of(len(authorship_ids), groups, apart, separate)


def move_owned(
    conn: Connection,
    destination: Mapping[int, tuple[int, str]],
    claim_destination: Mapping[int, int],
    now: datetime,
) -> int:
    """Move user-owned rows off retired records before they are deleted, and verified
    claims to wherever their authorships are now.

    ``destination``: retired record id → (record that took most of its authorships,
    "merged" | "split"); ``claim_destination``: verified claim id → the record that holds
    its authorships now. Returns the number of rows moved (each one logged)."""
    moves: list[tuple[Table, str, int, int, int, str]] = []
    for chunk in in_chunks(claim_destination):
        for claim_id, old in conn.execute(
            select(claims_t.c.id, claims_t.c.record_id).where(claims_t.c.id.in_(chunk))
        ):
            moves.append(
                (claims_t, "record_id", claim_id, old, claim_destination[claim_id], "claim")
            )
    for table, column in OWNED:
        record = table.c[column]
        for chunk in in_chunks(destination):
            for row_id, old in conn.execute(select(table.c.id, record).where(record.in_(chunk))):
                if table is claims_t and row_id in claim_destination:
                    continue
                new, reason = destination[old]
                moves.append((table, column, row_id, old, new, reason))
    moved = 0
    for table, column, row_id, old, new, reason in moves:
        if new == old:
            continue
        if table is claims_t and _fold_claim(conn, row_id, new, now):
            reason = "folded"  # one owner's two claims met on one record: one claim now
        elif table is follows_t and _follows_already(conn, row_id, new):
            # one account followed both records: one follow of the survivor remains
            conn.execute(delete(follows_t).where(follows_t.c.id == row_id))
            reason = "duplicate"
        else:
            conn.execute(update(table).where(table.c.id == row_id).values({column: new}))
        conn.execute(
            insert(moves_t).values(
                table_name=table.name,
                row_id=row_id,
                from_record=old,
                to_record=new,
                reason=reason,
                moved_at=now,
            )
        )
        moved += 1
    return moved


def apply_chosen_names(conn: Connection) -> int:
    """Show each record under the name its owner chose (claims/owner.py), after a rebuild
    has written the names its works carry; the newest choice of a record counts."""
    chosen: dict[int, str | None] = {}
    for record_id, name in conn.execute(
        select(settings_t.c.record_id, settings_t.c.display_name).order_by(
            settings_t.c.updated_at, settings_t.c.id
        )
    ):
        chosen[record_id] = name
    named = {record_id: name for record_id, name in chosen.items() if name}
    for record_id, name in sorted(named.items()):
        conn.execute(update(records_t).where(records_t.c.id == record_id).values(display_name=name))
    return len(named)


def _fold_claim(conn: Connection, claim_id: int, record_id: int, now: datetime) -> bool:
    """When a held claim moves onto a record that already has a held claim (one owner's
    two records merged), the other claim takes over its authorships and "not mine"
    corrections, and this one is withdrawn with the reason. Returns whether it folded."""
    moving = conn.execute(
        select(claims_t.c.claimant, claims_t.c.status).where(claims_t.c.id == claim_id)
    ).one()
    if moving.status not in HOLDING:
        return False
    holder = conn.execute(
        select(claims_t.c.id, claims_t.c.claimant).where(
            claims_t.c.record_id == record_id,
            claims_t.c.status.in_(HOLDING),
            claims_t.c.id != claim_id,
        )
    ).first()
    if holder is None:
        return False
    if holder.claimant != moving.claimant:  # the clustering keeps claimants apart
        raise RuntimeError(
            f"claims {holder.id} and {claim_id} of different people ended on record "
            f"{record_id}; the rebuild is rolled back"
        )
    covered = set(
        conn.execute(
            select(claimed_t.c.authorship_id).where(claimed_t.c.claim_id == holder.id)
        ).scalars()
    )
    extra = [
        {"claim_id": holder.id, "authorship_id": a}
        for a in conn.execute(
            select(claimed_t.c.authorship_id).where(claimed_t.c.claim_id == claim_id)
        ).scalars()
        if a not in covered
    ]
    if extra:
        conn.execute(insert(claimed_t), extra)
    conn.execute(
        update(corrections_t).where(corrections_t.c.claim_id == claim_id).values(claim_id=holder.id)
    )
    conn.execute(
        update(claims_t)
        .where(claims_t.c.id == claim_id)
        .values(
            record_id=record_id,
            status="withdrawn",
            reason=f"folded into claim {holder.id}: the owner's records merged",
            updated_at=now,
        )
    )
    return True


def _follows_already(conn: Connection, follow_id: int, record_id: int) -> bool:
    account = select(follows_t.c.account_id).where(follows_t.c.id == follow_id).scalar_subquery()
    return (
        conn.execute(
            select(follows_t.c.id).where(
                follows_t.c.record_id == record_id, follows_t.c.account_id == account
            )
        ).first()
        is not None
    )
