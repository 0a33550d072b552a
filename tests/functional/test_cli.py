"""The command line through Typer's runner, on a real store in a temporary folder."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from peergraph.cli.main import app

runner = CliRunner()


def invoke(data_dir, *args):
    return runner.invoke(app, ["--data-dir", str(data_dir), *args])


def test_help_everywhere():
    for args in ([], ["import"], ["stats"], ["imports"], ["serve"], ["db", "upgrade"]):
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0, args
        assert "Usage" in result.output


def test_import_then_stats(tmp_path, test_data):
    result = invoke(tmp_path, "import", "--quiet", str(test_data / "sample.csl.json"))
    assert result.exit_code == 0
    expected = "read 7, imported 4, merged 0, skipped 3 (wrong-type 2, missing-title 1)"
    assert expected in result.output
    result = invoke(tmp_path, "stats", "--json")
    assert result.exit_code == 0
    stats = json.loads(result.stdout)
    assert stats["tables"]["works"] == 4
    assert stats["sources"] == [{"format": "csl-json", "files": 1, "records": 4, "works": 4}]
    table = invoke(tmp_path, "stats")
    assert "works" in table.stdout and "csl-json" in table.stdout


def test_imports_lists_problems_with_file_line_and_reason(tmp_path, test_data):
    invoke(tmp_path, "import", "-q", str(test_data / "sample.bib"))
    listing = invoke(tmp_path, "imports")
    assert listing.exit_code == 0 and "bibtex" in listing.stdout
    detail = invoke(tmp_path, "imports", "1")
    assert detail.exit_code == 0
    assert "sample.bib: record 4, line 32: invalid-bibtex: unbalanced braces" in detail.stdout
    assert "record 5, line 37: missing-title" in detail.stdout
    assert invoke(tmp_path, "imports", "99").exit_code == 1


def test_reimport_reports_nothing_changed(tmp_path, test_data):
    invoke(tmp_path, "import", "-q", str(test_data / "arxiv.jsonl"))
    again = invoke(tmp_path, "import", "-q", str(test_data / "arxiv.jsonl"))
    assert again.exit_code == 0
    assert "already imported" in again.output and "nothing changed" in again.output


def test_unknown_format_is_one_line_and_nonzero(tmp_path, test_data):
    result = invoke(tmp_path, "import", str(test_data / "unknown.txt"))
    assert result.exit_code == 1
    assert result.output.strip().startswith("error: ")
    assert "unknown format" in result.output and "Traceback" not in result.output
    missing = invoke(tmp_path, "import", str(tmp_path / "nope.json"))
    assert missing.exit_code == 1 and "no such file" in missing.output
    bad_flag = invoke(tmp_path, "import", "--format", "marc21", str(test_data / "sample.bib"))
    assert bad_flag.exit_code == 2 and "unknown format 'marc21'" in bad_flag.output


def test_file_with_no_importable_record_exits_nonzero(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "https://openalex.org/W1", "title": null}\n{nope\n')
    result = invoke(tmp_path, "import", "-q", "--format", "openalex-jsonl", str(path))
    assert result.exit_code == 1
    assert "every record was skipped" in result.output


def test_good_file_still_imports_when_another_argument_is_bad(tmp_path, test_data):
    result = invoke(
        tmp_path, "import", "-q", str(test_data / "unknown.txt"), str(test_data / "arxiv.jsonl")
    )
    assert result.exit_code == 1  # one argument failed
    stats = json.loads(invoke(tmp_path, "stats", "--json").stdout)
    assert stats["tables"]["works"] == 2


def test_commands_refuse_an_out_of_date_store_and_migrate_brings_it_up(tmp_path, test_data):
    from alembic import command

    from peergraph.db import create_db_engine
    from peergraph.db.engine import alembic_config, current_revision, head_revision
    from peergraph.settings import Settings

    assert invoke(tmp_path, "import", "-q", str(test_data / "sample.csl.json")).exit_code == 0
    engine = create_db_engine(Settings.for_data_dir(tmp_path))
    command.downgrade(alembic_config(engine), "-1")
    older = current_revision(engine)
    assert older != head_revision()

    refused = invoke(tmp_path, "stats")
    assert refused.exit_code == 2
    assert f"at revision {older}" in refused.output and "peergraph migrate" in refused.output
    assert current_revision(engine) == older  # nothing migrated behind the operator's back
    assert invoke(tmp_path, "migrate", "--check").exit_code == 1

    done = invoke(tmp_path, "migrate")
    assert done.exit_code == 0 and head_revision() in done.output
    assert invoke(tmp_path, "migrate", "--check").exit_code == 0
    stats = invoke(tmp_path, "stats", "--json")
    assert stats.exit_code == 0 and json.loads(stats.stdout)["tables"]["works"] == 4
    engine.dispose()


@pytest.mark.blank_store
def test_a_second_migration_waits_for_the_first(tmp_path):
    """Two processes starting together take turns: one holding the migration lock keeps a
    `peergraph migrate` waiting until it lets go."""
    import contextlib
    import subprocess
    import sys

    from peergraph.db import create_db_engine
    from peergraph.db.engine import current_revision, head_revision, migration_lock
    from peergraph.settings import Settings

    engine = create_db_engine(Settings.for_data_dir(tmp_path))
    with migration_lock(engine):
        second = subprocess.Popen(
            [sys.executable, "-m", "peergraph", "--data-dir", str(tmp_path), "migrate"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        with contextlib.suppress(subprocess.TimeoutExpired):
            second.wait(timeout=8)
        assert second.poll() is None, "the second migration did not wait for the lock"
        assert current_revision(engine) is None
    output, _ = second.communicate(timeout=120)
    assert second.returncode == 0, output
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_embedding_queued_for_the_worker(tmp_path, test_data):
    from sqlalchemy import func, select

    from peergraph.db import create_db_engine
    from peergraph.search.models import WorkEmbedding
    from peergraph.settings import Settings

    invoke(tmp_path, "import", "-q", str(test_data / "profiles.csl.json"))
    queued = invoke(tmp_path, "embed", "--queue", "--limit", "5")
    assert queued.exit_code == 0 and "queued embedding job #1" in queued.output
    engine = create_db_engine(Settings.for_data_dir(tmp_path))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(WorkEmbedding)).scalar() == 0
    assert invoke(tmp_path, "worker", "--once", "--log-format", "text").exit_code == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(WorkEmbedding)).scalar() == 5
    engine.dispose()
    listed = invoke(tmp_path, "jobs", "1")
    assert "done" in listed.output and "embedded 5 works" in listed.output


def test_train_name_prior_counts_the_store(tmp_path, test_data):
    from peergraph.authors import prior

    empty = invoke(tmp_path, "train", "name-prior", "--out", str(tmp_path / "none.gz"))
    assert empty.exit_code == 1  # nothing imported and rebuilt yet
    assert "run `peergraph rebuild` first" in empty.output
    imported = invoke(tmp_path, "import", "--quiet", str(test_data / "profiles.csl.json"))
    assert imported.exit_code == 0
    assert invoke(tmp_path, "rebuild").exit_code == 0
    out = tmp_path / "name_prior.json.gz"
    result = invoke(tmp_path, "train", "name-prior", "--out", str(out))
    assert result.exit_code == 0, result.output
    table = prior.load(out)
    assert table.meta["min_count"] == prior.MIN_COUNT
    # every name kept was seen at least MIN_COUNT times: bin ≥ 1 + ⌊log₂ MIN_COUNT⌋
    kept = [*table.first.values(), *table.family.values()]
    assert kept and min(kept) >= prior.MIN_COUNT.bit_length()


LOOK_UP_NEVER_LOADS = ("numpy", "scipy", "sklearn", "onnxruntime", "fastapi", "alembic")


@pytest.mark.parametrize("command", [["stats"], ["profile", "Nobody In Particular"]])
def test_look_up_commands_load_no_heavy_module(tmp_path, test_data, command):
    """`stats` and `profile` answer in about a second on the full corpus because they
    import neither the numeric stack, the web app nor the migrations (each costs 0.2 to
    0.8 s of start-up): checked in a fresh interpreter, as a user runs them."""
    import subprocess
    import sys

    assert invoke(tmp_path, "import", "--quiet", str(test_data / "sample.csl.json")).exit_code == 0
    script = (
        "import sys\n"
        "from peergraph.cli.main import app\n"
        f"try: app({['--data-dir', str(tmp_path), *command]!r})\n"
        "except SystemExit: pass\n"
        f"print(sorted(m for m in {LOOK_UP_NEVER_LOADS!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr
