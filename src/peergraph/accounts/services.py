"""What accounts do: sign up, verify, log in and out, reset and change, tokens, delete.

Functions take the caller's ORM session and never commit: the route commits once, so a
change and the mail that reports it (accounts/mail.py) land together or not at all.
Rate-limit events are the exception the caller must commit even when the attempt fails
(``LoginFailed`` says so).

Nothing here tells a stranger whether an address has an account: sign-up and reset
answer the same either way (the mail says what happened), and a log-in with an unknown
address costs the same argon2 verification as a wrong password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from peergraph.accounts import mail, passwords, ratelimit
from peergraph.accounts.models import (
    ROLES,
    Account,
    AccountLink,
    AccountSession,
    ApiToken,
)
from peergraph.accounts.secrets import Signing, new_token, token_hash
from peergraph.db.base import rows_changed

SESSION_LIFETIME = timedelta(days=14)
LINK_LIFETIME = {
    "verify": timedelta(hours=48),
    "reset": timedelta(hours=1),
    "change-email": timedelta(hours=24),
}
API_TOKEN_PREFIX = "pgt_"
MAX_API_TOKENS = 20
MAX_EMAIL = 254
# one @, something before it, a dotted domain after it, no spaces or angle brackets:
# enough to catch typing errors; the verification mail proves the rest
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;.]+$")


class AccountError(ValueError):
    """A request that cannot be done; the message is for the person who made it."""


class LoginFailed(AccountError):
    """Wrong address or password (one message for both). The rate-limit events the
    attempt counted are in the session: commit it."""


class NotVerified(AccountError):
    """The password was right but the address is not verified yet."""


@dataclass(frozen=True)
class Context:
    """Who is asking, from where, and how to sign and build links."""

    signing: Signing
    base_url: str  # links in mail point here
    ip: str
    now: datetime

    def key(self, rule: str, value: str) -> str:
        return self.signing.digest("rate", rule, value.lower())

    def link(self, path: str, token: str, purpose: str) -> str:
        return f"{self.base_url}{path}?token={self.signing.sign(token, purpose)}"


def normalize_email(raw: str) -> str:
    email = raw.strip().lower()
    if len(email) > MAX_EMAIL or not _EMAIL.match(email):
        raise AccountError("Enter an e-mail address like name@example.org.")
    return email


def by_email(session: Session, email: str) -> Account | None:
    return session.scalars(select(Account).where(Account.email == email)).one_or_none()


# ---- sign-up and verification ------------------------------------------------------------


def sign_up(session: Session, ctx: Context, email: str, password: str) -> None:
    """Create an unverified account and mail it a verification link. An address that
    already has an account gets a mail saying so instead (the page is the same)."""
    email = normalize_email(email)
    passwords.check_new(password, email=email)
    ratelimit.check(session, "signup-ip", ctx.key("signup-ip", ctx.ip), ctx.now)
    ratelimit.hit(session, "signup-ip", ctx.key("signup-ip", ctx.ip), ctx.now)
    account = by_email(session, email)
    if account is None:
        account = Account(
            email=email,
            password_hash=passwords.hash_password(password),
            role="member",
            status="active",
            created_at=ctx.now,
        )
        session.add(account)
        session.flush()
        _send_verification(session, ctx, account)
        return
    _count_mail(session, ctx, account)
    if account.email_verified_at is None and account.orcid is None:
        # Nobody has proven this address yet, so the account is nobody's: the newest
        # sign-up's password replaces the old one and earlier links stop working. (Else
        # whoever signed up first with someone else's address would get in with the
        # address owner's click.)
        account.password_hash = passwords.hash_password(password)
        session.execute(
            delete(AccountLink).where(
                AccountLink.account_id == account.id, AccountLink.purpose == "verify"
            )
        )
        _send_verification(session, ctx, account)
        return
    mail.enqueue(
        session,
        account.email,
        "Someone tried to sign up with your address",
        f"Someone (perhaps you) tried to create a peergraph account with {account.email}, "
        f"which already has one.\n\nLog in: {ctx.base_url}/login\n"
        f"Forgot your password? {ctx.base_url}/reset\n\nIf it was not you, ignore this mail.\n",
    )


def _count_mail(session: Session, ctx: Context, account: Account) -> None:
    key = ctx.key("mail-account", str(account.id))
    ratelimit.check(session, "mail-account", key, ctx.now)
    ratelimit.hit(session, "mail-account", key, ctx.now)


def _new_link(
    session: Session, ctx: Context, account: Account, purpose: str, new_email: str | None = None
) -> str:
    token = new_token()
    session.add(
        AccountLink(
            token_hash=token_hash(token),
            account_id=account.id,
            purpose=purpose,
            new_email=new_email,
            created_at=ctx.now,
            expires_at=ctx.now + LINK_LIFETIME[purpose],
        )
    )
    return token


def _send_verification(session: Session, ctx: Context, account: Account) -> None:
    token = _new_link(session, ctx, account, "verify")
    hours = int(LINK_LIFETIME["verify"].total_seconds() // 3600)
    who = (
        f"Someone signed in with ORCID iD {account.orcid} and asked to use this address "
        "for their peergraph account. Open the link only if that ORCID iD is yours."
        if account.orcid
        else "Welcome to peergraph."
    )
    mail.enqueue(
        session,
        account.email,
        "Verify your e-mail address for peergraph",
        f"{who}\n\nTo verify your address and finish signing up, open this "
        f"link within {hours} hours:\n\n{ctx.link('/verify-email', token, 'verify')}\n\n"
        "If you did not sign up, ignore this mail; the address is not used until the "
        "link is.\n",
    )


def find_link(
    session: Session, signing: Signing, signed: str | None, purpose: str, now: datetime
) -> AccountLink:
    """The unused, unexpired link ``signed`` stands for, or AccountError."""
    token = signing.unsign(signed, purpose)
    link = None
    if token is not None:
        link = session.scalars(
            select(AccountLink).where(
                AccountLink.token_hash == token_hash(token), AccountLink.purpose == purpose
            )
        ).one_or_none()
    if link is None or link.used_at is not None or link.expires_at <= now:
        raise AccountError(
            "This link is not valid: it has expired, was already used, or was copied "
            "incompletely. Ask for a new one."
        )
    return link


def _use_link(session: Session, ctx: Context, signed: str | None, purpose: str) -> AccountLink:
    link = find_link(session, ctx.signing, signed, purpose, ctx.now)
    # used once, even when two requests race: only one update finds it unused
    used = rows_changed(
        session.execute(
            update(AccountLink)
            .where(AccountLink.id == link.id, AccountLink.used_at.is_(None))
            .values(used_at=ctx.now)
        )
    )
    if used != 1:
        raise AccountError("This link was already used. Ask for a new one.")
    return link


def verify_email(session: Session, ctx: Context, signed: str | None) -> Account:
    link = _use_link(session, ctx, signed, "verify")
    account = session.get_one(Account, link.account_id)
    if account.email_verified_at is None:
        account.email_verified_at = ctx.now
    return account


# ---- log-in, sessions --------------------------------------------------------------------


def authenticate(session: Session, ctx: Context, email: str, password: str) -> Account:
    """The account whose address and password these are. Raises RateLimited before any
    password check when the address or the IP has failed too often, LoginFailed for a
    wrong pair (counted against both), NotVerified for an unverified address."""
    address = email.strip().lower()[:MAX_EMAIL]
    account_key, ip_key = ctx.key("login-account", address), ctx.key("login-ip", ctx.ip)
    ratelimit.check(session, "login-account", account_key, ctx.now)
    ratelimit.check(session, "login-ip", ip_key, ctx.now)
    account = by_email(session, address)
    ok = passwords.verify(account.password_hash if account else None, password)
    if account is None or not ok or account.status != "active":
        ratelimit.hit(session, "login-account", account_key, ctx.now)
        ratelimit.hit(session, "login-ip", ip_key, ctx.now)
        raise LoginFailed("Wrong e-mail address or password.")
    ratelimit.clear(session, "login-account", account_key)
    if account.email_verified_at is None:
        _count_mail(session, ctx, account)
        _send_verification(session, ctx, account)
        raise NotVerified(
            f"Verify your e-mail address first: we have sent a new link to {account.email}."
        )
    if account.password_hash and passwords.needs_rehash(account.password_hash):
        account.password_hash = passwords.hash_password(password)
    return account


# ---- sign in with ORCID (the OpenID Connect flow itself is accounts/oidc.py) -------------


def by_orcid(session: Session, orcid: str) -> Account | None:
    return session.scalars(select(Account).where(Account.orcid == orcid)).one_or_none()


def orcid_sign_in(session: Session, orcid: str) -> Account | None:
    """The account an ORCID iD proven by the provider logs in, or None when no account is
    linked to it yet. The iD proves the person, so an address not verified yet does not
    stop this log-in (it still cannot back an e-mail claim)."""
    account = by_orcid(session, orcid)
    if account is not None and account.status != "active":
        raise LoginFailed("This account is suspended.")
    return account


def link_orcid(session: Session, account: Account, orcid: str) -> None:
    """Link a proven ORCID iD to a logged-in account (one account per iD)."""
    holder = by_orcid(session, orcid)
    if holder is not None and holder.id != account.id:
        raise AccountError(
            f"ORCID iD {orcid} is linked to another peergraph account already. Log in to "
            "that account, or unlink it there first."
        )
    account.orcid = orcid


def unlink_orcid(session: Session, account: Account) -> None:
    """Forget the account's ORCID iD; refused when it is the only way to log in. Claims
    approved through it keep the evidence they were decided on."""
    if account.password_hash is None:
        raise AccountError(
            "Set a password first (log out and use 'Forgot your password?'): without the "
            "ORCID iD you would have no way to log in."
        )
    account.orcid = None


def sign_up_with_orcid(session: Session, ctx: Context, email: str, orcid: str) -> None:
    """Create an account for a proven ORCID iD that has none, with no password, and mail
    the address a verification link. As with :func:`sign_up`, an address that has an
    account already gets a mail instead (the page is the same, so the form does not tell
    who has an account), and that account is not touched."""
    email = normalize_email(email)
    ratelimit.check(session, "signup-ip", ctx.key("signup-ip", ctx.ip), ctx.now)
    ratelimit.hit(session, "signup-ip", ctx.key("signup-ip", ctx.ip), ctx.now)
    if by_orcid(session, orcid) is not None:
        return  # signed up in another tab meanwhile: signing in with ORCID logs it in
    account = by_email(session, email)
    if account is None:
        account = Account(
            email=email, role="member", status="active", orcid=orcid, created_at=ctx.now
        )
        session.add(account)
        session.flush()
        _send_verification(session, ctx, account)
        return
    _count_mail(session, ctx, account)
    mail.enqueue(
        session,
        account.email,
        "Someone tried to sign up with your address",
        f"Someone (perhaps you) signed in with ORCID iD {orcid} and tried to create a "
        f"peergraph account with {account.email}, which already has one.\n\n"
        f"To link that ORCID iD to your account, log in ({ctx.base_url}/login) and choose "
        f"'Link your ORCID iD' on your account page.\n\nIf it was not you, ignore this mail.\n",
    )


def start_session(session: Session, account: Account, now: datetime) -> str:
    """A new session for ``account``; the token goes in the cookie (a fresh one at every
    log-in: a token planted before the log-in is never promoted)."""
    token = new_token()
    session.add(
        AccountSession(
            token_hash=token_hash(token),
            account_id=account.id,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    account.last_login_at = now
    return token


def end_session(session: Session, token: str) -> None:
    session.execute(delete(AccountSession).where(AccountSession.token_hash == token_hash(token)))


def session_account(session: Session, token: str, now: datetime) -> tuple[Account, int] | None:
    """The active account a session token belongs to, and the session's id."""
    row = session.execute(
        select(Account, AccountSession.id)
        .join(AccountSession, AccountSession.account_id == Account.id)
        .where(AccountSession.token_hash == token_hash(token), AccountSession.expires_at > now)
    ).one_or_none()
    if row is None or row[0].status != "active":
        return None
    return row[0], row[1]


