"""``peergraph`` — import open publication metadata, inspect the store, serve it.

Commands parse options, call services and print; the rules live in the services.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
eval_app = typer.Typer(help="Measure quality on labelled data.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
train_app = typer.Typer(help="Train the learned models from gold files.", no_args_is_help=True)
app.add_typer(train_app, name="train")

out = Console(highlight=False, markup=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)


class State:
    settings: Settings
    debug: bool = False
    engines: list[Engine]

    def __init__(self) -> None:
        self.engines = []

    def close(self) -> None:
        """Close the command's database connections (PostgreSQL's are sockets)."""
        while self.engines:
            self.engines.pop().dispose()


state = State()


@app.callback()
def root(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            envvar="PEERGRAPH_DATA_DIR",
            help="Folder of the store: the embedded SQLite file, or a peergraph.toml naming a"
            " PostgreSQL database (default ./peergraph-data).",
        ),
    ] = None,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show the full traceback when a command fails."),
    ] = False,
) -> None:
    state.debug = debug
    ctx.call_on_close(state.close)
    try:
        state.settings = Settings.from_env(data_dir=data_dir)
    except ValueError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from exc


def _engine(*, migrate_first: bool = False) -> Engine:
    """The store's engine, its schema checked (``db.ensure_schema``): a new store is
    created, an out-of-date one refused with what to do. ``migrate_first`` (``migrate``
    and ``serve`` at start-up) brings it to the newest schema under the migration lock."""
    from peergraph.db import SchemaOutOfDate, create_db_engine, ensure_schema, migrate

    engine = create_db_engine(state.settings)
    state.engines.append(engine)
    if migrate_first:
        migrate(engine)
        return engine
    try:
        ensure_schema(engine)
    except SchemaOutOfDate as exc:
        engine.dispose()
        err.print(f"error: {exc}")
        raise typer.Exit(2) from exc
    return engine


def _check_log_format(value: str) -> None:
    if value not in ("json", "text"):
        err.print(f"error: --log-format {value!r}: choose json or text")
        raise typer.Exit(2)


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
    queue: Annotated[
        bool,
        typer.Option(
            "--queue",
            help="Queue the import for the worker (`peergraph worker`, or `serve`'s own) "
            "and return at once; `peergraph jobs` shows it.",
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
    from peergraph.ingest.loader import ImportFailed, import_file
    from peergraph.ingest.records import FormatError, ImportLimits

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
    if queue:
        from peergraph.jobs import queue as job_queue

        if failed:
            raise typer.Exit(1)
        job = job_queue.enqueue(
            engine,
            "import",
            {"paths": [str(p.resolve()) for p in paths], "format": fmt, "force": force},
        )
        out.print(f"queued import job #{job} ({len(targets)} file(s)); `peergraph jobs` shows it")
        return
    settings = state.settings
    limits = ImportLimits(settings.max_record_bytes, settings.max_json_depth)
    for target in targets:
        try:
            with ImportProgress(
                err, target.path, enabled=not quiet and err.is_terminal
            ) as progress:
                summary = import_file(
                    engine, target, progress=progress.update, force=force, limits=limits
                )
        except ImportFailed as exc:
            if state.debug:
                raise
            err.print(f"error: {target.path}: {exc}")
            raise typer.Exit(1) from exc
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
    if summary.warnings_by_reason:
        warned = ", ".join(f"{r} {n:,}" for r, n in summary.warnings_by_reason.items())
        err.print(f"  imported with warnings: {warned}", soft_wrap=True)
    if summary.message:
        err.print(f"  {summary.status}: {summary.message}", soft_wrap=True)
    if (summary.skipped or summary.warnings_by_reason) and not quiet:
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
        for reason, count in issue_reasons(session, run.id, skipped=False).items():
            out.print(f"  imported with a warning {count:,} × {reason}")
        for issue in import_issues(session, run.id, limit=limit):
            where = f"record {issue.record_number}" + (f", line {issue.line}" if issue.line else "")
            kind = "" if issue.skipped else "warning: "
            out.print(
                f"  {run.path}: {where}: {kind}{issue.reason}: {issue.message}", soft_wrap=True
            )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    embed: Annotated[
        bool,
        typer.Option(
            "--embed/--no-embed",
            help="Queue the embedding of works without a vector at start-up and after each "
            "import; a worker runs it (serve's own, or `peergraph worker`).",
        ),
    ] = True,
    run_worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="Run queued jobs (imports, rebuilds, embedding): in a thread of this "
            "process, or with --workers N in one worker process beside the web processes; "
            "--no-worker when `peergraph worker` processes do it.",
        ),
    ] = True,
    log_format: Annotated[
        str,
        typer.Option("--log-format", help="json (one object per line, with request ids) or text."),
    ] = "json",
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Web processes sharing the port, forked from one parent; they map the "
            "same index files and see each other's changes through the store's data "
            "generations.",
        ),
    ] = 1,
) -> None:
    """Serve the web pages and the JSON API (OpenAPI at /api/openapi.json). Keyword search
    works at once; the semantic index fills in the background as a queued job (status on
    /search); queued jobs run in a worker thread (with --workers N, a worker process)
    unless --no-worker."""
    import uvicorn

    from peergraph.accounts.secrets import secret_key
    from peergraph.logs import configure_logging
    from peergraph.settings import ConfigError
    from peergraph.web.app import KEEP_ALIVE_SECONDS, create_app, serve_environment

    _check_log_format(log_format)
    settings = state.settings
    try:
        secret_key(settings)  # production refuses a weak key; development makes one
    except ConfigError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from exc
    if host not in ("0.0.0.0", "::", *settings.allowed_hosts) and "*" not in settings.allowed_hosts:
        settings = dataclasses.replace(settings, allowed_hosts=(*settings.allowed_hosts, host))
    _engine(migrate_first=True).dispose()  # start-up migrates, under the migration lock
    processes = f" ({workers} processes)" if workers > 1 else ""
    err.print(f"peergraph serving {settings.database_url} on http://{host}:{port}/{processes}")
    if settings.smtp_host is None:
        err.print(
            f"mail (sign-up and reset links) is written to {settings.data_dir / 'mail'}:"
            " set PEERGRAPH_SMTP_HOST to send it (docs/accounts.md)"
        )
    if host in ("0.0.0.0", "::") and "*" not in settings.allowed_hosts:
        err.print(
            "answering to the host names " + ", ".join(settings.allowed_hosts) + " only: set"
            " PEERGRAPH_ALLOWED_HOSTS to the names visitors use (docs/security.md)"
        )
    configure_logging(log_format)
    if workers > 1:
        # each process builds its own app from the environment (web/app.py); this process
        # becomes their parent, which forks them (web/supervisor.py)
        os.environ.update(
            serve_environment(settings, embed=embed, worker=run_worker, log_format=log_format)
        )
        sys.stderr.flush()
        supervisor = [sys.executable, "-m", "peergraph.web.supervisor"]
        os.execv(sys.executable, [*supervisor, host, str(port), str(workers), log_format])
    application = create_app(settings, background=True, embed=embed, worker=run_worker)
    # log_config=None: uvicorn's own lines go through the same (JSON) handler
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


@app.command()
def rebuild(
    if_stale: Annotated[
        bool,
        typer.Option(
            "--if-stale", help="Do nothing when no import finished since the last rebuild."
        ),
    ] = False,
    no_upstream_ids: Annotated[
        bool, typer.Option("--no-upstream-ids", help="Ignore upstream author ids as evidence.")
    ] = False,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Re-cluster every name block and re-infer topics, not only what changed "
            "since the last rebuild (needed after editing the store by hand).",
        ),
    ] = False,
    queue: Annotated[
        bool, typer.Option("--queue", help="Queue the rebuild for the worker and return.")
    ] = False,
) -> None:
    """Build author records from authorships, then profiles (topics, collaborators,
    affiliation, trust). After the first run only the name blocks that imports changed
    are re-clustered (incremental). Record ids stay stable; merged or split records leave
    redirects; claims and decisions move with their authorships."""
    import time

    from peergraph.profiles.services import is_stale
    from peergraph.profiles.services import rebuild as rebuild_all

    engine = _engine()
    if queue:
        from peergraph.jobs import queue as job_queue

        job = job_queue.enqueue(engine, "rebuild", {"full": full})
        out.print(f"queued rebuild job #{job}; `peergraph jobs` shows it")
        return
    if if_stale and not is_stale(engine):
        err.print("profiles are up to date with the imports; nothing to do")
        return
    from peergraph.cli.progress import StepProgress

    started = time.perf_counter()
    with StepProgress(err, "rebuilding") as bar:

        def progress(message: str) -> None:
            bar.phase(message)
            err.print(f"[{time.perf_counter() - started:6.1f} s] {message}")

        report = rebuild_all(
            engine,
            full=full,
            use_upstream_ids=not no_upstream_ids,
            progress=progress,
            steps=bar.update,
        )
    topics = f", {report.inferred_topics} inferred topics" if report.mode == "full" else ""
    err.print(
        f"{report.mode} rebuild: {report.authorships:,} authorships in {report.blocks:,} name "
        f"blocks clustered; {report.records:,} author records ({report.new_records:,} new, "
        f"{report.retired_records:,} retired with redirects), {report.profiles:,} profiles "
        f"recomputed{topics}, in {report.seconds:.1f} s"
    )


@app.command()
def profile(
    name_or_id: Annotated[str, typer.Argument(help="A record id, or a name (most works wins).")],
    works: Annotated[int, typer.Option(help="How many works to list.")] = 10,
) -> None:
    """Print a researcher's profile."""
    from sqlalchemy.orm import Session

    from peergraph.cli.profile import print_profile
    from peergraph.profiles import queries

    engine = _engine()
    with Session(engine) as session:
        matches = queries.find_records(session, name_or_id)
        if not matches:
            err.print(f"error: no researcher record matches {name_or_id!r}")
            raise typer.Exit(1)
        view = queries.profile_view(session, matches[0])
        print_profile(out, view, others=matches[1:], works=works)


