"""Claiming a record, verification levels, disputes and moderators' decisions.

* ORCID sign-in whose iD is asserted on this record's authorships: approved, L2, at once;
* a verified e-mail address at a domain of an institution on the record's recent works:
  approved, L2, at once;
* anything else (homepage, publication list, a co-author's word), or an address that
  concerns none of the record's institutions: pending, until a moderator reviews it;
* a moderator confirms an approved claim with recorded evidence: L3.

The evidence must concern *this* record: a university address whose domain belongs to
none of the record's institutions proves nothing, and an ORCID iD asserted on another
record's authorships is refused. Every change of state is an audit entry, and the
record's trust ledger is recomputed in the same transaction (profiles/services.py
``refresh_profiles``). The rules, and why, are in docs/claims.md.

Functions take the caller's ORM session and do not commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from peergraph.accounts import mail, ratelimit
from peergraph.accounts.models import Account
from peergraph.accounts.ratelimit import RateLimited
from peergraph.accounts.services import Context
from peergraph.authors.models import AuthorRecord, AuthorshipLink, ClaimedAuthorship, RecordClaim
from peergraph.authors.ownership import HOLDING
from peergraph.claims.models import AuditEntry, ClaimDispute, InstitutionAdmin
from peergraph.db.base import rows_changed
from peergraph.profiles.services import refresh_profiles
from peergraph.works.models import Authorship, AuthorshipInstitution, Institution, Work

METHODS = ("orcid", "email", "review")
RECENT_YEARS = 5  # the institutions of the record's works in its last five years count
MAX_STATEMENT = 2_000
MAX_EVIDENCE_LINKS = 5
# addresses anyone can get: never evidence of an institution, whatever the data says
FREE_MAIL = frozenset(
    "gmail.com googlemail.com outlook.com hotmail.com live.com yahoo.com icloud.com "
    "me.com aol.com proton.me protonmail.com gmx.de gmx.net web.de mail.ru yandex.ru "
    "qq.com 163.com 126.com sina.com foxmail.com".split()
)


class ClaimError(ValueError):
    """A claim action that cannot be done; the message is for the person who asked."""


class NotAllowed(ClaimError):
    """The account may not do this at all (pages answer 403, not 400)."""


@dataclass(frozen=True)
class Actor:
    """The logged-in account acting, and the request's context (IP, time, base URL)."""

    account: Account
    ctx: Context

    @property
    def now(self) -> datetime:
        return self.ctx.now

    @property
    def ip(self) -> str:
        return self.ctx.ip

    @property
    def base_url(self) -> str:
        return self.ctx.base_url

    def key(self, rule: str, value: str) -> str:
        return self.ctx.key(rule, value)


def audit(
    session: Session,
    actor: Account | None,
    action: str,
    now: datetime,
    *,
    record_id: int | None,
    claim_id: int | None,
    detail: dict[str, Any],
) -> None:
    session.add(
        AuditEntry(
            at=now,
            actor_id=actor.id if actor else None,
            actor_role=actor.role if actor else "system",
            action=action,
            record_id=record_id,
            claim_id=claim_id,
            detail=detail,
        )
    )


# ---- what a record offers as evidence -------------------------------------------------------


def record_orcids(session: Session, record_id: int) -> set[str]:
    """ORCID iDs the sources assert on the record's authorships."""
    return set(
        session.scalars(
            select(Authorship.orcid)
            .join(AuthorshipLink, AuthorshipLink.authorship_id == Authorship.id)
            .where(AuthorshipLink.record_id == record_id, Authorship.orcid.is_not(None))
            .distinct()
        )
    )


def records_with_orcid(session: Session, orcid: str) -> set[int]:
    return set(
        session.scalars(
            select(AuthorshipLink.record_id)
            .join(Authorship, Authorship.id == AuthorshipLink.authorship_id)
            .where(Authorship.orcid == orcid)
            .distinct()
        )
    )


