"""Operator errors: what failed in the store or on disk, said in one line with what to do.

A full disk, a folder without write permission or a damaged database file are not bugs,
and a 200-line traceback does not help the operator. :func:`describe` turns them into one
sentence; the CLI prints it (``--debug`` adds the traceback).
"""

from __future__ import annotations

import errno

from sqlalchemy import Engine, make_url
from sqlalchemy import exc as sa_exc

# Errors of the environment (disk, permissions, the database server or file) rather than
# of one record: an import stops on them instead of skipping the record.
ENVIRONMENT_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.InternalError,
    OSError,
)


def _store(engine: Engine | str | None) -> str:
    if engine is None:
        return "the store"
    url = make_url(engine) if isinstance(engine, str) else engine.url
    if url.get_backend_name() == "sqlite" and url.database:
        return f"the store {url.database}"
    return f"the database {url.render_as_string(hide_password=True)}"


def describe(exc: BaseException, engine: Engine | str | None = None) -> str:
    """One line saying what happened and what to do about it."""
    store = _store(engine)
    original = getattr(exc, "orig", None) or exc
    text = str(original).lower()
    code = getattr(original, "errno", None)
    if "disk is full" in text or "disk full" in text or code in (errno.ENOSPC, errno.EFBIG):
        return (
            f"the disk holding {store} is full: free some space and run the same command"
            " again (an import resumes where it stopped)"
        )
    if getattr(original, "sqlite_errorname", "").startswith("SQLITE_IOERR") or (
        "disk i/o error" in text
    ):
        return (
            f"could not write to {store} (disk I/O error: is the disk full, over a quota or"
            " failing?): free some space or check the disk, then run the same command again"
            " (an import resumes where it stopped)"
        )
    if isinstance(original, PermissionError):
        where = original.filename or store
        return f"permission denied: {where}: give this user access to it"
    if "readonly database" in text or "read-only" in text:
        return f"permission denied writing {store}: give this user write access to it"
    if "unable to open database file" in text:
        return f"cannot open {store}: check that its folder exists and is writable"
    if "file is not a database" in text or "malformed" in text or "corrupt" in text:
        return (
            f"{store} is damaged or not a peergraph database: restore it from a backup, or"
            " move it away and import again"
        )
    if "database is locked" in text:
        return f"{store} stayed locked by another process for 30 s: try again"
    if isinstance(original, OSError):
        name = getattr(original, "filename", None)
        return f"{name + ': ' if name else ''}{original.strerror or original}"
    first = str(original).strip().splitlines()[0] if str(original).strip() else ""
    return f"{type(original).__name__}: {first[:300]}"