def end_other_sessions(session: Session, account: Account, keep: int | None = None) -> None:
    query = delete(AccountSession).where(AccountSession.account_id == account.id)
    if keep is not None:
        query = query.where(AccountSession.id != keep)
    session.execute(query)


# ---- passwords and addresses -------------------------------------------------------------


def request_reset(session: Session, ctx: Context, email: str) -> None:
    """Mail a one-time reset link when the address has an account (same answer when not)."""
    address = normalize_email(email)
    ratelimit.check(session, "reset-ip", ctx.key("reset-ip", ctx.ip), ctx.now)
    ratelimit.hit(session, "reset-ip", ctx.key("reset-ip", ctx.ip), ctx.now)
    account = by_email(session, address)
    if account is None or account.status != "active":
        return
    _count_mail(session, ctx, account)
    token = _new_link(session, ctx, account, "reset")
    minutes = int(LINK_LIFETIME["reset"].total_seconds() // 60)
    mail.enqueue(
        session,
        account.email,
        "Reset your peergraph password",
        f"To choose a new password, open this link within {minutes} minutes. It works "
        f"once.\n\n{ctx.link('/reset/confirm', token, 'reset')}\n\n"
        "If you did not ask for this, ignore this mail: your password stays as it is.\n",
    )


def reset_password(session: Session, ctx: Context, signed: str | None, password: str) -> Account:
    link = find_link(session, ctx.signing, signed, "reset", ctx.now)
    account = session.get_one(Account, link.account_id)
    passwords.check_new(password, email=account.email)
    _use_link(session, ctx, signed, "reset")
    account.password_hash = passwords.hash_password(password)
    if account.email_verified_at is None:
        account.email_verified_at = ctx.now  # the reset link proved the mailbox
    end_other_sessions(session, account)  # whoever knew the old password is logged out
    return account


def change_password(
    session: Session, account: Account, current: str, new: str, keep_session: int | None
) -> None:
    if not passwords.verify(account.password_hash, current):
        raise AccountError("Your current password is not right.")
    passwords.check_new(new, email=account.email)
    account.password_hash = passwords.hash_password(new)
    end_other_sessions(session, account, keep=keep_session)


def request_email_change(
    session: Session, ctx: Context, account: Account, password: str, new_email: str
) -> str:
    """Mail a confirmation link to the new address (the old one is told); returns it."""
    if not passwords.verify(account.password_hash, password):
        raise AccountError("Your password is not right.")
    address = normalize_email(new_email)
    if address == account.email:
        raise AccountError("That is already your address.")
    if by_email(session, address) is not None:
        raise AccountError("Another account uses that address.")
    _count_mail(session, ctx, account)
    token = _new_link(session, ctx, account, "change-email", new_email=address)
    mail.enqueue(
        session,
        address,
        "Confirm your new address for peergraph",
        f"To use {address} for your peergraph account, open this link within 24 hours:"
        f"\n\n{ctx.link('/account/email/confirm', token, 'change-email')}\n",
    )
    mail.enqueue(
        session,
        account.email,
        "Your peergraph address is about to change",
        f"Someone logged in to your account asked to change its address to {address}. "
        "Nothing changes until the new address confirms. If it was not you, reset your "
        f"password: {ctx.base_url}/reset\n",
    )
    return address


def confirm_email_change(session: Session, ctx: Context, signed: str | None) -> Account:
    link = _use_link(session, ctx, signed, "change-email")
    account = session.get_one(Account, link.account_id)
    if link.new_email is None:  # a change-email link always carries the address
        raise RuntimeError(f"mail link {link.id} has no new address")
    if by_email(session, link.new_email) is not None:
        raise AccountError("Another account uses that address now.")
    account.email = link.new_email
    account.email_verified_at = ctx.now
    return account


def check_password(account: Account, password: str) -> None:
    """AccountError unless ``password`` is the account's (an ORCID-only account has none)."""
    if account.password_hash is not None and not passwords.verify(account.password_hash, password):
        raise AccountError("Your password is not right.")


def delete_account(session: Session, account: Account) -> None:
    """Delete the account and everything it holds (sessions, links, tokens); the caller
    checked the password and released its claims (claims/services.py ``forget_account``)."""
    for model in (AccountSession, AccountLink, ApiToken):
        session.execute(delete(model).where(model.account_id == account.id))
    session.delete(account)


# ---- API tokens ----------------------------------------------------------------------------


def create_api_token(session: Session, account: Account, name: str, now: datetime) -> str:
    """A new personal API token; the only time its value is known."""
    name = " ".join(name.split())[:100]
    if not name:
        raise AccountError("Give the token a name, so that you can tell it apart later.")
    active = session.scalars(
        select(ApiToken.id).where(ApiToken.account_id == account.id, ApiToken.revoked_at.is_(None))
    ).all()
    if len(active) >= MAX_API_TOKENS:
        raise AccountError(f"An account has at most {MAX_API_TOKENS} tokens; revoke one first.")
    token = API_TOKEN_PREFIX + new_token()
    session.add(
        ApiToken(
            account_id=account.id,
            name=name,
            prefix=token[: len(API_TOKEN_PREFIX) + 6],
            token_hash=token_hash(token),
            created_at=now,
        )
    )
    return token


def api_tokens(session: Session, account: Account) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.account_id == account.id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.id)
        )
    )