def _recent_institutions(session: Session, record_id: int, *columns: Any) -> Any:
    """A query of ``columns`` of the institutions on the record's works of its last
    ``RECENT_YEARS`` years with a year (all its works when none has a year)."""
    years = (
        select(Work.year)
        .join(Authorship, Authorship.work_id == Work.id)
        .join(AuthorshipLink, AuthorshipLink.authorship_id == Authorship.id)
        .where(AuthorshipLink.record_id == record_id)
    )
    latest = session.scalar(select(func.max(years.subquery().c.year)))
    query = (
        select(*columns)
        .join(AuthorshipInstitution, AuthorshipInstitution.institution_id == Institution.id)
        .join(Authorship, Authorship.id == AuthorshipInstitution.authorship_id)
        .join(AuthorshipLink, AuthorshipLink.authorship_id == Authorship.id)
        .join(Work, Work.id == Authorship.work_id)
        .where(AuthorshipLink.record_id == record_id)
    )
    if latest is not None:
        query = query.where(Work.year >= latest - RECENT_YEARS + 1)
    return query


def record_domains(session: Session, record_id: int) -> dict[str, str]:
    """Mail domains of the institutions on the record's recent works (domain → the
    institution's name): OpenAlex institutions' ``homepage_url`` host without "www."
    (and ROR domains where imported), for the works of the record's last
    ``RECENT_YEARS`` years with a year."""
    query = _recent_institutions(session, record_id, Institution.domains, Institution.name)
    out: dict[str, str] = {}
    # no DISTINCT: PostgreSQL cannot compare json
    for domains, name in session.execute(query.where(Institution.domains.is_not(None))):
        for domain in domains or []:
            domain = str(domain).lower().removeprefix("www.")
            if domain and domain not in FREE_MAIL:
                out.setdefault(domain, name)
    return out


def administered_institution(
    session: Session, account: Account, record_id: int
) -> Institution | None:
    """An institution of the record's recent works that ``account`` administers."""
    recent = _recent_institutions(session, record_id, Institution.id)
    return session.scalars(
        select(Institution)
        .join(InstitutionAdmin, InstitutionAdmin.institution_id == Institution.id)
        .where(InstitutionAdmin.account_id == account.id, Institution.id.in_(recent))
        .order_by(Institution.id)
    ).first()


def email_domain_match(email: str, domains: dict[str, str]) -> str | None:
    """The record's domain that ``email`` belongs to (itself or a subdomain), if any."""
    host = email.rsplit("@", 1)[-1].lower()
    if host in FREE_MAIL:
        return None
    for domain in sorted(domains, key=len, reverse=True):
        if host == domain or host.endswith("." + domain):
            return domain
    return None


def holding_claim(session: Session, record_id: int) -> RecordClaim | None:
    """The approved (or approved but disputed) claim on the record: its owner."""
    return session.scalars(
        select(RecordClaim).where(
            RecordClaim.record_id == record_id, RecordClaim.status.in_(HOLDING)
        )
    ).first()


def owner_of(session: Session, record_id: int) -> Account | None:
    claim = holding_claim(session, record_id)
    if claim is None or claim.account_id is None:
        return None
    return session.get(Account, claim.account_id)


def claims_of(session: Session, account: Account) -> list[tuple[RecordClaim, AuthorRecord | None]]:
    """The account's claims, newest first, each with its record (None once retired)."""
    rows = session.execute(
        select(RecordClaim, AuthorRecord)
        .outerjoin(AuthorRecord, AuthorRecord.id == RecordClaim.record_id)
        .where(RecordClaim.account_id == account.id)
        .order_by(RecordClaim.id.desc())
    )
    return [(claim, record) for claim, record in rows]


def _count_attempt(session: Session, actor: Actor) -> None:
    """A claim or dispute counts against the account's and the IP's daily limits."""
    for rule, value in (("claim-account", str(actor.account.id)), ("claim-ip", actor.ip)):
        ratelimit.check(session, rule, actor.key(rule, value), actor.now)
        ratelimit.hit(session, rule, actor.key(rule, value), actor.now)


# ---- claiming ------------------------------------------------------------------------------