@app.command("graph")
def graph_command(
    node: Annotated[
        str,
        typer.Argument(
            help='The seed: "type:id" (researcher:12, work:5, topic:3, institution:7, '
            'venue:2), or a name or title to look up ("Alec Radford").'
        ),
    ],
    depth: Annotated[int, typer.Option(min=1, max=2, help="1: neighbours; 2: theirs too.")] = 1,
    limit: Annotated[int, typer.Option(min=2, max=200, help="Most nodes, seed included.")] = 40,
    types: Annotated[
        str | None,
        typer.Option(help="Node types to keep, comma-separated (default: all five)."),
    ] = None,
    format: Annotated[
        str, typer.Option("--format", help="json, graphml (Gephi, Cytoscape) or gexf.")
    ] = "json",
) -> None:
    """Write the graph slice around a node to standard output, e.g.
    `peergraph graph "Alec Radford" --depth 2 --format graphml > radford.graphml`.
    A name that fits several nodes lists them and exits with status 2."""
    import json

    from sqlalchemy.orm import Session

    from peergraph.graph.export import to_gexf, to_graphml
    from peergraph.graph.slices import build_slice
    from peergraph.graph.store import NODE_TYPES, GraphStore, key_text, parse_key
    from peergraph.search.files import IndexFolder
    from peergraph.search.semantic import SemanticIndex

    if format not in ("json", "graphml", "gexf"):
        err.print(f"error: --format must be json, graphml or gexf, not {format!r}")
        raise typer.Exit(2)
    kinds = tuple(t.strip() for t in (types or ",".join(NODE_TYPES)).split(",") if t.strip())
    unknown = [t for t in kinds if t not in NODE_TYPES]
    if unknown or not kinds:
        err.print(
            f"error: unknown node type {unknown[0] if unknown else ''!r}; "
            f"types are {', '.join(NODE_TYPES)}"
        )
        raise typer.Exit(2)
    engine = _engine()
    index = SemanticIndex(engine, folder=IndexFolder(state.settings.data_dir))
    with Session(engine) as session:
        store = GraphStore(session, index)  # similar edges where the index has vectors
        seed = parse_key(node)
        if seed is None:
            found = store.lookup(node)
            if not found:
                err.print(f"error: no researcher, work, topic or institution is named {node!r}")
                raise typer.Exit(1)
            if len(found) > 1:
                err.print(f"{node!r} fits {len(found)} nodes; name one by its id:")
                for key, label in found:
                    err.print(f"  {key_text(key):<22} {label}", markup=False)
                raise typer.Exit(2)
            seed = found[0][0]
        piece = build_slice(store, seed, depth=depth, limit=limit, types=kinds)
        if piece is None:
            err.print(f"error: there is no {seed[0]} {seed[1]}")
            raise typer.Exit(1)
    if format == "graphml":
        sys.stdout.write(to_graphml(piece))
    elif format == "gexf":
        sys.stdout.write(to_gexf(piece))
    else:
        sys.stdout.write(json.dumps(piece.as_json(), ensure_ascii=False, indent=1) + "\n")
    err.print(f"{len(piece.nodes)} nodes, {len(piece.edges)} edges around {key_text(seed)}")


