"""Engine construction and schema migration. Nothing here runs at import time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, Table, create_engine, event, inspect, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from peergraph.settings import Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


PAGE_CACHE_MIB = 64  # SQLite's page cache per connection, for imports and rebuilds
SERVING_PAGE_CACHE_MIB = 8  # a web process: many connections, mostly small reads

POOL_TIMEOUT = 10  # seconds a request waits for a pooled PostgreSQL connection


def create_db_engine(settings: Settings, *, page_cache_mib: int = PAGE_CACHE_MIB) -> Engine:
    """Build the engine for ``settings.database_url``.

    SQLite files get WAL journaling (readers never block the importer), foreign keys on,
    and ``synchronous=NORMAL`` (durable at checkpoints, safe against process kills), and
    ``page_cache_mib`` of page cache per connection. Every pooled connection keeps its own
    cache, in the process's private memory: web processes ask for little (the operating
    system's file cache, which all processes share, holds the hot pages anyway).
    """
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            settings.database_url,
            connect_args={"timeout": 30, "check_same_thread": False},
        )
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(
            engine,
            "connect",
            lambda connection, _record: _set_page_cache(connection, page_cache_mib),
        )
        return engine
    # pre-ping: a connection the server dropped (a restart) is replaced, not used; a
    # server that does not answer fails a connection in 5 s instead of hanging a request,
    # and a request finding every pooled connection busy for 10 s is a 503 (web/observe.py)
    return create_engine(
        postgres_url(settings.database_url),
        pool_pre_ping=True,
        pool_timeout=POOL_TIMEOUT,
        connect_args={"connect_timeout": 5},
    )


def postgres_url(url: str) -> URL:
    """A PostgreSQL URL with the driver peergraph ships (psycopg 3) unless one is named:
    plain ``postgresql://`` would mean psycopg2, which is not installed."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _configure_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def _set_page_cache(dbapi_connection, mib: int) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA cache_size={-1024 * int(mib)}")  # negative: KiB
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(engine: Engine):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


FTS_TABLES = ("works_fts", "records_fts")
# PostgreSQL's (search/text.py): a generated tsvector column of works and GIN indexes
TEXT_COLUMN = "search_document"
TEXT_INDEXES = ("ix_works_text", "ix_author_records_name_text")


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Leave the text indexes to migrations: SQLite's FTS5 tables (and their shadow
    tables), PostgreSQL's generated tsvector column and GIN indexes, which no model
    declares."""
    if type_ == "table" and name is not None and name.startswith(FTS_TABLES):
        return False
    if type_ == "column" and name == TEXT_COLUMN:
        return False
    return not (type_ == "index" and name in TEXT_INDEXES)


class SchemaOutOfDate(RuntimeError):
    """The store's schema is older (or newer) than this version of peergraph."""


# any fixed 64-bit number: PostgreSQL advisory-lock key for "migrating the schema"
MIGRATION_LOCK_KEY = 0x70656572_6D696772  # "peermigr"


@contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Held while migrating, so processes starting together migrate one after the other:
    a lock file beside a SQLite store (flock; every process sharing a SQLite file is on
    one machine), a session advisory lock on PostgreSQL."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:":
            yield
            return
        import fcntl

        with open(f"{database}.migrate-lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
            conn.commit()


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` under ``migration_lock`` (idempotent; cheap
    when already current). Run by ``peergraph migrate``, by ``serve`` at start-up, and
    by any command that finds no store yet; never otherwise."""
    from alembic import command

    with migration_lock(engine):
        command.upgrade(alembic_config(engine), revision)


# The newest migration this version ships, written down so that every command's schema
# check needs no alembic import (a third of a second); tests/integration/test_migrations.py
# checks it against the migration scripts, so a new migration must update it.
HEAD_REVISION = "0020"


def head_revision() -> str:
    """The newest migration this version ships."""
    return HEAD_REVISION


@lru_cache(maxsize=1)
def scripts_head_revision() -> str:
    """The newest migration as alembic reads it from the scripts (slower: for tests)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        raise RuntimeError(f"{MIGRATIONS_DIR} holds no migration")
    return head


def ensure_schema(engine: Engine) -> str:
    """What a command checks before it touches the store: a store at the newest schema
    is used as it is, a new (empty) one is created; one at another revision is refused
    with what to do (``SchemaOutOfDate``), since migrating a store in use is the
    operator's decision (``peergraph migrate``), not a side effect of any command.
    Returns the revision."""
    head = head_revision()
    current = current_revision(engine)
    if current == head:
        return head
    if current is None and not inspect(engine).get_table_names():
        migrate(engine)
        return head
    raise SchemaOutOfDate(
        f"the store's schema is at revision {current or 'none'} and this version of "
        f"peergraph needs {head}: back the store up, then run `peergraph migrate`"
    )


def current_revision(engine: Engine) -> str | None:
    """The store's schema revision (None for a store without one): read straight from
    ``alembic_version``, cheap enough for every command and every /readyz."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def insert_ignore(connection: Connection, table: Table) -> Any:
    """INSERT … ON CONFLICT DO NOTHING on SQLite and PostgreSQL."""
    from sqlalchemy.dialects import postgresql, sqlite

    if connection.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()
