"""`peergraph copy`: a whole instance SQLite → the run's database → SQLite, row for row.

On the PostgreSQL run the middle store is a PostgreSQL database, so the round trip is
SQLite → PostgreSQL → SQLite; on the SQLite run it is SQLite throughout."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from typer.testing import CliRunner

from peergraph.cli.main import app
from peergraph.db import create_db_engine
from peergraph.db.copy import tables
from peergraph.jobs import queue
from peergraph.settings import Settings, sqlite_url
from tests.stores import prepare_store

runner = CliRunner()


def invoke(data_dir, *args):
    result = runner.invoke(app, ["--data-dir", str(data_dir), *args])
    assert result.exit_code == 0, result.output
    return result


def sqlite_store(folder) -> Settings:
    """A SQLite store on purpose, also on PostgreSQL runs (under tmp_path/sqlite)."""
    folder.mkdir(parents=True, exist_ok=True)
    return Settings(data_dir=folder, database_url=sqlite_url(folder))


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            t.name: [
                tuple(row)
                for row in conn.execute(select(t).order_by(*(t.primary_key.columns or t.columns)))
            ]
            for t in tables()
        }


def test_copy_keeps_every_row_there_and_back(tmp_path, test_data, monkeypatch):
    source = sqlite_store(tmp_path / "sqlite" / "source")
    monkeypatch.setenv("PEERGRAPH_DATABASE_URL", source.database_url)
    for name in ("profiles.csl.json", "openalex.jsonl", "sample.bib"):
        invoke(source.data_dir, "import", "--quiet", str(test_data / name))
    invoke(source.data_dir, "rebuild")
    invoke(source.data_dir, "embed", "--limit", "10")
    source_engine = create_db_engine(source)
    queue.enqueue(source_engine, "rebuild", {})
    before = snapshot(source_engine)
    assert before["works"] and before["author_records"] and before["work_embeddings"]
    assert before["jobs"] and before["imports"]

    middle = prepare_store(tmp_path / "middle")
    copied = invoke(source.data_dir, "copy", str(middle))
    assert f"copied {sum(len(rows) for rows in before.values()):,} rows" in copied.output
    middle_engine = create_db_engine(Settings.for_data_dir(middle))
    assert snapshot(middle_engine) == before

    back = sqlite_store(tmp_path / "sqlite" / "back")
    monkeypatch.setenv("PEERGRAPH_DATABASE_URL", middle_engine.url.render_as_string(False))
    invoke(middle, "copy", back.database_url)
    back_engine = create_db_engine(back)
    assert snapshot(back_engine) == before

    # the copies are live stores: search finds copied works, new ids follow the copied ones
    title = before["works"][0][1]
    found = invoke(back.data_dir, "search", "--mode", "keyword", title)
    assert f"1. {title[:30]}" in found.output
    monkeypatch.setenv("PEERGRAPH_DATABASE_URL", middle_engine.url.render_as_string(False))
    invoke(middle, "import", "--quiet", str(test_data / "sample.csl.json"))
    with middle_engine.connect() as conn:
        from peergraph.works.models import Work

        ids = list(conn.scalars(select(Work.id).order_by(Work.id)))
    assert len(ids) > len(before["works"]) and ids[: len(before["works"])] == [
        row[0] for row in before["works"]
    ]
    for engine in (source_engine, middle_engine, back_engine):
        engine.dispose()


def test_copy_into_a_store_with_data_is_refused_and_changes_nothing(tmp_path, test_data):
    first = prepare_store(tmp_path / "first")
    second = prepare_store(tmp_path / "second")
    runner.invoke(app, ["--data-dir", str(first), "import", "-q", str(test_data / "sample.bib")])
    runner.invoke(app, ["--data-dir", str(second), "import", "-q", str(test_data / "sample.bib")])
    engine = create_db_engine(Settings.for_data_dir(second))
    before = snapshot(engine)
    result = runner.invoke(app, ["--data-dir", str(first), "copy", str(second)])
    assert result.exit_code == 2
    assert "not empty" in result.output and "never merges" in result.output
    assert snapshot(engine) == before
    engine.dispose()