@eval_app.command("disambiguation")
def eval_disambiguation(
    works_file: Annotated[Path, typer.Argument(help="Works file (any importable format).")],
    gold: Annotated[
        Path, typer.Option("--gold", help="TSV: record_id, author_index (0-based), person_id.")
    ],
    no_upstream_ids: Annotated[
        bool, typer.Option("--no-upstream-ids", help="Ignore upstream author ids as evidence.")
    ] = False,
    no_orcids: Annotated[
        bool,
        typer.Option("--no-orcids", help="Hide ORCIDs from the model (when they are the gold)."),
    ] = False,
    model: Annotated[
        Path | None,
        typer.Option(help="A pairwise model file (default: the one shipped with peergraph)."),
    ] = None,
) -> None:
    """Import WORKS_FILE into a throw-away store, disambiguate, and print B³ and pairwise
    precision/recall/F1 over the labelled authorships, plus the worst name blocks."""
    from peergraph.authors.evaluation import evaluate_file

    for path in (works_file, gold):
        if not path.exists():
            err.print(f"error: {path}: no such file")
            raise typer.Exit(1)
    try:
        result = evaluate_file(
            works_file,
            gold,
            use_upstream_ids=not no_upstream_ids,
            use_orcids=not no_orcids,
            model_path=model,
        )
    except ValueError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(1) from exc
    out.print(f"labelled authorships: {result.labelled:,} (found in the file: {result.matched:,})")
    out.print(
        f"B³        precision {result.b3.precision:.4f}  recall {result.b3.recall:.4f}  "
        f"F1 {result.b3.f1:.4f}"
    )
    out.print(
        f"pairwise  precision {result.pairs.precision:.4f}  recall {result.pairs.recall:.4f}  "
        f"F1 {result.pairs.f1:.4f}"
    )
    out.print(f"disambiguation time: {result.seconds:.1f} s")
    if result.worst_blocks:
        out.print("worst name blocks (B³ F1, labelled authorships):")
        for key, n, f1 in result.worst_blocks:
            out.print(f"  {key:<24} {f1:.3f}  ({n})")


