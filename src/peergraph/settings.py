"""Runtime settings, read from the environment only when asked (never at import time)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = "./peergraph-data"


@dataclass(frozen=True)
class Settings:
    """Everything a peergraph process needs to know about its environment.

    ``database_url`` defaults to a SQLite file inside ``data_dir``; set
    ``PEERGRAPH_DATABASE_URL`` to point at another database (PostgreSQL later).
    """

    data_dir: Path
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    page_size: int = 25

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, data_dir: Path | None = None
    ) -> Settings:
        """Settings from ``PEERGRAPH_*`` variables; ``data_dir`` (a CLI flag) wins."""
        env = os.environ if environ is None else environ
        folder = data_dir or Path(env.get("PEERGRAPH_DATA_DIR", DEFAULT_DATA_DIR)).expanduser()
        url = env.get("PEERGRAPH_DATABASE_URL") or sqlite_url(folder)
        return cls(data_dir=folder, database_url=url)

    @classmethod
    def for_data_dir(cls, data_dir: Path | str) -> Settings:
        path = Path(data_dir)
        return cls(data_dir=path, database_url=sqlite_url(path))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'peergraph.sqlite3').resolve()}"
