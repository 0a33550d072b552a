"""The parent process of ``peergraph serve --workers N``.

``serve`` prepares (settings, migrations) and then replaces itself with this module in a
fresh interpreter. The parent binds the port, imports the app's modules once (FastAPI,
SQLAlchemy, NumPy, Jinja2, peergraph: about 60 MiB), and then forks the web processes.
Forked children share those pages with the parent until they write to them, so each web
process's private memory is what it builds after the fork (its app, engine, caches and
request heap), not a copy of every library. uvicorn's own ``--workers`` starts each
process as a new interpreter that imports everything again: measured on the full
corpus, two processes then used 1.31–1.33× the memory of one (docs/architecture.md,
"Memory").

Nothing runs in the parent before the fork but imports (the encoder's and the stemmer's
libraries too, which the children otherwise import at their first search) and reading
the newest migration's name from the package's files, which every /readyz compares
with the store's (parsing the migration scripts imports Alembic, Mako and Pygments:
about 24 MiB fewer private pages per web process, docs/architecture.md, "Memory"): no
engine, no thread of ours.
Each child builds its app from the environment ``serve`` set (web/app.py,
``app_from_env``) and runs a uvicorn server on the shared listening socket. Unless
``serve --no-worker``, one more child runs the job worker (jobs/worker.py): imports,
rebuilds and embedding then use a process of their own, never the interpreter (and the
lock) of a web process, whose requests they slowed to seconds under load
(docs/operations.md). The parent restarts a child that dies, and on SIGTERM or SIGINT
stops them all and waits for them (a job the worker was running is taken again by the
next worker, jobs/queue.py).

    python -m peergraph.web.supervisor HOST PORT WORKERS LOG_FORMAT
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import os
import signal
import sys
import time

log = logging.getLogger("peergraph.web.supervisor")
RESTART_PAUSE = 1.0  # seconds before a dead web process is started again
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
WORKER_NICENESS = 10  # the worker process's CPU priority below the web processes'


def main(argv: list[str]) -> None:
    host, port, workers, log_format = argv
    from peergraph.logs import configure_logging

    configure_logging(log_format)
    import uvicorn

    import peergraph.web.app  # (the modules the children share)
    from peergraph.jobs import worker as jobs_worker  # noqa: F401  (the worker child's)

    _preload()
    options = peergraph.web.app.serve_options()
    run_worker = options.get("worker", "1") == "1"
    if run_worker:  # the web processes leave the jobs to the worker process
        os.environ[peergraph.web.app.SERVE_OPTIONS] = ",".join(
            f"{key}={'0' if key == 'worker' else value}" for key, value in options.items()
        )

    config = uvicorn.Config(
        "peergraph.web.app:app_from_env",
        factory=True,
        host=host,
        port=int(port),
        log_config=None,  # uvicorn's own lines go through the same handler
        access_log=False,
        timeout_keep_alive=peergraph.web.app.KEEP_ALIVE_SECONDS,
    )
    listening = config.bind_socket()
    children: dict[int, str] = {}  # pid: "web" or "worker"
    stopping = False

    def child(role: str) -> None:
        """In a child: a uvicorn server on the shared socket ("web"), or the job worker
        ("worker"; a job it was running when stopped is resumed by the next worker);
        then exit."""
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        code = 0
        try:
            if role == "worker":
                run_jobs(embed=options.get("embed", "1") == "1")
            else:
                uvicorn.Server(config).run(sockets=[listening])
        except BaseException:
            log.exception("%s process %s failed", role, os.getpid())
            code = 1
        finally:
            logging.shutdown()
            os._exit(code)

    def start(role: str = "web") -> None:
        # the stop signals wait until the child has its own handlers and the parent
        # knows the child's pid
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        pid = os.fork()
        if pid == 0:
            child(role)
        children[pid] = role
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        log.info("%s process %s started", role, pid)

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                children.pop(pid, None)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    gc.freeze()  # the collector never walks (and so never writes to) the shared objects
    for _ in range(int(workers)):
        start()
    if run_worker:
        start("worker")
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid not in children:
            continue
        role = children.pop(pid)
        if not stopping:
            log.warning("%s process %s ended (status %s); starting another", role, pid, status)
            time.sleep(RESTART_PAUSE)
            if not stopping:
                start(role)
    listening.close()


def run_jobs(*, embed: bool) -> None:
    """The worker process's loop: ``peergraph worker`` with serve's settings, at a lower
    CPU priority (``WORKER_NICENESS``), so that an import or a rebuild takes what the web
    processes leave rather than slowing their requests (docs/operations.md, "Load").
    Embedding uses one core, the other is the web processes' (docs/search.md)."""
    from peergraph.db import create_db_engine
    from peergraph.jobs.worker import Worker
    from peergraph.search.files import IndexFolder
    from peergraph.settings import Settings

    os.nice(WORKER_NICENESS)
    settings = Settings.from_env()
    engine = create_db_engine(settings)
    runner = Worker(
        engine,
        embed=embed,
        encoder_threads=1,
        index_folder=IndexFolder(settings.data_dir),
        settings=settings,
    )
    log.info("worker %s started", runner.name)
    runner.run()


def _preload() -> None:
    """What every web process would otherwise load for itself after the fork."""
    for module in ("Stemmer", "onnxruntime", "tokenizers"):  # the encoder's are optional
        with contextlib.suppress(ImportError):
            importlib.import_module(module)


if __name__ == "__main__":
    main(sys.argv[1:])
