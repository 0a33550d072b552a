"""Runtime settings, read from the environment only when asked (never at import time)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peergraph.ingest.records import ImportLimits

DEFAULT_DATA_DIR = "./peergraph-data"
CONFIG_FILE = "peergraph.toml"  # optional, inside the data folder (or PEERGRAPH_CONFIG)
# config file key → environment variable; the variable wins when both are set
CONFIG_KEYS = {
    "database_url": "PEERGRAPH_DATABASE_URL",
    "allowed_hosts": "PEERGRAPH_ALLOWED_HOSTS",
    "max_record_bytes": "PEERGRAPH_MAX_RECORD_BYTES",
    "max_json_depth": "PEERGRAPH_MAX_JSON_DEPTH",
    "environment": "PEERGRAPH_ENV",
    "secret_key": "PEERGRAPH_SECRET_KEY",
    "base_url": "PEERGRAPH_BASE_URL",
    "smtp_host": "PEERGRAPH_SMTP_HOST",
    "smtp_port": "PEERGRAPH_SMTP_PORT",
    "smtp_user": "PEERGRAPH_SMTP_USER",
    "smtp_password": "PEERGRAPH_SMTP_PASSWORD",
    "smtp_starttls": "PEERGRAPH_SMTP_STARTTLS",
    "mail_from": "PEERGRAPH_MAIL_FROM",
    "oidc_issuer": "PEERGRAPH_OIDC_ISSUER",
    "oidc_client_id": "PEERGRAPH_OIDC_CLIENT_ID",
    "oidc_client_secret": "PEERGRAPH_OIDC_CLIENT_SECRET",
    "oidc_orcid_claim": "PEERGRAPH_OIDC_ORCID_CLAIM",
}
ENVIRONMENTS = ("development", "production")
DEFAULT_MAIL_FROM = "peergraph <noreply@localhost>"
# Sign in with ORCID: ORCID's public OpenID Connect issuer, whose ID tokens carry the
# ORCID iD as ``sub``; any other issuer can be configured (docs/accounts.md).
DEFAULT_OIDC_ISSUER = "https://orcid.org"
DEFAULT_OIDC_ORCID_CLAIM = "sub"
# Host names the server answers to unless PEERGRAPH_ALLOWED_HOSTS says otherwise: a
# forged Host header must not steer a redirect or a link (docs/security.md).
LOCAL_HOSTS = ("localhost", "127.0.0.1")
# the import limits' defaults, with their reasons, are ImportLimits' (ingest/records.py)
MAX_RECORD_BYTES = ImportLimits().max_record_bytes
MAX_JSON_DEPTH = ImportLimits().max_json_depth


@dataclass(frozen=True)
class Settings:
    """Everything a peergraph process needs to know about its environment.

    ``database_url`` defaults to a SQLite file inside ``data_dir``; set
    ``PEERGRAPH_DATABASE_URL`` to a ``postgresql+psycopg://`` URL to use PostgreSQL.
    ``allowed_hosts`` (``PEERGRAPH_ALLOWED_HOSTS``, comma-separated, ``*`` for any) are
    the Host headers the web server accepts; the import limits
    (``PEERGRAPH_MAX_RECORD_BYTES``, ``PEERGRAPH_MAX_JSON_DEPTH``) bound one record.
    Each can also be set in ``peergraph.toml`` in the data folder (or the file named by
    ``PEERGRAPH_CONFIG``) under the lower-case name (``database_url = "…"``); the
    environment wins over the file (docs/architecture.md, "Settings").
    """

    data_dir: Path
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    page_size: int = 25
    allowed_hosts: tuple[str, ...] = LOCAL_HOSTS
    max_record_bytes: int = MAX_RECORD_BYTES
    max_json_depth: int = MAX_JSON_DEPTH
    # accounts (docs/accounts.md): in development an unset secret key is generated once
    # into the data folder; production refuses to start without one of its own
    environment: str = "development"
    secret_key: str | None = None
    base_url: str | None = None  # the public URL mail links point at
    smtp_host: str | None = None  # unset: mail is written to <data_dir>/mail instead
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = DEFAULT_MAIL_FROM
    oidc_issuer: str = DEFAULT_OIDC_ISSUER
    oidc_client_id: str | None = None  # unset: no "Sign in with ORCID"
    oidc_client_secret: str | None = None
    oidc_orcid_claim: str = DEFAULT_OIDC_ORCID_CLAIM  # the ID-token claim holding the iD

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, data_dir: Path | None = None
    ) -> Settings:
        """Settings from ``PEERGRAPH_*`` variables; ``data_dir`` (a CLI flag) wins."""
        env = os.environ if environ is None else environ
        folder = data_dir or Path(env.get("PEERGRAPH_DATA_DIR", DEFAULT_DATA_DIR)).expanduser()
        config = Path(env.get("PEERGRAPH_CONFIG") or folder / CONFIG_FILE).expanduser()
        env = {**_config_file(config, required="PEERGRAPH_CONFIG" in env), **env}
        url = env.get("PEERGRAPH_DATABASE_URL") or sqlite_url(folder)
        hosts = tuple(
            h.strip() for h in env.get("PEERGRAPH_ALLOWED_HOSTS", "").split(",") if h.strip()
        )
        return cls(
            data_dir=folder,
            database_url=url,
            allowed_hosts=hosts or LOCAL_HOSTS,
            max_record_bytes=_positive(env, "PEERGRAPH_MAX_RECORD_BYTES", MAX_RECORD_BYTES),
            max_json_depth=_positive(env, "PEERGRAPH_MAX_JSON_DEPTH", MAX_JSON_DEPTH),
            environment=_choice(env, "PEERGRAPH_ENV", ENVIRONMENTS),
            secret_key=env.get("PEERGRAPH_SECRET_KEY") or None,
            base_url=(env.get("PEERGRAPH_BASE_URL") or "").rstrip("/") or None,
            smtp_host=env.get("PEERGRAPH_SMTP_HOST") or None,
            smtp_port=_positive(env, "PEERGRAPH_SMTP_PORT", 25),
            smtp_user=env.get("PEERGRAPH_SMTP_USER") or None,
            smtp_password=env.get("PEERGRAPH_SMTP_PASSWORD") or None,
            smtp_starttls=_flag(env, "PEERGRAPH_SMTP_STARTTLS"),
            mail_from=env.get("PEERGRAPH_MAIL_FROM") or DEFAULT_MAIL_FROM,
            oidc_issuer=(env.get("PEERGRAPH_OIDC_ISSUER") or DEFAULT_OIDC_ISSUER).rstrip("/"),
            oidc_client_id=env.get("PEERGRAPH_OIDC_CLIENT_ID") or None,
            oidc_client_secret=env.get("PEERGRAPH_OIDC_CLIENT_SECRET") or None,
            oidc_orcid_claim=env.get("PEERGRAPH_OIDC_ORCID_CLAIM") or DEFAULT_OIDC_ORCID_CLAIM,
        )

    @classmethod
    def for_data_dir(cls, data_dir: Path | str) -> Settings:
        """The settings of the store in ``data_dir``: its config file, no environment."""
        return cls.from_env({}, data_dir=Path(data_dir))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    def environment_variables(self) -> dict[str, str]:
        """These settings as the ``PEERGRAPH_*`` variables ``from_env`` reads back (what
        ``serve --workers N`` hands its processes)."""
        values = {
            "PEERGRAPH_DATA_DIR": str(self.data_dir),
            "PEERGRAPH_DATABASE_URL": self.database_url,
            "PEERGRAPH_ALLOWED_HOSTS": ",".join(self.allowed_hosts),
            "PEERGRAPH_MAX_RECORD_BYTES": str(self.max_record_bytes),
            "PEERGRAPH_MAX_JSON_DEPTH": str(self.max_json_depth),
            "PEERGRAPH_ENV": self.environment,
            "PEERGRAPH_SECRET_KEY": self.secret_key or "",
            "PEERGRAPH_BASE_URL": self.base_url or "",
            "PEERGRAPH_SMTP_HOST": self.smtp_host or "",
            "PEERGRAPH_SMTP_PORT": str(self.smtp_port),
            "PEERGRAPH_SMTP_USER": self.smtp_user or "",
            "PEERGRAPH_SMTP_PASSWORD": self.smtp_password or "",
            "PEERGRAPH_SMTP_STARTTLS": "1" if self.smtp_starttls else "0",
            "PEERGRAPH_MAIL_FROM": self.mail_from,
            "PEERGRAPH_OIDC_ISSUER": self.oidc_issuer,
            "PEERGRAPH_OIDC_CLIENT_ID": self.oidc_client_id or "",
            "PEERGRAPH_OIDC_CLIENT_SECRET": self.oidc_client_secret or "",
            "PEERGRAPH_OIDC_ORCID_CLAIM": self.oidc_orcid_claim,
        }
        return {name: value for name, value in values.items() if value}


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the reason."""


def _config_file(path: Path, *, required: bool) -> dict[str, str]:
    """The config file's settings as the environment variables they stand for."""
    if not path.is_file():
        if required:
            raise ConfigError(f"{path}: no such config file (named by PEERGRAPH_CONFIG)")
        return {}
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable TOML file ({exc})") from exc
    unknown = sorted(set(raw) - set(CONFIG_KEYS))
    if unknown:
        known = ", ".join(CONFIG_KEYS)
        raise ConfigError(f"{path}: unknown setting {unknown[0]!r} (known: {known})")
    values = {}
    for key, value in raw.items():
        if key == "allowed_hosts" and isinstance(value, list):
            value = ",".join(str(v) for v in value)
        if key == "smtp_starttls" and isinstance(value, bool):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ConfigError(f"{path}: {key} must be a string or a whole number")
        values[CONFIG_KEYS[key]] = str(value)
    return values


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a positive whole number, not {raw!r}")
    return int(raw)


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return choices[0]
    if raw not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return raw


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{name} must be true or false, not {raw!r}")


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'peergraph.sqlite3').resolve()}"