@train_app.command("disambiguation")
def train_disambiguation(
    gold_sets: Annotated[
        list[str],
        typer.Argument(
            help="NAME=WORKS_FILE:GOLD.tsv, one per gold set; add :no-orcids to hide the "
            "ORCIDs when they are the gold."
        ),
    ],
    out_file: Annotated[
        Path, typer.Option("--out", help="Where to write the model (JSON).")
    ] = Path("pairwise_model.json"),
    cross_validate: Annotated[
        str | None,
        typer.Option(
            "--cross-validate",
            help="NAME of a gold set: also report a 5-fold cross-validation by name on it "
            "(train on the other names and the other sets, measure on held-out names).",
        ),
    ] = None,
    folds: Annotated[int, typer.Option(min=2, max=20, help="Folds for --cross-validate.")] = 5,
) -> None:
    """Train the pairwise disambiguation model (gradient-boosted trees) from gold files,
    pick its clustering threshold by cross-validation, and write it as JSON. Copy the
    file to src/peergraph/authors/pairwise_model.json to ship it."""
    import json

    from peergraph.authors import training

    sets = []
    for spec in gold_sets:
        name, _, rest = spec.partition("=")
        parts = rest.split(":")
        if not name or len(parts) < 2:
            err.print(f"error: {spec!r}: expected NAME=WORKS_FILE:GOLD.tsv[:no-orcids]")
            raise typer.Exit(2)
        works, gold = Path(parts[0]), Path(parts[1])
        for path in (works, gold):
            if not path.exists():
                err.print(f"error: {path}: no such file")
                raise typer.Exit(1)
        out.print(f"loading {name} ({works.name})")
        sets.append(training.load_gold_set(name, works, gold, hide_orcids="no-orcids" in parts[2:]))
    names = [s.name for s in sets]
    if cross_validate and cross_validate not in names:
        err.print(f"error: --cross-validate {cross_validate}: not one of {', '.join(names)}")
        raise typer.Exit(2)
    say = out.print
    if cross_validate:
        target = next(s for s in sets if s.name == cross_validate)
        others = [s for s in sets if s is not target]
        result = training.cross_validate(target, others, k=folds, say=say)
        out.print(
            f"cross-validation by name on {cross_validate}: mean B³ F1 "
            f"{result.mean_f1[cross_validate]:.4f} over {folds} folds"
        )
    model, data = training.train(sets, say=say)
    if cross_validate:
        data["meta"]["cross_validation"] = {
            "gold_set": cross_validate,
            "folds": result.folds,
            "mean_f1": round(result.mean_f1[cross_validate], 4),
        }
    out_file.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")
    out.print(
        f"wrote {out_file} ({out_file.stat().st_size / 1024:.0f} KiB): "
        f"{len(data['trees'])} trees, threshold {model.threshold_distance}"
    )


@train_app.command("name-order")
def train_name_order(
    works_files: Annotated[
        list[Path],
        typer.Argument(
            help="Works files (any format `peergraph import` reads). Structured names "
            "(CSL given/family, BibTeX 'Family, Given') give the scores; names printed as "
            "one string (OpenAlex, arXiv) give the margin.",
            exists=True,
        ),
    ],
    out_file: Annotated[
        Path, typer.Option("--out", help="Where to write the table (JSON).")
    ] = Path("name_order.json"),
) -> None:
    """Count how often each pinyin word is a family name and how often a first given
    name, and write the table that decides the order of names printed as one string
    ("Zhang Wei" / "Wei Zhang"). Copy the file to src/peergraph/authors/name_order.json
    to ship it; docs/disambiguation.md, "Name order", explains the rule."""
    import json

    from peergraph.authors import order

    table = order.train(order.names_in(works_files))
    out_file.write_text(json.dumps(table.as_dict(), separators=(",", ":")) + "\n", "utf-8")
    meta = table.meta
    out.print(
        f"wrote {out_file} ({out_file.stat().st_size / 1024:.0f} KiB): {meta['words']:,} "
        f"words from {meta['structured_names']:,} structured names; margin "
        f"{table.margin} from {meta['guessed_names']:,} names printed as one string "
        f"({meta['clear_given_first']:,} clearly given name first, "
        f"{meta['clear_family_first']:,} clearly family name first)"
    )


@train_app.command("name-prior")
def train_name_prior(
    out_file: Annotated[
        Path, typer.Option("--out", help="Where to write the table (gzipped JSON).")
    ] = Path("name_prior.json.gz"),
) -> None:
    """Count how many of the store's authorships (after `peergraph rebuild`) carry each
    first given name and family name, and how many different family names go with each
    first name and first names with each family name; write that name-frequency table,
    which the disambiguation model reads (authors/prior.py). Build it from a large store (the
    shipped one counts the whole shared corpus, 541,844 authorships) and copy it to
    src/peergraph/authors/name_prior.json.gz to ship it; then retrain the model."""
    from peergraph.authors import prior

    engine = _engine()
    table = prior.count(engine)
    if not table.meta["authorships"]:
        err.print("error: the store has no authorship names: run `peergraph rebuild` first")
        raise typer.Exit(1)
    prior.write(table, out_file)
    out.print(
        f"wrote {out_file} ({out_file.stat().st_size / 1024:.0f} KiB): "
        f"{len(table.first):,} first names and {len(table.family):,} family names seen at "
        f"least {prior.MIN_COUNT} times in {table.meta['authorships']:,} authorships"
    )


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    mode: Annotated[str, typer.Option(help="hybrid | keyword | semantic")] = "hybrid",
    limit: Annotated[int, typer.Option(min=1, max=100, help="How many works.")] = 10,
    year_from: Annotated[int | None, typer.Option(help="Earliest publication year.")] = None,
    year_to: Annotated[int | None, typer.Option(help="Latest publication year.")] = None,
    venue: Annotated[str | None, typer.Option(help="Part of a venue's name.")] = None,
    type_: Annotated[
        str | None, typer.Option("--type", help="Work type, e.g. article, paper-conference.")
    ] = None,
    has_abstract: Annotated[
        bool | None,
        typer.Option("--has-abstract/--no-abstract", help="Only works with / without one."),
    ] = None,
) -> None:
    """Search works, researchers and topics: by meaning and words (hybrid), words only
    (BM25) or meaning only, optionally filtered by year, venue, type and abstract."""
    from sqlalchemy.orm import Session

    from peergraph.search.semantic import SemanticIndex
    from peergraph.search.services import Filters, SearchError, search_works

    engine = _engine()
    filters = Filters(year_from, year_to, venue, type_, has_abstract)
    with Session(engine) as session:
        try:
            result = search_works(
                session,
                query,
                mode=mode,
                per_page=limit,
                filters=filters,
                semantic=SemanticIndex(engine),
            )
        except SearchError as exc:
            err.print(f"error: {exc}")
            raise typer.Exit(2) from exc
        if result.note:
            err.print(result.note)
        if result.researchers:
            out.print("Researchers:")
            for person in result.researchers:
                record = person.record
                out.print(f"  {record.display_name} [{record.id}], {record.works_count} works")
                out.print(f"     why: {person.reason}")
        if result.topics:
            out.print("Topics: " + "; ".join(t.topic.name for t in result.topics))
        where = f" ({filters.describe()})" if filters.active else ""
        out.print(f"{result.total:,} works match{where}; the best {len(result.hits)}:")
        for rank, hit in enumerate(result.hits, start=1):
            work = hit.work
            venue_name = (work.source.short_name or work.source.name) if work.source else ""
            out.print(
                f"{rank:>3}. {work.title}  ({work.year or 'n.d.'}"
                f"{', ' + venue_name if venue_name else ''})"
            )
            snippet = str(hit.snippet).replace("<mark>", "").replace("</mark>", "")
            out.print(f"     {snippet}")


