"""Keeping a long-running process's native heap small (glibc only; elsewhere a no-op).

A search request frees what it allocated, but glibc's malloc keeps freed memory inside
the process: one arena per thread that ever allocated (up to eight per core), each
holding its high-water mark. A web process that answered a few hundred searches on the
full corpus held about 200 MiB of such free memory (measured: ``malloc_trim`` gave it
back), which several web processes would each hold privately. So a server process
limits the arenas at start-up and returns free memory to the system now and then
(search/background.py); docs/architecture.md, "Memory".
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging

log = logging.getLogger(__name__)
M_ARENA_MAX = -8  # mallopt parameter numbers, from glibc's malloc.h
ARENAS = 2


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim  # noqa: B018 - glibc has it; musl and others do not
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap malloc's arenas, so that threads share a few heaps (call before the threads
    start). True when the C library took the setting."""
    libc = _libc()
    return bool(libc is not None and libc.mallopt(M_ARENA_MAX, arenas))


def release_free_memory() -> bool:
    """Hand free heap pages back to the system. True when some were released."""
    libc = _libc()
    return bool(libc is not None and libc.malloc_trim(0))
