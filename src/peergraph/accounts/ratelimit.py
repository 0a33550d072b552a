"""Rate limits that every server process shares: attempts are rows in ``rate_events``
(the database), never counters in one process's memory.

A rule allows ``limit`` events per key within a sliding ``window``; the next one must
wait until the oldest of them leaves the window. Keys are HMACs of the e-mail or IP
address (accounts/secrets.py), so the table holds no addresses. The numbers, and why,
are in docs/accounts.md ("Rate limits"). Two processes checking at the same instant may
each let one more attempt through; a limit is a brake, not a counter of record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from peergraph.accounts.models import RateEvent


@dataclass(frozen=True)
class Rule:
    limit: int
    window: timedelta
    counts: str  # what one event is, in words (docs and error messages)


MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
RULES = {
    "login-account": Rule(5, 15 * MINUTE, "failed log-ins for one e-mail address"),
    "login-ip": Rule(20, 15 * MINUTE, "failed log-ins from one IP address"),
    "signup-ip": Rule(5, HOUR, "sign-ups from one IP address"),
    "mail-account": Rule(5, HOUR, "mails (verification, reset, new address) to one account"),
    "reset-ip": Rule(10, HOUR, "password-reset requests from one IP address"),
    "claim-account": Rule(10, DAY, "claims by one account"),
    "claim-ip": Rule(30, DAY, "claims from one IP address"),
    # the limit of invitations depends on the sender's trust band (conversations/services.py
    # INVITATIONS_PER_DAY); 20 is the highest
    "invite-account": Rule(20, DAY, "conversation invitations by one account"),
    "message-account": Rule(120, HOUR, "conversation messages by one account"),
    "report-account": Rule(20, DAY, "reports by one account"),
}
LONGEST = max(rule.window for rule in RULES.values())


class RateLimited(Exception):
    """Too many attempts; ``retry_after`` seconds until the next is allowed."""

    def __init__(self, rule: str, retry_after: int, limit: int | None = None) -> None:
        self.rule = rule
        self.retry_after = max(1, retry_after)
        minutes = -(-self.retry_after // 60)
        super().__init__(
            f"Too many attempts ({limit or RULES[rule].limit} {RULES[rule].counts} within "
            f"{_words(RULES[rule].window)}). Try again in {minutes} minute"
            f"{'s' if minutes != 1 else ''}."
        )


def _words(window: timedelta) -> str:
    minutes = int(window.total_seconds() // 60)
    if minutes % 1440 == 0:
        return f"{minutes // 1440} day" + ("s" if minutes // 1440 != 1 else "")
    if minutes % 60 == 0:
        return f"{minutes // 60} hour" + ("s" if minutes // 60 != 1 else "")
    return f"{minutes} minutes"


def check(
    session: Session, rule: str, key: str, now: datetime, *, limit: int | None = None
) -> None:
    """Raise RateLimited when ``key`` has used up ``rule`` at ``now`` (``limit``: a lower
    limit than the rule's for this key, e.g. by trust band)."""
    spec = RULES[rule]
    allowed = min(limit, spec.limit) if limit is not None else spec.limit
    since = now - spec.window
    recent = (
        select(RateEvent.created_at)
        .where(RateEvent.rule == rule, RateEvent.key == key, RateEvent.created_at > since)
        .order_by(RateEvent.created_at.desc())
        .limit(allowed)
    ).subquery()
    count, oldest = session.execute(select(func.count(), func.min(recent.c.created_at))).one()
    if count >= allowed:
        # events stamped after ``now`` (the clock went back) still count, so a clock
        # jump opens no gap; the wait announced is never longer than the window
        wait = min((oldest + spec.window - now).total_seconds(), spec.window.total_seconds())
        raise RateLimited(rule, int(wait) + 1, allowed)


def hit(session: Session, rule: str, key: str, now: datetime) -> None:
    """Count one event (the caller commits); events older than every window go."""
    session.add(RateEvent(rule=rule, key=key, created_at=now))
    session.execute(delete(RateEvent).where(RateEvent.created_at < now - LONGEST))


def clear(session: Session, rule: str, key: str) -> None:
    """Forget ``key``'s events (a successful log-in clears that address's failures)."""
    session.execute(delete(RateEvent).where(RateEvent.rule == rule, RateEvent.key == key))
