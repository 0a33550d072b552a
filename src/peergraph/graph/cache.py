"""Slices, kept in each process's memory, keyed on the data generations.

A slice depends on works (imports), records, topics and collaborations (rebuilds) and
owners' choices (a hidden record, a chosen name: claims/owner.py advances ``records``).
Every import and rebuild advances a generation counter in the same transaction as its
change (db/generation.py), and the generations are part of every cache key, read from
the database on every request (one indexed query). So after an import or a rebuild in
any process, no process serves a slice built before it: the new key misses, and the old
entries age out of the LRU.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from peergraph.db import generation

MAX_ENTRIES = 512


class SliceCache:
    def __init__(self, size: int = MAX_ENTRIES) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, conn: Connection, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
        """The cached value for ``key`` at the store's current generations, else
        ``build()`` (kept unless it is None)."""
        stamp = tuple(sorted(generation.read(conn).items()))
        full = (stamp, *key)
        with self._lock:
            if full in self._entries:
                self._entries.move_to_end(full)
                self.hits += 1
                return self._entries[full]
        value = build()
        with self._lock:
            self.misses += 1
            if value is not None:
                self._entries[full] = value
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
