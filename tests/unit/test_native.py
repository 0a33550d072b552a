"""A server process hands freed heap back to the system (peergraph/native.py)."""

from __future__ import annotations

import ctypes.util
from pathlib import Path

import pytest

from peergraph import native


def anonymous_mib() -> float:
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Anonymous:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no Anonymous line")


@pytest.mark.skipif(
    not Path("/proc/self/smaps_rollup").exists() or ctypes.util.find_library("c") is None,
    reason="needs Linux and a C library",
)
def test_freed_heap_goes_back_to_the_system():
    # 150 MB in small blocks (below malloc's mmap threshold, so on the heap); the last
    # one stays, so free() alone cannot shrink the heap from its top
    blocks = [bytearray(1500) for _ in range(100_000)]
    kept = blocks[-1]
    del blocks
    before = anonymous_mib()
    assert native.release_free_memory()
    assert anonymous_mib() < before - 100
    assert kept[0] == 0
