"""``peergraph`` — import open publication metadata, inspect the store, serve it.

Commands parse options, call services and print; the rules live in the services.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from peergraph.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from peergraph.ingest.loader import ImportSummary

app = typer.Typer(
    help="peergraph: an open research graph built from open publication metadata.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")

out = Console(highlight=False, markup=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)


class State:
    settings: Settings


state = State()


@app.callback()
def root(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            envvar="PEERGRAPH_DATA_DIR",
            help="Folder for the embedded SQLite store (default ./peergraph-data).",
        ),
    ] = None,
) -> None:
    state.settings = Settings.from_env(data_dir=data_dir)


def _engine() -> Engine:
    from peergraph.db import create_db_engine, migrate

    engine = create_db_engine(state.settings)
    migrate(engine)
    return engine


@app.command("import")
def import_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Files to import (plain or .gz), or OpenAlex snapshot folders.",
            show_default=False,
        ),
    ],
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="Override format detection: openalex-jsonl, openalex-api, openalex-json, "
            "csl-json, arxiv-jsonl, arxiv-atom, bibtex.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Re-read files already imported (de-duplication makes it a no-op)."
        ),
    ] = False,
) -> None:
    """Import publication metadata; the format is detected from the content.

    Formats: OpenAlex (snapshot JSON Lines and folders, API responses, single entities),
    CSL-JSON, arXiv (Kaggle snapshot, API Atom feeds) and BibTeX. Works are de-duplicated
    by DOI, arXiv id, OpenAlex id, PMID, then title + year + first author. Bad records are
    skipped and reported (see `peergraph imports ID`). Re-running a file is a no-op; an
    interrupted import resumes where it stopped.

    Exits non-zero only when a file cannot be read or no record in it could be imported.
    """
    from peergraph.cli.progress import ImportProgress
    from peergraph.ingest.formats import FORMATS, expand_paths
    from peergraph.ingest.loader import import_file
    from peergraph.ingest.records import FormatError

    if fmt is not None and fmt not in FORMATS:
        err.print(f"error: unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
        raise typer.Exit(2)
    targets = []
    failed = False
    for path in paths:
        try:
            targets.extend(expand_paths([path], fmt))
        except FormatError as exc:
            err.print(f"error: {exc}")
            failed = True
    engine = _engine()
    for target in targets:
        with ImportProgress(err, target.path, enabled=not quiet and err.is_terminal) as progress:
            summary = import_file(engine, target, progress=progress.update, force=force)
        _print_summary(summary, quiet=quiet)
        failed = failed or not summary.ok
    if failed:
        raise typer.Exit(1)


def _print_summary(summary: ImportSummary, *, quiet: bool) -> None:
    name = summary.path
    if summary.status == "already-imported":
        err.print(f"{name}: already imported (import #{summary.import_id}); nothing changed")
        return
    reasons = ", ".join(f"{r} {n:,}" for r, n in summary.skipped_by_reason.items())
    line = (
        f"{name} [{summary.format}]: read {summary.records_read:,}, imported {summary.imported:,}, "
        f"merged {summary.merged:,}, skipped {summary.skipped:,}"
        + (f" ({reasons})" if reasons else "")
    )
    if summary.resumed_from:
        line += f"; resumed after record {summary.resumed_from:,}"
    err.print(line, soft_wrap=True)
    if summary.message:
        err.print(f"  {summary.status}: {summary.message}", soft_wrap=True)
    if summary.skipped and not quiet:
        err.print(f"  details: peergraph imports {summary.import_id}")


@app.command()
def stats(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Counts per table and per data source."""
    import json

    from sqlalchemy.orm import Session

    from peergraph.works.services import count_tables, counts_by_source

    engine = _engine()
    with Session(engine) as session:
        tables = count_tables(session)
        sources = counts_by_source(session)
    if as_json:
        out.print_json(json.dumps({"tables": tables, "sources": sources}))
        return
    table = Table(title="Store", title_justify="left")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in tables.items():
        table.add_row(name, f"{count:,}")
    out.print(table)
    by_source = Table(title="Works by source format", title_justify="left")
    for column in ("format", "files", "records", "works"):
        by_source.add_column(column, justify="left" if column == "format" else "right")
    for row in sources:
        by_source.add_row(
            row["format"], f"{row['files']:,}", f"{row['records']:,}", f"{row['works']:,}"
        )
    if not sources:
        out.print("No works yet. Import some: peergraph import FILE")
    else:
        out.print(by_source)


@app.command()
def imports(
    import_id: Annotated[
        int | None, typer.Argument(help="Show one import with its skipped records.")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many skipped records to list.")] = 50,
) -> None:
    """List past imports, or show one import's problems (file, line, reason)."""
    from sqlalchemy.orm import Session

    from peergraph.ingest.services import get_import, import_issues, issue_reasons, list_imports

    engine = _engine()
    with Session(engine) as session:
        if import_id is None:
            runs = list_imports(session)
            if not runs:
                out.print("No imports yet. Try: peergraph import FILE")
                return
            table = Table()
            for column in (
                "id",
                "status",
                "format",
                "read",
                "imported",
                "merged",
                "skipped",
                "file",
            ):
                table.add_column(
                    column,
                    justify="right"
                    if column in ("id", "read", "imported", "merged", "skipped")
                    else "left",
                )
            for run in runs:
                table.add_row(
                    str(run.id),
                    run.status,
                    run.format,
                    f"{run.records_read:,}",
                    f"{run.records_imported:,}",
                    f"{run.records_merged:,}",
                    f"{run.records_skipped:,}",
                )
            out.print(table)
            for run in runs:
                out.print(f"#{run.id}: {run.path}", soft_wrap=True)
            return
        found = get_import(session, import_id)
        if found is None:
            err.print(f"error: no import #{import_id}")
            raise typer.Exit(1)
        run = found
        out.print(f"import #{run.id}: {run.path}", soft_wrap=True)
        started = f"{run.started_at:%Y-%m-%d %H:%M:%S}"
        out.print(f"  format {run.format}, status {run.status}, started {started}")
        out.print(
            f"  read {run.records_read:,}, imported {run.records_imported:,}, "
            f"merged {run.records_merged:,}, skipped {run.records_skipped:,}"
        )
        if run.message:
            out.print(f"  {run.message}")
        for reason, count in issue_reasons(session, run.id).items():
            out.print(f"  skipped {count:,} × {reason}")
        for issue in import_issues(session, run.id, limit=limit):
            where = f"record {issue.record_number}" + (f", line {issue.line}" if issue.line else "")
            out.print(f"  {run.path}: {where}: {issue.reason}: {issue.message}", soft_wrap=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the web pages and the JSON API (OpenAPI at /api/openapi.json)."""
    import uvicorn

    from peergraph.web.app import create_app

    settings = state.settings
    _engine().dispose()  # migrate before serving
    application = create_app(settings)
    err.print(f"peergraph serving {settings.database_url} on http://{host}:{port}/")
    uvicorn.run(application, host=host, port=port, log_level="warning")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations (the other commands do this automatically)."""
    from peergraph.db.engine import current_revision

    engine = _engine()
    out.print(f"schema at revision {current_revision(engine)}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted; run the same import again to resume")
        sys.exit(130)