def submit_claim(
    session: Session,
    actor: Actor,
    record_id: int,
    method: str,
    *,
    statement: str = "",
    links: list[str] | None = None,
) -> RecordClaim:
    """Claim ``record_id`` with the evidence ``method`` names. Approved at once when the
    evidence proves control of this record (L2), pending review otherwise; refused when it
    points at another record."""
    account = actor.account
    if account.email_verified_at is None:
        raise ClaimError("Verify your e-mail address before claiming a record.")
    if method not in METHODS:
        raise ClaimError(f"Choose the evidence: {', '.join(METHODS)}.")
    record = session.get(AuthorRecord, record_id)
    if record is None:
        raise ClaimError(f"There is no researcher record {record_id}.")

    def logged(action: str, **detail: Any) -> None:
        """Every attempt stays in the audit log, refused ones too (the route commits)."""
        audit(
            session,
            account,
            action,
            actor.now,
            record_id=record_id,
            claim_id=None,
            detail={"method": method, **detail},
        )

    def refuse(why: str, message: str) -> ClaimError:
        logged("claim.refused", why=why)
        return ClaimError(message)

    try:
        _count_attempt(session, actor)
    except RateLimited as exc:
        logged("claim.limited", retry_after=exc.retry_after)
        raise
    owner = holding_claim(session, record_id)
    if owner is not None:
        if owner.account_id == account.id:
            raise refuse("yours-already", "This record is already yours.")
        raise refuse(
            "claimed",
            "This record is claimed already. If it is you, dispute the claim with your "
            "evidence: a moderator decides.",
        )
    mine = session.scalars(
        select(RecordClaim).where(
            RecordClaim.record_id == record_id,
            RecordClaim.account_id == account.id,
            RecordClaim.status == "pending",
        )
    ).first()
    if mine is not None:
        raise refuse(
            "pending-already", "You have a claim on this record waiting for review already."
        )
    statement = statement.strip()[:MAX_STATEMENT]
    links = [link for link in (links or []) if link][:MAX_EVIDENCE_LINKS]
    evidence: dict[str, Any] = {"method": method}
    approved = False
    if method == "orcid":
        if not account.orcid:
            raise refuse("no-orcid", "Sign in with ORCID first: the claim uses the iD it proves.")
        evidence["orcid"] = account.orcid
        on_record = account.orcid in record_orcids(session, record_id)
        elsewhere = sorted(records_with_orcid(session, account.orcid) - {record_id})
        if not on_record and elsewhere:
            logged("claim.refused", orcid=account.orcid, asserted_on=elsewhere[:10])
            raise ClaimError(
                f"Your ORCID iD {account.orcid} is asserted on another record "
                f"(#{elsewhere[0]}), not this one; claim that record instead."
            )
        evidence["asserted_on_this_record"] = on_record
        approved = on_record
    elif method == "email":
        domains = record_domains(session, record_id)
        match = email_domain_match(account.email, domains)
        evidence.update(
            email=account.email,
            record_domains=sorted(domains)[:20],
            matched_domain=match,
            institution=domains.get(match) if match else None,
        )
        approved = match is not None
    else:
        if not statement and not links:
            raise refuse(
                "no-evidence",
                "Say why this record is you: a homepage or publication list that names "
                "you, or a co-author who can confirm it.",
            )
    if statement:
        evidence["statement"] = statement
    if links:
        evidence["links"] = links
    claim = RecordClaim(
        record_id=record_id,
        claimant=f"account:{account.id}",
        account_id=account.id,
        status="approved" if approved else "pending",
        method=method,
        level="L2" if approved else None,
        evidence=evidence,
        created_at=actor.now,
        updated_at=actor.now,
    )
    try:
        with session.begin_nested():  # two accounts at once: the unique index picks one
            session.add(claim)
            session.flush()
    except IntegrityError as exc:
        raise refuse(
            "lost-race", "Someone else's claim on this record was approved a moment ago."
        ) from exc
    audit(
        session,
        account,
        "claim.submitted",
        actor.now,
        record_id=record_id,
        claim_id=claim.id,
        detail=evidence,
    )
    if approved:
        _cover(session, claim)
        audit(
            session,
            None,
            "claim.approved",
            actor.now,
            record_id=record_id,
            claim_id=claim.id,
            detail={"level": "L2", "why": _why_approved(evidence)},
        )
        refresh_profiles(session.connection(), {record_id}, with_collaborators=True)
    return claim