@app.command()
def embed(
    limit: Annotated[int | None, typer.Option(help="Embed at most this many works now.")] = None,
    queue: Annotated[
        bool, typer.Option("--queue", help="Queue the embedding for the worker and return.")
    ] = False,
) -> None:
    """Build the semantic index: embed every work that has no vector yet. Resumable (stop
    it any time, run it again) and incremental (after an import only new works are done)."""
    import time

    from peergraph.cli.progress import StepProgress
    from peergraph.search.embeddings import EncoderUnavailable, load_encoder
    from peergraph.search.semantic import coverage, embed_pending

    engine = _engine()
    if queue:
        from peergraph.jobs import queue as job_queue

        job = job_queue.enqueue(engine, "embed", {"limit": limit} if limit else {})
        out.print(f"queued embedding job #{job}; `peergraph jobs` shows it")
        return
    try:
        encoder = load_encoder()
    except EncoderUnavailable as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(1) from exc
    started = time.perf_counter()
    with StepProgress(err, "embedding works", unit="works") as bar:
        added = embed_pending(engine, encoder, limit=limit, progress=bar.update)
    from peergraph.db.base import utcnow
    from peergraph.feeds import matching

    matching.update(engine, utcnow(), ("semantic",))  # saved semantic searches (feeds/)
    state = coverage(engine, encoder.name)
    err.print(
        f"embedded {added:,} works in {time.perf_counter() - started:.0f} s; semantic index: "
        f"{state.share:.0%} of {state.total:,} works"
    )


@app.command()
def reindex(
    check: Annotated[
        bool, typer.Option("--check", help="Only report problems; change nothing.")
    ] = False,
) -> None:
    """Check the search indexes and repair them: rebuild a missing or damaged keyword or
    name index from the store, drop stored vectors of the wrong length (``peergraph
    embed`` or the server computes them again). ``peergraph serve`` does the same on start."""
    import time

    from peergraph.search.repair import check_and_repair

    started = time.perf_counter()
    health = check_and_repair(_engine(), repair=not check)
    for problem in health.problems:
        err.print(f"problem: {problem}")
    for line in health.repaired:
        out.print(f"repaired: {line}")
    if health.ok:
        out.print(f"search indexes are healthy ({time.perf_counter() - started:.1f} s)")
    elif check:
        err.print("run `peergraph reindex` to repair")
        raise typer.Exit(1)


@eval_app.command("beir")
def eval_beir(
    folder: Annotated[
        Path, typer.Argument(help="BEIR folder: corpus.jsonl[.gz], queries.jsonl, qrels/.")
    ],
    split: Annotated[str, typer.Option(help="qrels/<split>.tsv to evaluate.")] = "train",
    mode: Annotated[str, typer.Option(help="keyword | semantic | hybrid | all")] = "hybrid",
) -> None:
    """Build a throw-away index of a BEIR data set, run every query of the split, and print
    nDCG@10, Recall@100, MRR@10, queries/s and the index build time (embedding included)."""
    from peergraph.cli.progress import StepProgress
    from peergraph.search.beir import MODES, BeirError, evaluate_modes
    from peergraph.search.embeddings import EncoderUnavailable

    modes = MODES if mode == "all" else (mode,)
    try:
        with StepProgress(err, "embedding the corpus", unit="documents") as bar:
            results = evaluate_modes(folder, split=split, modes=modes, progress=bar.update)
    except (BeirError, OSError, EncoderUnavailable) as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(1) from exc
    for result in results:
        sizes = f"{result.documents:,} documents, {result.queries:,} queries"
        out.print(f"{folder} [{result.split}], mode {result.mode}: {sizes}")
        out.print(f"  nDCG@10    {result.ndcg_at_10:.4f}")
        out.print(f"  Recall@100 {result.recall_at_100:.4f}")
        out.print(f"  MRR@10     {result.mrr_at_10:.4f}")
        out.print(f"  queries/s  {result.queries_per_second:,.0f}")
        out.print(f"  index build {result.index_seconds:.2f} s")


