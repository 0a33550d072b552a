"""Where a test's store lives: a SQLite file in its folder, or, when the suite runs on
PostgreSQL (``PEERGRAPH_TEST_DATABASE_URL``, set by scripts/test-postgres), a throw-away
database of its own, named by a ``peergraph.toml`` in that folder.

Every PostgreSQL test database is a copy of one template migrated once per run (a copy
takes a fraction of a second; migrating takes seconds), and is dropped when its test ends.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from peergraph.db import create_db_engine, migrate
from peergraph.db.engine import postgres_url
from peergraph.settings import CONFIG_FILE, Settings

ADMIN_URL = os.environ.get("PEERGRAPH_TEST_DATABASE_URL", "")


class PostgresStores:
    """Creates and drops the test databases through one AUTOCOMMIT connection pool."""

    def __init__(self, admin_url: str) -> None:
        self.url = postgres_url(admin_url)
        self.admin: Engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []
        self._names = itertools.count(1)
        self._template_ready = False
        self.template = f"peergraph_template_{os.getpid()}"  # runs may share a server
        atexit.register(self.close)

    def _template(self) -> None:
        if self._template_ready:
            return
        with self.admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {self.template} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {self.template}"))
        engine = create_engine(self.url.set(database=self.template))
        try:
            migrate(engine)
        finally:
            engine.dispose()
        self._template_ready = True

    def create(self, *, blank: bool = False) -> str:
        """A new database (empty when ``blank``, else at the newest schema); its URL."""
        if not blank:
            self._template()
        name = f"peergraph_test_{os.getpid()}_{next(self._names)}"
        source = "template0" if blank else self.template
        with self.admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {source} STRATEGY file_copy"))
        self.created.append(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    def close(self) -> None:
        """Drop what is left, the template too (at exit)."""
        self.drop_created()
        with self.admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {self.template} WITH (FORCE)"))
        self.admin.dispose()

    def drop_created(self, since: int = 0) -> None:
        """Drop the databases made since the ``since``-th (all by default)."""
        with self.admin.connect() as conn:
            for name in self.created[since:]:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        del self.created[since:]


POSTGRES: PostgresStores | None = PostgresStores(ADMIN_URL) if ADMIN_URL else None


def on_postgres() -> bool:
    return POSTGRES is not None


def prepare_store(folder: Path, *, blank: bool = False) -> Path:
    """Make ``folder`` a store folder for this run's database: on PostgreSQL, a new
    database named in ``folder/peergraph.toml``; on SQLite nothing (the file appears on
    first use). Returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    if POSTGRES is not None and not (folder / CONFIG_FILE).exists():
        url = POSTGRES.create(blank=blank)
        (folder / CONFIG_FILE).write_text(f'database_url = "{url}"\n', encoding="utf-8")
    return folder


def store_engine(folder: Path) -> Engine:
    """The engine of the store in ``folder`` (prepared first), schema at head."""
    engine = create_db_engine(Settings.for_data_dir(prepare_store(folder)))
    migrate(engine)
    return engine


def copied_store(folder: Path, into: Path) -> Settings:
    """A copy of a SQLite store folder (closed), to change without touching the original."""
    shutil.copytree(folder, into)
    return Settings.for_data_dir(into)


def import_contents(engine: Engine) -> dict[str, list[tuple]]:
    """What an import wrote (works, authorships, the import's counts), independent of row
    ids: two stores that imported the same records compare equal."""
    with engine.connect() as conn:
        return {
            "works": conn.execute(
                text("SELECT title, year, dedupe_key FROM works ORDER BY dedupe_key, title")
            ).all(),
            "authorships": conn.execute(
                text(
                    "SELECT w.dedupe_key, w.title, a.position, a.raw_name FROM authorships a"
                    " JOIN works w ON w.id = a.work_id ORDER BY 1, 2, 3, 4"
                )
            ).all(),
            "imports": conn.execute(
                text(
                    "SELECT status, records_read, records_imported, records_merged,"
                    " records_skipped FROM imports"
                )
            ).all(),
        }