def _why_approved(evidence: dict[str, Any]) -> str:
    if evidence["method"] == "orcid":
        return f"ORCID {evidence['orcid']} is asserted on this record's authorships"
    return (
        f"{evidence['email']} is at {evidence['matched_domain']}, the domain of "
        f"{evidence['institution']} on this record's recent works"
    )


def _cover(session: Session, claim: RecordClaim) -> None:
    """The claim covers the authorships its record holds now (they stay one record)."""
    authorships = session.scalars(
        select(AuthorshipLink.authorship_id).where(AuthorshipLink.record_id == claim.record_id)
    ).all()
    have = set(
        session.scalars(
            select(ClaimedAuthorship.authorship_id).where(ClaimedAuthorship.claim_id == claim.id)
        )
    )
    rows = [{"claim_id": claim.id, "authorship_id": a} for a in authorships if a not in have]
    if rows:
        session.execute(insert(ClaimedAuthorship), rows)


def withdraw(session: Session, actor: Actor, claim_id: int) -> RecordClaim:
    """The claimant withdraws a pending claim, or the owner releases the record."""
    claim = session.get(RecordClaim, claim_id)
    if claim is None or claim.account_id != actor.account.id:
        raise ClaimError("You have no such claim.")
    if claim.status not in ("pending", "approved"):
        raise ClaimError(f"This claim is {claim.status}; it cannot be withdrawn now.")
    released = claim.status == "approved"
    claim.status, claim.updated_at = "withdrawn", actor.now
    audit(
        session,
        actor.account,
        "claim.released" if released else "claim.withdrawn",
        actor.now,
        record_id=claim.record_id,
        claim_id=claim.id,
        detail={},
    )
    if released:
        session.flush()
        refresh_profiles(session.connection(), {claim.record_id}, with_collaborators=True)
    return claim


def dispute(
    session: Session, actor: Actor, record_id: int, statement: str, links: list[str]
) -> ClaimDispute:
    """Another account contests the record's owner, with evidence; a moderator decides."""
    claim = holding_claim(session, record_id)
    if claim is None:
        raise ClaimError("This record has no owner to dispute; claim it instead.")
    if claim.account_id == actor.account.id:
        raise ClaimError("You own this record; release it instead of disputing it.")
    if claim.status == "disputed":
        raise ClaimError("This claim is disputed already; a moderator will decide.")
    statement = statement.strip()[:MAX_STATEMENT]
    links = [link for link in links if link][:MAX_EVIDENCE_LINKS]
    if not statement:
        raise ClaimError("Say why the claim is wrong, with your evidence.")
    _count_attempt(session, actor)
    evidence = {"statement": statement, "links": links}
    row = ClaimDispute(
        claim_id=claim.id,
        account_id=actor.account.id,
        evidence=evidence,
        status="open",
        created_at=actor.now,
    )
    session.add(row)
    claim.status, claim.updated_at = "disputed", actor.now
    session.flush()
    audit(
        session,
        actor.account,
        "dispute.opened",
        actor.now,
        record_id=record_id,
        claim_id=claim.id,
        detail={"dispute": row.id, **evidence},
    )
    owner = session.get(Account, claim.account_id) if claim.account_id else None
    if owner is not None:
        mail.enqueue(
            session,
            owner.email,
            "Your claim on a peergraph record is disputed",
            f"Another account disputes your claim on {actor.base_url}/researchers/{record_id}. "
            "A moderator will look at both sides; you keep the record until then.\n",
        )
    refresh_profiles(session.connection(), {record_id}, with_collaborators=False)
    return row


