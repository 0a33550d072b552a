"""The parent process of ``peergraph serve --workers N``.

``serve`` prepares (settings, migrations) and then replaces itself with this module in a
fresh interpreter: the parent only starts, watches and restarts the web processes, so
it imports uvicorn and the standard library, not peergraph's app. Measured on the full
corpus: the parent held about 100 MiB when it was the ``serve`` command itself.

    python -m peergraph.web.supervisor HOST PORT WORKERS LOG_FORMAT

Each web process builds its app from the environment ``serve`` set
(web/app.py, ``app_from_env``).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    host, port, workers, log_format = argv
    from peergraph.logs import configure_logging

    configure_logging(log_format)
    import uvicorn

    uvicorn.run(
        "peergraph.web.app:app_from_env",
        factory=True,
        workers=int(workers),
        host=host,
        port=int(port),
        log_config=None,  # uvicorn's own lines go through the same handler
        access_log=False,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
