"""``peergraph admin``: accounts an operator makes or changes from the command line."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

admin_app = typer.Typer(help="Operator commands: accounts and roles.", no_args_is_help=True)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@admin_app.command("create-user")
def create_user(
    email: Annotated[str, typer.Argument(help="The account's e-mail address (verified as given).")],
    role: Annotated[str, typer.Option("--role", help="member, moderator or admin.")] = "member",
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password from the first line of standard input instead of "
            "asking for it (for scripts; never put a password on the command line).",
        ),
    ] = False,
) -> None:
    """Make an account with a verified address and the given role, e.g. the first admin:
    `peergraph admin create-user you@example.org --role admin`."""
    from sqlalchemy.orm import Session

    from peergraph.accounts import services
    from peergraph.accounts.passwords import PasswordRejected
    from peergraph.cli.main import _engine, err, out
    from peergraph.db.base import utcnow

    engine = _engine()
    password = _password(password_stdin)
    with Session(engine) as session:
        try:
            account = services.create_user(session, email, password, role, utcnow())
        except (services.AccountError, PasswordRejected) as exc:
            err.print(f"error: {exc}")
            raise typer.Exit(2) from exc
        session.commit()
        out.print(f"created {account.role} account {account.id} for {account.email}")


@admin_app.command("set-role")
def set_role(
    email: Annotated[str, typer.Argument(help="The account's e-mail address.")],
    role: Annotated[str, typer.Argument(help="member, moderator or admin.")],
) -> None:
    """Give an existing account another role."""
    from sqlalchemy.orm import Session

    from peergraph.accounts import services
    from peergraph.cli.main import _engine, err, out

    with Session(_engine()) as session:
        try:
            account = services.set_role(session, email, role)
        except services.AccountError as exc:
            err.print(f"error: {exc}")
            raise typer.Exit(2) from exc
        session.commit()
        out.print(f"{account.email} is now {account.role}")


@admin_app.command("grant-institution")
def grant_institution(
    email: Annotated[str, typer.Argument(help="The account's e-mail address.")],
    institution: Annotated[
        str,
        typer.Argument(
            help="The institution: its OpenAlex id (I27837315), its ROR id (00f54p054), "
            "either as a URL, or its number in this store."
        ),
    ],
    revoke: Annotated[
        bool, typer.Option("--revoke", help="Take the administrator's rights away instead.")
    ] = False,
) -> None:
    """Make an account an administrator of an institution: it may then confirm (L3)
    approved claims on records whose recent works carry that institution
    (docs/claims.md)."""
    from sqlalchemy.orm import Session

    from peergraph.accounts import services
    from peergraph.claims import services as claims
    from peergraph.cli.main import _engine, err, out
    from peergraph.db.base import utcnow

    with Session(_engine()) as session:
        try:
            account = services.by_email(session, services.normalize_email(email))
        except services.AccountError as exc:
            err.print(f"error: {exc}")
            raise typer.Exit(2) from exc
        if account is None:
            err.print(f"error: no account has the address {email}")
            raise typer.Exit(2)
        found = claims.find_institution(session, institution)
        if found is None:
            err.print(f"error: no institution {institution!r} in this store")
            raise typer.Exit(2)
        change = claims.revoke_institution if revoke else claims.grant_institution
        changed = change(session, account, found, utcnow())
        session.commit()
        verb = "is no longer" if revoke else "is now"
        note = "" if changed else " (no change)"
        out.print(f"{account.email} {verb} an administrator of {found.name}{note}")


@admin_app.command("send-digests")
def send_digests() -> None:
    """Queue and send the conversation digests and the weekly feed alerts that are due
    now (each account's settings). The worker does this once a minute; run it from cron
    when no worker runs."""
    from peergraph.accounts import mail
    from peergraph.cli.main import _engine, out, state
    from peergraph.conversations import digest
    from peergraph.db.base import utcnow
    from peergraph.feeds.services import send_alerts

    engine = _engine()
    settings = state.settings
    base = settings.base_url or f"http://localhost:{settings.port}"
    queued = digest.send_digests(engine, base, utcnow())
    alerts = send_alerts(engine, base, utcnow())
    sent = mail.deliver_pending(engine, settings)
    out.print(f"{queued} digest(s) and {alerts} alert digest(s) queued; {sent} message(s) sent")