def forget_account(session: Session, account: Account, now: datetime) -> None:
    """Before an account is deleted: its pending and held claims are released (each in the
    audit log, the records' trust recomputed), and its claims and decisions keep their
    history without pointing at it."""
    released: set[int] = set()
    for claim in session.scalars(
        select(RecordClaim).where(
            RecordClaim.account_id == account.id,
            RecordClaim.status.in_(("pending", *HOLDING)),
        )
    ):
        if claim.status in HOLDING:
            released.add(claim.record_id)
        claim.status, claim.updated_at = "withdrawn", now
        claim.reason = "the account was deleted"
        audit(
            session,
            account,
            "claim.released" if claim.record_id in released else "claim.withdrawn",
            now,
            record_id=claim.record_id,
            claim_id=claim.id,
            detail={"why": "account deleted"},
        )
    session.flush()
    session.execute(
        update(RecordClaim).where(RecordClaim.account_id == account.id).values(account_id=None)
    )
    session.execute(
        update(RecordClaim).where(RecordClaim.decided_by == account.id).values(decided_by=None)
    )
    session.execute(delete(InstitutionAdmin).where(InstitutionAdmin.account_id == account.id))
    if released:
        refresh_profiles(session.connection(), released, with_collaborators=True)


# ---- moderators ----------------------------------------------------------------------------


def _moderator(actor: Actor) -> Account:
    if actor.account.role not in ("moderator", "admin"):
        raise ClaimError("Only moderators can decide claims.")
    return actor.account


def decide_claim(
    session: Session, actor: Actor, claim_id: int, approve: bool, reason: str
) -> RecordClaim:
    """A moderator approves (L2) or rejects a pending claim, with a reason."""
    moderator = _moderator(actor)
    reason = reason.strip()[:MAX_STATEMENT]
    if not reason:
        raise ClaimError("Give a reason: the claimant reads it.")
    claim = session.get(RecordClaim, claim_id)
    if claim is None or claim.status != "pending":
        raise ClaimError("There is no pending claim with that number.")
    if claim.account_id == moderator.id:
        raise ClaimError("Another moderator must decide your own claim.")
    claim.status = "approved" if approve else "rejected"
    claim.level = "L2" if approve else None
    claim.reason, claim.decided_by, claim.updated_at = reason, moderator.id, actor.now
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise ClaimError("The record has another owner now; reject this claim.") from exc
    if approve:
        _cover(session, claim)
    audit(
        session,
        moderator,
        "claim.approved" if approve else "claim.rejected",
        actor.now,
        record_id=claim.record_id,
        claim_id=claim.id,
        detail={"reason": reason, "level": claim.level},
    )
    _tell_claimant(session, actor, claim, "approved" if approve else "rejected", reason)
    refresh_profiles(
        session.connection(),
        _owned_by(session, claim) | {claim.record_id},
        with_collaborators=approve,
    )
    return claim


# ---- institution admins --------------------------------------------------------------------


def find_institution(session: Session, ref: str) -> Institution | None:
    """An institution by its number here, its OpenAlex id (``I27837315``, or the URL) or
    its ROR id (``00f54p054``, or the URL)."""
    ref = ref.strip().rstrip("/")
    key = ref.rsplit("/", 1)[-1]
    if key.isdigit():
        return session.get(Institution, int(key))
    if key[:1].upper() == "I" and key[1:].isdigit():
        return session.scalars(
            select(Institution).where(Institution.openalex_id == key.upper())
        ).first()
    return session.scalars(select(Institution).where(Institution.ror == key.lower())).first()


def grant_institution(
    session: Session, account: Account, institution: Institution, now: datetime
) -> bool:
    """Make ``account`` an administrator of ``institution``; False when it was already."""
    exists_already = session.scalar(
        select(InstitutionAdmin.id).where(
            InstitutionAdmin.account_id == account.id,
            InstitutionAdmin.institution_id == institution.id,
        )
    )
    if exists_already is not None:
        return False
    session.add(
        InstitutionAdmin(account_id=account.id, institution_id=institution.id, created_at=now)
    )
    audit(
        session,
        None,
        "institution-admin.granted",
        now,
        record_id=None,
        claim_id=None,
        detail={"account_id": account.id, "institution": institution.name},
    )
    return True


