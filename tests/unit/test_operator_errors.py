"""One line for each operator error, naming the store and what to do."""

from __future__ import annotations

import errno
import sqlite3

import pytest
from sqlalchemy import exc as sa_exc

from peergraph.db.errors import describe

STORE = "sqlite:////srv/peergraph/peergraph.sqlite3"


def wrapped(error: Exception) -> sa_exc.OperationalError:
    return sa_exc.OperationalError("INSERT …", {}, error)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (wrapped(sqlite3.OperationalError("database or disk is full")), "is full: free some"),
        (OSError(errno.ENOSPC, "No space left on device"), "is full"),
        (wrapped(sqlite3.OperationalError("disk I/O error")), "disk I/O error"),
        (wrapped(sqlite3.OperationalError("attempt to write a readonly database")), "permission"),
        (PermissionError(errno.EACCES, "Permission denied", "/srv/x"), "permission denied"),
        (wrapped(sqlite3.OperationalError("unable to open database file")), "cannot open"),
        (wrapped(sqlite3.DatabaseError("file is not a database")), "is damaged"),
        (wrapped(sqlite3.DatabaseError("database disk image is malformed")), "is damaged"),
        (wrapped(sqlite3.OperationalError("database is locked")), "locked"),
    ],
)
def test_each_operator_error_is_one_line(error, expected):
    text = describe(error, STORE)
    assert expected in text
    assert "\n" not in text and len(text) < 300