@app.command()
def worker(
    once: Annotated[
        bool, typer.Option("--once", help="Run the queued jobs, then exit (for cron or tests).")
    ] = False,
    poll: Annotated[
        float, typer.Option(min=0.1, help="Seconds between looks at an empty queue.")
    ] = 2.0,
    stale_after: Annotated[
        float,
        typer.Option(
            min=1.0,
            help="Seconds without a heartbeat after which a running job counts as abandoned "
            "(its worker was killed) and is taken again.",
        ),
    ] = 60.0,
    log_format: Annotated[
        str, typer.Option("--log-format", help="json (one object per line) or text.")
    ] = "json",
    embed: Annotated[
        bool,
        typer.Option(
            "--embed/--no-embed",
            help="After each import, queue the embedding of its works (search by meaning).",
        ),
    ] = True,
) -> None:
    """Run long jobs from the queue: imports, rebuilds and embedding queued with --queue.
    Run several for more throughput; two never take the same job, and a job whose worker
    was killed is resumed by the next. `serve` runs one itself unless --no-worker."""
    from peergraph.jobs.worker import Worker
    from peergraph.logs import configure_logging
    from peergraph.search.files import IndexFolder

    _check_log_format(log_format)
    configure_logging(log_format)
    engine = _engine()
    runner = Worker(
        engine,
        poll_seconds=poll,
        stale_after=stale_after,
        embed=embed,
        index_folder=IndexFolder(state.settings.data_dir),
        settings=state.settings,
    )
    err.print(f"worker {runner.name} on {state.settings.database_url}")
    try:
        ran = runner.run(once=once)
    except KeyboardInterrupt:
        runner.stop()
        err.print("worker stopped; a job it was running is taken again by the next worker")
        raise typer.Exit(130) from None
    err.print(f"worker {runner.name}: {ran} job(s) run")


@app.command()
def jobs(
    job_id: Annotated[int | None, typer.Argument(help="One job's details.")] = None,
) -> None:
    """The job queue: recent jobs with state, progress and outcome."""
    from peergraph.jobs import queue as job_queue

    engine = _engine()
    if job_id is not None:
        job = job_queue.get(engine, job_id)
        if job is None:
            err.print(f"error: no job #{job_id}")
            raise typer.Exit(1)
        for key, value in job._mapping.items():
            out.print(f"{key:>13}: {value}")
        return
    rows = job_queue.recent(engine)
    if not rows:
        out.print("no jobs yet; `peergraph import --queue FILE` queues one")
        return
    table = Table("id", "kind", "state", "progress", "attempts", "worker", "outcome")
    for job in rows:
        progress = f"{job.done:,}/{job.total:,} {job.unit or ''}".strip() if job.total else ""
        table.add_row(
            str(job.id),
            job.kind,
            job.state,
            progress,
            str(job.attempts),
            job.worker or "",
            (job.message or "")[:80],
        )
    out.print(table)


@app.command()
def migrate(
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Only say whether the store is at the newest schema (exit 1 if not)."
        ),
    ] = False,
) -> None:
    """Bring the store's schema to this version's (back the store up first). Other
    commands never migrate an existing store: they stop and point here. `serve` migrates
    at start-up; concurrent runs take turns under a lock."""
    from peergraph.db import create_db_engine
    from peergraph.db.engine import current_revision, head_revision

    head = head_revision()
    if check:
        engine = create_db_engine(state.settings)
        current = current_revision(engine)
        engine.dispose()
        if current != head:
            out.print(f"schema at revision {current or 'none'}; this version needs {head}")
            raise typer.Exit(1)
        out.print(f"schema at revision {head}, the newest")
        return
    engine = _engine(migrate_first=True)
    out.print(f"schema at revision {current_revision(engine)}")
    engine.dispose()


@app.command()
def copy(
    target: Annotated[
        str,
        typer.Argument(
            help="Where to copy to: a database URL (postgresql://user@host:port/db) or a"
            " store folder (its SQLite file, or the database its peergraph.toml names)."
        ),
    ],
) -> None:
    """Copy this whole instance into an empty store: SQLite → PostgreSQL or back. Every
    table, row for row, ids included (so links and redirects keep working), in one
    transaction: a failed copy leaves the target as it was. Both stores end at the newest
    schema; the target's search indexes are built by `serve` or `peergraph embed` as usual."""
    import time

    from peergraph.cli.progress import StepProgress
    from peergraph.db import create_db_engine
    from peergraph.db.copy import CopyRefused, copy_instance

    source = _engine()
    if "://" in target:
        settings = dataclasses.replace(state.settings, database_url=target)
    else:
        settings = Settings.for_data_dir(Path(target).expanduser())
    if settings.database_url == state.settings.database_url:
        err.print("error: the target is the store being copied")
        raise typer.Exit(2)
    destination = create_db_engine(settings)
    started = time.perf_counter()
    try:
        with StepProgress(err, "copying", unit="rows") as bar:

            def progress(table: str, done: int, total: int) -> None:
                bar.phase(f"copying {table}")
                bar.update(done, total)

            report = copy_instance(source, destination, progress=progress)
    except CopyRefused as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from exc
    finally:
        destination.dispose()
    out.print(
        f"copied {report.total:,} rows in {len(report.rows)} tables to"
        f" {destination.url.render_as_string(hide_password=True)}"
        f" in {time.perf_counter() - started:.0f} s"
    )


