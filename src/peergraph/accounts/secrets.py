"""The server's secret key, and what it signs: session cookies and mail links.

In development an unset ``PEERGRAPH_SECRET_KEY`` is generated once into
``<data_dir>/secret.key`` (readable by its owner only), so that every process serving
the same folder signs alike and sessions survive a restart. In production
(``PEERGRAPH_ENV=production``) the server refuses to start unless the key is set, at
least 32 characters long, and not an example value (docs/accounts.md).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from itsdangerous import BadSignature, Signer

from peergraph.settings import ConfigError, Settings

KEY_FILE = "secret.key"
MIN_PRODUCTION_LENGTH = 32
EXAMPLE_KEYS = frozenset({"change-me", "changeme", "secret", "development", "dev"})


def secret_key(settings: Settings) -> str:
    """The key to sign with; raises ConfigError where production would use a weak one."""
    key = settings.secret_key
    if settings.is_production:
        if not key:
            raise ConfigError(
                "PEERGRAPH_SECRET_KEY is not set: a production server needs a secret key of "
                "its own (e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if len(key) < MIN_PRODUCTION_LENGTH or key.lower() in EXAMPLE_KEYS:
            raise ConfigError(
                f"PEERGRAPH_SECRET_KEY is too weak for production: use at least "
                f"{MIN_PRODUCTION_LENGTH} random characters"
            )
        return key
    return key or _development_key(settings.data_dir)


def _development_key(folder: Path) -> str:
    path = folder / KEY_FILE
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    folder.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:  # O_EXCL: when two processes start at once, one writes and both read its key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the database keeps of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


class Signing:
    """Signs tokens for one purpose (a cookie, a kind of mail link) with the secret key;
    a value signed for one purpose does not verify for another."""

    def __init__(self, key: str) -> None:
        self.key = key

    def sign(self, value: str, purpose: str) -> str:
        return Signer(self.key, salt=purpose).sign(value).decode()

    def unsign(self, signed: str | None, purpose: str) -> str | None:
        """The value, or None when ``signed`` is missing, forged or for another purpose."""
        if not signed or len(signed) > 200:
            return None
        try:
            return Signer(self.key, salt=purpose).unsign(signed).decode()
        except (BadSignature, UnicodeDecodeError):
            return None

    def digest(self, *parts: str) -> str:
        """An HMAC of ``parts`` (CSRF tokens, rate-limit keys)."""
        message = "\x1f".join(parts).encode()
        return hmac.new(self.key.encode(), message, hashlib.sha256).hexdigest()