def revoke_institution(
    session: Session, account: Account, institution: Institution, now: datetime
) -> bool:
    gone = session.execute(
        delete(InstitutionAdmin).where(
            InstitutionAdmin.account_id == account.id,
            InstitutionAdmin.institution_id == institution.id,
        )
    )
    if not rows_changed(gone):
        return False
    audit(
        session,
        None,
        "institution-admin.revoked",
        now,
        record_id=None,
        claim_id=None,
        detail={"account_id": account.id, "institution": institution.name},
    )
    return True


def may_confirm(session: Session, account: Account, claim: RecordClaim) -> str | None:
    """In what capacity ``account`` may confirm ``claim`` (L3): "moderator", "administrator
    of <institution>" for an institution of the record's recent works, or None."""
    if account.role in ("moderator", "admin"):
        return "moderator"
    institution = administered_institution(session, account, claim.record_id)
    return f"administrator of {institution.name}" if institution is not None else None


def confirm_claim(session: Session, actor: Actor, claim_id: int, evidence: str) -> RecordClaim:
    """A moderator, or an administrator of one of the record's recent institutions,
    confirms an approved claim with recorded evidence: L3."""
    claim = session.get(RecordClaim, claim_id)
    capacity = may_confirm(session, actor.account, claim) if claim is not None else None
    if capacity is None and actor.account.role not in ("moderator", "admin"):
        raise NotAllowed(
            "Only moderators, and administrators of the record's institutions, confirm claims."
        )
    evidence = evidence.strip()[:MAX_STATEMENT]
    if not evidence:
        raise ClaimError("Record the evidence you checked (it is kept with the decision).")
    if claim is None or claim.status != "approved":
        raise ClaimError("Only an approved claim can be confirmed.")
    confirmer = actor.account
    if claim.account_id == confirmer.id:
        raise ClaimError("Someone else must confirm your own claim.")
    claim.level, claim.decided_by, claim.updated_at = "L3", confirmer.id, actor.now
    claim.evidence = {**(claim.evidence or {}), "confirmed": evidence, "confirmed_as": capacity}
    audit(
        session,
        confirmer,
        "claim.confirmed",
        actor.now,
        record_id=claim.record_id,
        claim_id=claim.id,
        detail={"evidence": evidence, "level": "L3", "as": capacity},
    )
    _tell_claimant(session, actor, claim, "confirmed (verification L3)", evidence)
    session.flush()
    refresh_profiles(session.connection(), {claim.record_id}, with_collaborators=False)
    return claim


def decide_dispute(
    session: Session, actor: Actor, dispute_id: int, uphold: bool, reason: str
) -> ClaimDispute:
    """Upheld: the owner's claim is rejected (the record is unclaimed again, and both the
    record and the former owner's other records lose trust). Dismissed: the claim stands."""
    moderator = _moderator(actor)
    reason = reason.strip()[:MAX_STATEMENT]
    if not reason:
        raise ClaimError("Give a reason: both sides read it.")
    row = session.get(ClaimDispute, dispute_id)
    if row is None or row.status != "open":
        raise ClaimError("There is no open dispute with that number.")
    claim = session.get_one(RecordClaim, row.claim_id)
    if moderator.id in (claim.account_id, row.account_id):
        raise ClaimError("Another moderator must decide a dispute you are part of.")
    row.status, row.reason = ("upheld" if uphold else "dismissed"), reason
    row.decided_by, row.decided_at = moderator.id, actor.now
    claim.status = "rejected" if uphold else "approved"
    if uphold:
        claim.level = None
    claim.reason, claim.decided_by, claim.updated_at = reason, moderator.id, actor.now
    audit(
        session,
        moderator,
        "dispute.upheld" if uphold else "dispute.dismissed",
        actor.now,
        record_id=claim.record_id,
        claim_id=claim.id,
        detail={"dispute": row.id, "reason": reason},
    )
    _tell_claimant(
        session,
        actor,
        claim,
        "rejected after a dispute" if uphold else "kept after a dispute",
        reason,
    )
    disputer = session.get(Account, row.account_id) if row.account_id else None
    if disputer is not None:
        mail.enqueue(
            session,
            disputer.email,
            "Your dispute on peergraph was decided",
            f"Your dispute of the claim on {actor.base_url}/researchers/{claim.record_id} was "
            f"{'upheld' if uphold else 'dismissed'}.\n\nThe moderator's reason: {reason}\n",
        )
    session.flush()
    refresh_profiles(
        session.connection(), _owned_by(session, claim) | {claim.record_id}, with_collaborators=True
    )
    return row


