"""The database's own text indexes, one backend per database, chosen by the connection.

What the rest of peergraph asks of them (ingest, profiles and search never name a text
index or a table behind one):

- ``work_candidates`` / ``work_total``: works matching any query term, best first;
- ``record_names``: author records whose name has every query word as a word prefix;
- ``add_works``: index a batch of new works, in the importer's transaction;
- ``names_changed``: the records were rewritten (a rebuild), in its transaction;
- ``check``: what is missing or damaged, and rebuild it when asked.

SQLite: FTS5 tables ``works_fts`` (Porter stemmer, ranked by FTS5's BM25, the same
ranking as the in-memory index in search/lexical.py) and ``records_fts``.

PostgreSQL: a generated, stored tsvector column ``works.search_document`` with a GIN
index, and a GIN index on an expression of record names (migration 0011), all kept
current by PostgreSQL on every write, so ``add_works`` and ``names_changed`` have nothing
to do. Works are ranked
by ``ts_rank`` over the title (weight A) and abstract (weight D at a third of A, as
TITLE_WEIGHT says) with length normalisation 1. That ranking is not BM25; it answers only
while a process's in-memory BM25 index is being built and in one-shot CLI searches
(docs/search.md, "Keyword ranking on PostgreSQL").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from peergraph.search.keyword import TITLE_WEIGHT, fts_query, query_terms

if TYPE_CHECKING:
    from peergraph.search.services import Resolved

MAX_NAME_WORDS = 4


@dataclass
class Health:
    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def name_words(query: str) -> list[str] | None:
    """The words of a name query (1–4 words, letters and digits only), None otherwise."""
    words = [w for w in query.replace('"', " ").split() if any(c.isalnum() for c in w)]
    if not words or len(words) > MAX_NAME_WORDS:
        return None
    tokens = [t for w in words for t in query_terms(w) or [w.lower()]]
    cleaned = ["".join(c for c in t if c.isalnum()) for t in tokens]
    return [t for t in cleaned if t] or None


class TextIndex(Protocol):
    def work_candidates(
        self, session: Session, query: str, limit: int, where: Resolved | None
    ) -> list[tuple[int, float]]: ...

    def work_total(self, session: Session, query: str, where: Resolved | None) -> int: ...

    def record_names(self, session: Session, words: list[str], limit: int) -> list[int]: ...

    def add_works(self, conn: Connection, first_id: int, last_id: int) -> None: ...

    def names_changed(self, conn: Connection) -> None: ...

    def rebuild(self, conn: Connection) -> None: ...

    def check(self, engine: Engine, *, repair: bool) -> Health: ...


def _filters(where: Resolved | None) -> tuple[str, dict[str, Any]]:
    return where.sql() if where else ("", {})


class SqliteText:
    """FTS5: ``works_fts`` (content table ``works``) and ``records_fts``."""

    DDL: ClassVar[dict[str, tuple[str, ...]]] = {
        "works_fts": (
            "CREATE VIRTUAL TABLE works_fts USING fts5(title, abstract, content='works',"
            " content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
            "CREATE TRIGGER IF NOT EXISTS works_fts_delete AFTER DELETE ON works BEGIN"
            " INSERT INTO works_fts(works_fts, rowid, title, abstract)"
            " VALUES ('delete', old.id, old.title, old.abstract); END",
            "CREATE TRIGGER IF NOT EXISTS works_fts_update AFTER UPDATE OF title, abstract"
            " ON works BEGIN INSERT INTO works_fts(works_fts, rowid, title, abstract)"
            " VALUES ('delete', old.id, old.title, old.abstract);"
            " INSERT INTO works_fts(rowid, title, abstract)"
            " VALUES (new.id, new.title, new.abstract); END",
        ),
        "records_fts": (
            "CREATE VIRTUAL TABLE records_fts USING fts5(display_name,"
            " content='author_records', content_rowid='id',"
            " tokenize='unicode61 remove_diacritics 2')",
        ),
    }

    def work_candidates(
        self, session: Session, query: str, limit: int, where: Resolved | None
    ) -> list[tuple[int, float]]:
        conds, params = _filters(where)
        join = " JOIN works w ON w.id = works_fts.rowid" if conds else ""
        rows = session.execute(
            text(
                f"SELECT works_fts.rowid, bm25(works_fts, {TITLE_WEIGHT}, 1) AS score"
                f" FROM works_fts{join}"
                f" WHERE works_fts MATCH :q{conds} ORDER BY score LIMIT :limit"
            ),
            {"q": fts_query(query) or '""', "limit": limit, **params},
        ).all()
        return [(int(r[0]), -float(r[1])) for r in rows]

    def work_total(self, session: Session, query: str, where: Resolved | None) -> int:
        conds, params = _filters(where)
        join = " JOIN works w ON w.id = works_fts.rowid" if conds else ""
        return int(
            session.execute(
                text(f"SELECT count(*) FROM works_fts{join} WHERE works_fts MATCH :q{conds}"),
                {"q": fts_query(query) or '""', **params},
            ).scalar_one()
        )

    def record_names(self, session: Session, words: list[str], limit: int) -> list[int]:
        match = " AND ".join(f'"{w}"*' for w in words)
        return [
            int(r[0])
            for r in session.execute(
                text(
                    "SELECT r.id FROM records_fts JOIN author_records r ON r.id = records_fts.rowid"
                    " WHERE records_fts MATCH :q ORDER BY r.works_count DESC, r.id LIMIT :limit"
                ),
                {"q": match, "limit": limit},
            )
        ]

    def add_works(self, conn: Connection, first_id: int, last_id: int) -> None:
        # one INSERT … SELECT per batch is about three times cheaper than a row trigger
        conn.exec_driver_sql(
            "INSERT INTO works_fts(rowid, title, abstract)"
            " SELECT id, title, abstract FROM works WHERE id BETWEEN ? AND ?",
            (first_id, last_id),
        )

    def names_changed(self, conn: Connection) -> None:
        conn.execute(text("INSERT INTO records_fts(records_fts) VALUES ('rebuild')"))

    def rebuild(self, conn: Connection) -> None:
        """Both indexes again from their content tables (after a bulk copy)."""
        for table in self.DDL:
            conn.execute(text(f"INSERT INTO {table}({table}) VALUES ('rebuild')"))

    def check(self, engine: Engine, *, repair: bool) -> Health:
        health = Health()
        for table, statements in self.DDL.items():
            problem = self._problem(engine, table)
            if problem is None:
                continue
            health.problems.append(problem)
            if not repair:
                continue
            with engine.begin() as conn:
                if problem.endswith("is missing"):
                    for statement in statements:
                        conn.execute(text(statement))
                conn.execute(text(f"INSERT INTO {table}({table}) VALUES ('rebuild')"))
            health.repaired.append(f"{table} rebuilt")
        return health

    @staticmethod
    def _problem(engine: Engine, table: str) -> str | None:
        """None when ``table`` exists and matches its content table, else what is wrong."""
        with engine.connect() as conn:
            exists = conn.execute(
                text("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = :t"),
                {"t": table},
            ).scalar_one()
            if not exists:
                return f"{table} is missing"
            try:
                conn.execute(
                    text(f"INSERT INTO {table}({table}, rank) VALUES ('integrity-check', 1)")
                )
                conn.rollback()
            except Exception as exc:
                return f"{table} is damaged ({str(exc).splitlines()[0][:120]})"
        return None


# what works.search_document holds (migration 0013 copies it); peergraph_fold (0013) is
# unaccent(), as FTS5's remove_diacritics, where the extension could be created
WORK_DOCUMENT = (
    "(setweight(to_tsvector('english'::regconfig, peergraph_fold(coalesce(title, ''))), 'A')"
    " || setweight(to_tsvector('english'::regconfig,"
    " peergraph_fold(coalesce(abstract, ''))), 'D'))"
)
# the indexed name expression: queries repeat it exactly, so PostgreSQL uses the index
RECORD_NAME = "to_tsvector('simple'::regconfig, peergraph_fold(display_name))"
# ts_rank's weights are {D, C, B, A}: an abstract word counts a third of a title word
WORK_WEIGHTS = "'{%.4f, 0.2, 0.4, 1.0}'" % (1 / TITLE_WEIGHT)


class PostgresText:
    """GIN indexes over ``works.search_document`` and an expression of record names."""

    INDEXES: ClassVar[dict[str, str]] = {
        "ix_works_text": "CREATE INDEX ix_works_text ON works USING gin (search_document)",
        "ix_author_records_name_text": (
            f"CREATE INDEX ix_author_records_name_text ON author_records USING gin ({RECORD_NAME})"
        ),
    }

    @staticmethod
    def _tsquery(query: str) -> str:
        # query_terms yields \\w+ words: never tsquery syntax (& | ! ( ) : * ' or spaces)
        return " | ".join(query_terms(query)) or "''"

    def work_candidates(
        self, session: Session, query: str, limit: int, where: Resolved | None
    ) -> list[tuple[int, float]]:
        conds, params = _filters(where)
        rows = session.execute(
            text(
                f"SELECT w.id, ts_rank({WORK_WEIGHTS}, w.search_document, q, 1) AS score"
                " FROM works w, to_tsquery('english', peergraph_fold(:q)) q"
                f" WHERE w.search_document @@ q{conds} ORDER BY score DESC, w.id LIMIT :limit"
            ),
            {"q": self._tsquery(query), "limit": limit, **params},
        ).all()
        return [(int(r[0]), float(r[1])) for r in rows]

    def work_total(self, session: Session, query: str, where: Resolved | None) -> int:
        conds, params = _filters(where)
        return int(
            session.execute(
                text(
                    "SELECT count(*) FROM works w"
                    " WHERE w.search_document @@ to_tsquery('english', peergraph_fold(:q))"
                    f"{conds}"
                ),
                {"q": self._tsquery(query), **params},
            ).scalar_one()
        )

    def record_names(self, session: Session, words: list[str], limit: int) -> list[int]:
        match = " & ".join(f"{w}:*" for w in words)
        return [
            int(r[0])
            for r in session.execute(
                text(
                    "SELECT id FROM author_records"
                    f" WHERE {RECORD_NAME} @@ to_tsquery('simple', peergraph_fold(:q))"
                    " ORDER BY works_count DESC, id LIMIT :limit"
                ),
                {"q": match, "limit": limit},
            )
        ]

    def add_works(self, conn: Connection, first_id: int, last_id: int) -> None:
        """Nothing to do: PostgreSQL updates the GIN index with each insert."""

    def names_changed(self, conn: Connection) -> None:
        """Nothing to do: PostgreSQL updates the GIN index with each write."""

    def rebuild(self, conn: Connection) -> None:
        """Nothing to do: the GIN indexes took every copied row as it was written."""

    def check(self, engine: Engine, *, repair: bool) -> Health:
        health = Health()
        with engine.connect() as conn:
            valid: dict[str, bool] = dict(
                conn.execute(
                    text(
                        "SELECT c.relname, i.indisvalid FROM pg_index i"
                        " JOIN pg_class c ON c.oid = i.indexrelid"
                        " WHERE c.relname = ANY(:names)"
                    ),
                    {"names": list(self.INDEXES)},
                ).all()
            )
        for name, ddl in self.INDEXES.items():
            if valid.get(name) is True:
                continue
            health.problems.append(f"{name} is {'invalid' if name in valid else 'missing'}")
            if not repair:
                continue
            with engine.begin() as conn:
                conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
                conn.execute(text(ddl))
            health.repaired.append(f"{name} rebuilt")
        return health


def text_index(bind: Connection | Engine | Session) -> TextIndex:
    """The backend for the database behind ``bind``."""
    dialect = bind.get_bind().dialect if isinstance(bind, Session) else bind.dialect
    return PostgresText() if dialect.name == "postgresql" else SqliteText()
