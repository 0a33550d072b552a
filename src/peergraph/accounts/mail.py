"""Outgoing mail. A message is a row in ``outgoing_mail``, written in the transaction of
the change it reports, then delivered: through SMTP when ``PEERGRAPH_SMTP_HOST`` is set,
otherwise written to ``<data_dir>/mail/<id>.eml`` (a local instance needs no mail server:
open the file and follow the link). A message that fails stays pending, with the error,
for the next delivery; logs name the message id, never its body (it holds links that
log people in)."""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.orm import Session

from peergraph.accounts.models import Account, OutgoingMail
from peergraph.db.base import rows_changed, utcnow
from peergraph.settings import Settings

log = logging.getLogger(__name__)
SMTP_TIMEOUT = 10.0
MAIL_FOLDER = "mail"


def enqueue(session: Session, recipient: str, subject: str, body: str) -> OutgoingMail:
    """Queue a message; it is sent after the caller's transaction commits."""
    message = OutgoingMail(recipient=recipient, subject=subject, body=body, created_at=utcnow())
    session.add(message)
    session.flush()
    return message


def deliver_pending(engine: Engine, settings: Settings, ids: list[int] | None = None) -> int:
    """Send pending messages (only ``ids`` when given); returns how many went out.

    Each message is taken by one process (pending → sending) before it is sent, so two
    processes delivering at once never send it twice."""
    sent = 0
    with Session(engine) as session:
        query = select(OutgoingMail.id).where(OutgoingMail.status == "pending")
        if ids is not None:
            query = query.where(OutgoingMail.id.in_(ids))
        pending = list(session.scalars(query.order_by(OutgoingMail.id)))
    for message_id in pending:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            taken = rows_changed(
                session.execute(
                    update(OutgoingMail)
                    .where(OutgoingMail.id == message_id, OutgoingMail.status == "pending")
                    .values(status="sending", attempts=OutgoingMail.attempts + 1)
                )
            )
            message = session.get(OutgoingMail, message_id) if taken else None
        if message is None:
            continue
        try:
            _send(settings, message)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("mail %d not sent: %s", message_id, exc)
            _finish(engine, message_id, status="pending", error=str(exc)[:500])
            continue
        _finish(engine, message_id, status="sent", error=None)
        sent += 1
    return sent


def _finish(engine: Engine, message_id: int, *, status: str, error: str | None) -> None:
    with Session(engine) as session, session.begin():
        session.execute(
            update(OutgoingMail)
            .where(OutgoingMail.id == message_id)
            .values(status=status, last_error=error, sent_at=utcnow() if status == "sent" else None)
        )


def _email(settings: Settings, message: OutgoingMail) -> EmailMessage:
    email = EmailMessage()
    email["From"] = settings.mail_from
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(idstring=f"peergraph-{message.id}")
    # plain 7-bit text where it can be, so that a link in a .eml file reads as it is
    email.set_content(message.body, cte="7bit" if message.body.isascii() else "quoted-printable")
    return email


def _send(settings: Settings, message: OutgoingMail) -> None:
    email = _email(settings, message)
    if settings.smtp_host is None:
        folder = Path(settings.data_dir) / MAIL_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{message.id:06d}.eml"
        path.write_bytes(bytes(email))
        log.info("mail %d written to %s (no SMTP server configured)", message.id, path)
        return
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
        smtp.send_message(email)
    log.info("mail %d sent", message.id)


Composed = tuple[str, str, int]  # subject, body, items told


def queue_digests(
    engine: Engine,
    account_ids: list[int],
    last_sent: Any,
    period: Callable[[Account], timedelta | None],
    compose: Callable[[Session, Account], Composed | None],
    now: datetime,
) -> int:
    """Queue one digest mail for each account whose ``period`` has passed since its
    ``last_sent`` column (``Account.last_digest_at``, ``Account.last_alert_at``), each in
    its own transaction with what ``compose`` marks as told. Taken by one process only: the
    guarded update of ``last_sent`` is the lock (two workers). Returns how many."""
    queued = 0
    for account_id in account_ids:
        with Session(engine) as session, session.begin():
            account = session.get(Account, account_id)
            every = period(account) if account is not None else None
            if account is None or every is None:
                continue
            taken = rows_changed(
                session.execute(
                    update(Account)
                    .where(
                        Account.id == account_id,
                        or_(last_sent.is_(None), last_sent <= now - every),
                    )
                    .values({last_sent.key: now})
                )
            )
            if not taken:
                continue
            made = compose(session, account)
            if made is None:
                session.rollback()
                continue
            subject, body, _items = made
            enqueue(session, account.email, subject, body)
            queued += 1
    return queued