@dataclass(frozen=True)
class LimitTrips:
    """One account's refusals by a rate limit, for the moderators' page."""

    account: Account | None
    account_id: int | None
    actions: dict[str, int]  # claim.limited, invitation.limited → how many
    last_at: datetime


def limit_trips(session: Session, since: datetime, limit: int = 50) -> list[LimitTrips]:
    """Accounts that ran into a rate limit since ``since``, most refusals first: scripted
    claims or invitation spam shows here before anyone reports it."""
    rows = session.execute(
        select(AuditEntry.actor_id, AuditEntry.action, func.count(), func.max(AuditEntry.at))
        .where(AuditEntry.action.like("%.limited"), AuditEntry.at >= since)
        .group_by(AuditEntry.actor_id, AuditEntry.action)
    ).all()
    by_account: dict[int | None, dict[str, Any]] = {}
    for actor_id, action, count, last in rows:
        entry = by_account.setdefault(actor_id, {"actions": {}, "last": last})
        entry["actions"][action] = int(count)
        entry["last"] = max(entry["last"], last)
    ranked = sorted(by_account.items(), key=lambda kv: -sum(kv[1]["actions"].values()))[:limit]
    return [
        LimitTrips(
            session.get(Account, actor_id) if actor_id else None,
            actor_id,
            entry["actions"],
            entry["last"],
        )
        for actor_id, entry in ranked
    ]


def _owned_by(session: Session, claim: RecordClaim) -> set[int]:
    """The records the claim's account owns (their integrity counts its strikes)."""
    if claim.account_id is None:
        return set()
    return set(
        session.scalars(
            select(RecordClaim.record_id).where(
                RecordClaim.account_id == claim.account_id, RecordClaim.status.in_(HOLDING)
            )
        )
    )


def _tell_claimant(
    session: Session, actor: Actor, claim: RecordClaim, outcome: str, reason: str
) -> None:
    claimant = session.get(Account, claim.account_id) if claim.account_id else None
    if claimant is None:
        return
    mail.enqueue(
        session,
        claimant.email,
        f"Your claim on peergraph was {outcome.split(' ')[0]}",
        f"Your claim on {actor.base_url}/researchers/{claim.record_id} was {outcome}.\n\n"
        f"The moderator's note: {reason}\n\nYour claims: {actor.base_url}/account\n",
    )


# ---- what moderators and owners read -------------------------------------------------------


def pending_queue(session: Session) -> tuple[list[RecordClaim], list[ClaimDispute]]:
    """Pending claims and open disputes, oldest first."""
    claims = list(
        session.scalars(
            select(RecordClaim).where(RecordClaim.status == "pending").order_by(RecordClaim.id)
        )
    )
    disputes = list(
        session.scalars(
            select(ClaimDispute).where(ClaimDispute.status == "open").order_by(ClaimDispute.id)
        )
    )
    return claims, disputes


def audit_trail(session: Session, record_id: int, limit: int = 200) -> list[AuditEntry]:
    """The audit entries about a record: its own, and those of claims on it."""
    claim_ids = select(RecordClaim.id).where(RecordClaim.record_id == record_id)
    return list(
        session.scalars(
            select(AuditEntry)
            .where((AuditEntry.record_id == record_id) | AuditEntry.claim_id.in_(claim_ids))
            .order_by(AuditEntry.id.desc())
            .limit(limit)
        )
    )
