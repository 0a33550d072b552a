"""Runtime settings, read from the environment only when asked (never at import time)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from peergraph.ingest.records import ImportLimits

DEFAULT_DATA_DIR = "./peergraph-data"
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
    ``PEERGRAPH_DATABASE_URL`` to point at another database (PostgreSQL later).
    ``allowed_hosts`` (``PEERGRAPH_ALLOWED_HOSTS``, comma-separated, ``*`` for any) are
    the Host headers the web server accepts; the import limits
    (``PEERGRAPH_MAX_RECORD_BYTES``, ``PEERGRAPH_MAX_JSON_DEPTH``) bound one record.
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
        path = Path(data_dir)
        return cls(data_dir=path, database_url=sqlite_url(path))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a positive whole number, not {raw!r}")
    return int(raw)


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'peergraph.sqlite3').resolve()}"
