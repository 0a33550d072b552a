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
}
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
        )

    @classmethod
    def for_data_dir(cls, data_dir: Path | str) -> Settings:
        """The settings of the store in ``data_dir``: its config file, no environment."""
        return cls.from_env({}, data_dir=Path(data_dir))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


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


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'peergraph.sqlite3').resolve()}"