@app.command()
def pipeline(
    sources: Annotated[
        list[Path],
        typer.Argument(
            help="Files to read (plain or .gz), or OpenAlex snapshot folders, as for"
            " `peergraph import`.",
            show_default=False,
        ),
    ],
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Folder for the Parquet tables (files, records, issues, works, authorships,"
            " work_identifiers, author_clusters, author_records, profiles, ...: docs/"
            "pipeline.md); replaced as a whole when the run succeeds.",
        ),
    ],
    master: Annotated[
        str | None,
        typer.Option(
            "--master",
            help="Spark master: local[N] on this machine (N cores), or a cluster's URL."
            " Default: the master spark-submit was given, or local[2].",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help="Override format detection (as for import)."),
    ] = None,
    database: Annotated[
        str | None,
        typer.Option(
            "--database",
            help="Then load the output into the store at this URL, as `peergraph load`"
            " does: postgresql+psycopg://… or sqlite:///…. An empty store is filled; a"
            " store with data takes a run that read its files first, and its verified"
            " claims are read before clustering (as with --owned-from).",
            show_default=False,
        ),
    ] = None,
    owned_from: Annotated[
        str | None,
        typer.Option(
            "--owned-from",
            help="Cluster with the verified claims of the store at this URL (a claim's"
            ' authorships stay one record, its "not mine" ones apart), so that the'
            " output can later be merged into that store with `peergraph load`.",
            show_default=False,
        ),
    ] = None,
    embed: Annotated[
        bool,
        typer.Option(
            "--embed",
            help="Also embed every work for the semantic index (the work_embeddings table):"
            " the same encoder and vectors as `peergraph embed`, one model per Spark"
            " worker. About 25 works/s per core here.",
        ),
    ] = False,
    since: Annotated[
        Path | None,
        typer.Option(
            "--since",
            help="An incremental run: the output of a previous run whose files are the first"
            " of SOURCES (same files, same order). Only the name blocks the other files"
            " change are clustered again; the rest keep that run's author records. May be"
            " the --out folder itself (a daily update in place).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the bulk path on Apache Spark: read the sources with the importer's parsers in
    Spark tasks (one per file), de-duplicate works under the store's rules with joins,
    cluster authorships into author records with the rebuild's model and code (one task
    per bucket of family names), compute every record's profile figures (topics,
    collaborators, affiliations, trust) with the rebuild's rules, and write the result as
    Parquet. The same files imported with `peergraph import` give the same works, ids,
    authorships, identifiers and reported records, and `peergraph rebuild` the same
    clusters and profile figures (docs/pipeline.md). With --since, a daily update:
    pass the previous run's files, then the update's.

    Needs pyspark and Java 17 (scripts/bootstrap installs pyspark; Debian: apt-get install
    openjdk-17-jre-headless). Exits non-zero when no file could be read.
    """
    from peergraph.ingest.formats import FORMATS, expand_paths
    from peergraph.ingest.records import FormatError
    from peergraph.pipeline.changes import SinceRefused
    from peergraph.pipeline.run import run_pipeline
    from peergraph.pipeline.session import SparkUnavailable, spark_session
    from peergraph.search.semantic import DEFAULT_ENCODER

    if fmt is not None and fmt not in FORMATS:
        err.print(f"error: unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
        raise typer.Exit(2)
    try:
        targets = expand_paths(sources, fmt)
    except FormatError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from exc
    if embed:
        from peergraph.search.embeddings import EncoderUnavailable, load_encoder

        try:  # here, before Spark starts; it also tunes the model once for the workers
            load_encoder(DEFAULT_ENCODER, threads=1)
        except EncoderUnavailable as exc:
            err.print(f"error: {exc}")
            raise typer.Exit(2) from exc
    if out_dir.exists() and not (out_dir / "files").is_dir() and any(out_dir.iterdir()):
        err.print(f"error: {out_dir} holds something other than a pipeline output; not replaced")
        raise typer.Exit(2)
    owner = owned_from or database
    claims = _claims_of(owner) if owner else None
    try:
        spark = spark_session(master)
    except SparkUnavailable as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from exc
    try:
        summary = run_pipeline(
            spark,
            targets,
            out_dir,
            report=lambda line: err.print(line),
            embed=DEFAULT_ENCODER if embed else None,
            claims=claims,
            since=since,
        )
        if database is not None:
            _load_into(database, spark, out_dir)
    except SinceRefused as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from exc
    finally:
        spark.stop()
    if summary.plan is not None:
        why = ", ".join(f"{reason} {n:,}" for reason, n in summary.plan.reasons.items() if n)
        err.print(f"incremental: {len(summary.plan.blocks):,} name blocks clustered again ({why})")
    for item in summary.files:
        if item.error:
            err.print(f"{item.path} [{item.format}]: not read: {item.error}")
            continue
        reasons = ", ".join(f"{r} {n:,}" for r, n in item.skipped_by_reason.items())
        err.print(
            f"{item.path} [{item.format}]: read {item.records_read:,}, works created"
            f" {item.created:,}, merged {item.merged:,}, other entities {item.entities:,},"
            f" skipped {item.skipped:,}" + (f" ({reasons})" if reasons else ""),
            soft_wrap=True,
        )
    timings = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in summary.seconds.items())
    out.print(
        f"{summary.works:,} works, {summary.identifiers:,} identifiers,"
        f" {summary.records:,} author records, {summary.inferred_topics} inferred topics"
        f" written to {summary.out} ({timings})"
    )
    if all(item.error or item.records_read == 0 for item in summary.files):
        raise typer.Exit(1)


def _store_at(url: str) -> Any:
    """The engine of the store at ``url`` (`pipeline --database/--owned-from`), its schema
    at head; exits 2 with one line when it cannot be brought there."""
    from peergraph.db import SchemaOutOfDate, create_db_engine, ensure_schema

    engine = create_db_engine(dataclasses.replace(state.settings, database_url=url))
    state.engines.append(engine)
    try:
        ensure_schema(engine)
    except SchemaOutOfDate as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from exc
    return engine


def _claims_of(url: str) -> list[Any]:
    """The verified claims of the store at ``url``, by the pipeline's authorship ids."""
    from peergraph.pipeline.merge import store_claims

    with _store_at(url).connect() as conn:
        claims = store_claims(conn)
    if claims:
        err.print(f"clustering with the store's {len(claims):,} verified claims")
    return claims