def revoke_api_token(session: Session, account: Account, token_id: int, now: datetime) -> None:
    revoked = rows_changed(
        session.execute(
            update(ApiToken)
            .where(
                ApiToken.id == token_id,
                ApiToken.account_id == account.id,
                ApiToken.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
    )
    if revoked != 1:
        raise AccountError("You have no such token.")


def api_token_account(session: Session, token: str, now: datetime) -> Account | None:
    if not token.startswith(API_TOKEN_PREFIX) or len(token) > 100:
        return None
    row = session.execute(
        select(Account, ApiToken)
        .join(ApiToken, ApiToken.account_id == Account.id)
        .where(ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None))
    ).one_or_none()
    if row is None or row[0].status != "active" or row[0].email_verified_at is None:
        return None
    account, api_token = row
    if api_token.last_used_at is None or now - api_token.last_used_at > timedelta(minutes=5):
        api_token.last_used_at = now  # at most one write per token every 5 minutes
    return account


# ---- operators -----------------------------------------------------------------------------


def create_user(session: Session, email: str, password: str, role: str, now: datetime) -> Account:
    """An account with a verified address (``peergraph admin create-user``)."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    address = normalize_email(email)
    passwords.check_new(password, email=address)
    if by_email(session, address) is not None:
        raise AccountError(f"{address} already has an account")
    account = Account(
        email=address,
        password_hash=passwords.hash_password(password),
        role=role,
        status="active",
        email_verified_at=now,
        created_at=now,
    )
    session.add(account)
    session.flush()
    return account


def set_role(session: Session, email: str, role: str) -> Account:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    account = by_email(session, normalize_email(email))
    if account is None:
        raise AccountError(f"{email} has no account")
    account.role = role
    return account
