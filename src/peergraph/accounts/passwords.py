"""Passwords: argon2id hashes (argon2-cffi's defaults, RFC 9106's second recommended
profile: 3 passes over 64 MiB, 4 lanes), and the rules a new password must meet."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 256  # bounds the work one log-in attempt costs

_hasher = PasswordHasher()
# verified when an e-mail address has no account, so that a wrong address takes as long
# to refuse as a wrong password (no telling from the timing who has an account)
_DUMMY = _hasher.hash("not a password anyone uses")


class PasswordRejected(ValueError):
    """A new password that does not meet the rules; the message says which."""


def check_new(password: str, *, email: str = "") -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordRejected(f"Use a password of at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise PasswordRejected(f"Use a password of at most {MAX_LENGTH} characters.")
    if email and password.strip().lower() == email.strip().lower():
        raise PasswordRejected("Use a password that is not your e-mail address.")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored`` (None: check a dummy, and fail)."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