def _merged(summary: Any) -> str:
    m = summary.merged
    return (
        f"merged the run into the store: {m.new_imports} new files, {m.new_works:,} new"
        f" and {m.updated_works:,} enriched works, {m.new_authorships:,} new authorships;"
        f" {m.records:,} author records ({m.kept_records:,} kept their ids,"
        f" {m.new_records:,} new, {m.retired_records:,} retired and redirected),"
        f" {m.vectors:,} vectors"
    )


def _load_into(url: str, spark: Any, out_dir: Path) -> None:
    """`peergraph pipeline --database URL`: the output into that store."""
    from peergraph.pipeline.load import LoadRefused, load_output

    engine = _store_at(url)
    try:
        loaded = load_output(engine, spark, out_dir, report=lambda line: err.print(line))
    except LoadRefused as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from exc
    if loaded.merged is not None:
        out.print(_merged(loaded))
        return
    out.print(f"loaded {loaded.works:,} works and {loaded.records:,} author records into the store")


@app.command("load")
def load(
    out_dir: Annotated[
        Path,
        typer.Argument(help="A `peergraph pipeline` output folder.", show_default=False),
    ],
    master: Annotated[
        str,
        typer.Option(
            help="The Spark master whose executors read the folder and, on PostgreSQL,"
            " COPY the rows into staging tables (local[N], spark://host:7077, yarn)."
        ),
    ] = "local[2]",
    through_driver: Annotated[
        bool,
        typer.Option(
            "--through-driver",
            help="On PostgreSQL, stream every row through this process instead of"
            " COPYing from the executors (for executors that cannot reach the database).",
        ),
    ] = False,
) -> None:
    """Load a `peergraph pipeline` output into the store, in one transaction. An empty
    store is filled: works, venues, institutions, topics, import runs, author records,
    profiles and (when the run embedded) the semantic index, with the ids the pipeline
    gave them. A store with data takes a run that read its files first, in the order they
    were imported, then new ones: the run is merged, author records keep their ids by the
    rebuild's rule and claims, follows and decisions move with their records; a store
    with verified claims needs a run made with --owned-from naming it. The store is the
    one `--data-dir` or PEERGRAPH_DATABASE_URL names (SQLite or PostgreSQL). An empty
    PostgreSQL store is filled by the executors: each COPYs its partitions into staging
    tables, and one transaction publishes them. Reading Parquet needs pyspark and Java,
    as the pipeline does (docs/pipeline.md)."""
    from peergraph.pipeline.load import LoadRefused, load_output
    from peergraph.pipeline.session import SparkUnavailable, spark_session

    if not out_dir.is_dir():
        err.print(f"error: {out_dir}: no such folder")
        raise typer.Exit(2)
    engine = _engine()
    try:
        spark = spark_session(master, driver_memory="2g")
    except SparkUnavailable as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from exc
    try:
        summary = load_output(
            engine,
            spark,
            out_dir,
            report=lambda line: err.print(line),
            through_driver=through_driver,
        )
    except LoadRefused as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from exc
    finally:
        spark.stop()
    if summary.merged is not None:
        out.print(_merged(summary))
        return
    out.print(
        f"loaded {summary.works:,} works, {summary.authorships:,} authorships,"
        f" {summary.records:,} author records, {summary.vectors:,} vectors"
        f" from {summary.imports} files"
    )


from peergraph.cli.admin import admin_app  # noqa: E402  (it uses this module's helpers)

app.add_typer(admin_app, name="admin")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations: the same as `peergraph migrate`."""
    migrate(check=False)


def main() -> None:
    """The console entry point: operator errors (a full disk, a missing permission, a
    damaged store) end in one line that says what to do; ``--debug`` shows the traceback."""
    from peergraph.db.errors import ENVIRONMENT_ERRORS, describe

    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted; run the same import again to resume")
        sys.exit(130)
    except ENVIRONMENT_ERRORS as exc:
        if state.debug:
            raise
        settings = getattr(state, "settings", None)
        store = settings.database_url if settings is not None else None
        err.print(f"error: {describe(exc, store)} (--debug shows the traceback)")
        sys.exit(1)
    except Exception as exc:
        if state.debug:
            raise
        err.print(
            f"error: {describe(exc)}: this is a bug in peergraph; run the command again with"
            " --debug and report the traceback"
        )
        sys.exit(1)
