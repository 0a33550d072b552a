"""Search indexes as read-only files that every process on a machine maps into memory.

A web process needs the in-memory BM25 index (search/lexical.py) and the work vectors
(search/semantic.py): about 90 and 220 MB for 145k works. Instead of each process
building its own copy, one process builds the arrays once per data generation and writes
them as ``.npy`` files under ``<data dir>/index/``; every process opens them with
``numpy.load(mmap_mode="r")``. The operating system keeps one copy of the pages in its
page cache, shared by all the processes that map them, so N web processes cost the index
memory once (docs/architecture.md, "Shared index files").

Layout: ``index/<kind>-<label>/`` holds one finished index (``label`` names its data
generations); ``index/<kind>.current`` names the newest. A build writes into a hidden
temporary folder and renames it into place, then replaces the pointer file, both atomic
on one file system: a reader sees the old index or the new one, never half of one.
Folders that are no longer current are removed right away (a process that still maps
one keeps its pages until it moves on: unlinking never pulls pages from under a mapping).

Only one process builds a given kind at a time: ``building(kind)`` takes an exclusive
``flock`` without waiting, and a process that does not get it keeps serving what it has
(the database's own text index answers keyword queries meanwhile) and looks again later.
Each machine keeps its own files: web processes on several machines each build theirs.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

FOLDER = "index"


class IndexFolder:
    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / FOLDER

    def current(self, kind: str) -> Path | None:
        """The newest finished index of ``kind``, or None."""
        try:
            name = (self.root / f"{kind}.current").read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        folder = self.root / name
        return folder if name and (folder / "meta.json").is_file() else None

    @contextmanager
    def building(self, kind: str) -> Iterator[bool]:
        """True when this process may build ``kind`` now (nobody else is)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / f"{kind}.lock", "a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def publish(
        self, kind: str, label: str, arrays: dict[str, np.ndarray], meta: dict[str, Any]
    ) -> Path:
        """Write ``arrays`` (one .npy each) and ``meta`` as the new current ``kind``."""
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.root / f"{kind}-{label}"
        temporary = self.root / f".{kind}-{label}.{os.getpid()}.tmp"
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir()
        for name, array in arrays.items():
            np.save(temporary / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        listed = {**meta, "arrays": sorted(arrays)}  # what a reader must find, all of it
        (temporary / "meta.json").write_text(json.dumps(listed), encoding="utf-8")
        shutil.rmtree(final, ignore_errors=True)
        os.rename(temporary, final)
        pointer = self.root / f".{kind}.current.{os.getpid()}.tmp"
        pointer.write_text(final.name, encoding="utf-8")
        os.replace(pointer, self.root / f"{kind}.current")
        for old in self.root.glob(f"{kind}-*"):
            if old != final and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
        return final


def open_arrays(folder: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Every array of an index folder, memory-mapped read-only, and its meta.json.

    Plain ndarray views of the maps (the map stays open while a view lives): numpy's
    ``memmap`` subclass costs a Python call per element read or slice taken, which was a
    fifth of a keyword search's time."""
    meta = read_meta(folder)
    names = meta.get("arrays") or [path.stem for path in folder.glob("*.npy")]
    arrays = {
        name: np.asarray(np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False))
        for name in names
    }
    return arrays, meta


def read_meta(folder: Path) -> dict[str, Any]:
    """An index folder's meta.json; FileNotFoundError when the folder is gone."""
    return json.loads((folder / "meta.json").read_text(encoding="utf-8"))


def refresh(
    folder: IndexFolder | None,
    kind: str,
    wanted: dict[str, int],
    *,
    build: Callable[[], tuple[dict[str, np.ndarray], dict[str, Any]]],
    may_build: bool = True,
) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """The arrays of ``kind`` at the data generations ``wanted``: mapped from the current
    files when they are at those generations, else built, published and mapped when no
    other process is building them; None when another process is (look again later), or
    when there are no such files and not ``may_build`` (search/lag.py).
    Without a folder (one-shot commands) the built arrays stay in this process."""
    if folder is None:
        arrays, meta = build()
        return arrays, {**meta, "generations": wanted}
    label = "-".join(f"{k}{v}" for k, v in sorted(wanted.items()))
    found = _mapped_current(folder, kind, wanted)
    if found is not None or not may_build:
        return found
    with folder.building(kind) as mine:
        if not mine:
            return None
        found = _mapped_current(folder, kind, wanted)  # built by another process meanwhile?
        if found is not None:
            return found
        arrays, meta = build()
        meta["generations"] = wanted
        return open_arrays(folder.publish(kind, label, arrays, meta))


def _mapped_current(
    folder: IndexFolder, kind: str, wanted: dict[str, int]
) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """The current files of ``kind``, mapped, when they are at ``wanted``. A process that
    publishes newer files removes the old folder, possibly between our reading the
    pointer and opening the files: then the pointer is read again (files already mapped
    stay valid; the system frees them when the last map goes)."""
    for _ in range(5):
        current = folder.current(kind)
        if current is None:
            return None
        try:
            if read_meta(current).get("generations") != wanted:
                return None
            return open_arrays(current)
        except FileNotFoundError:
            continue
    return None
