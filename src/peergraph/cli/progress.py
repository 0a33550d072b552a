"""A progress bar for imports: bytes read for the bar and ETA, records/s alongside."""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)


class ImportProgress:
    def __init__(self, console: Console, path: Path, *, enabled: bool) -> None:
        self.enabled = enabled
        self._started = time.perf_counter()
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[records]:>10,} records"),
            TextColumn("{task.fields[rate]:>8,.0f} rec/s"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not enabled,
        )
        self._task = self._progress.add_task(
            path.name, total=max(path.stat().st_size, 1), records=0, rate=0.0
        )

    def __enter__(self) -> ImportProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def update(self, offset: int, records: int) -> None:
        if not self.enabled:
            return
        elapsed = max(time.perf_counter() - self._started, 1e-6)
        self._progress.update(self._task, completed=offset, records=records, rate=records / elapsed)


class StepProgress:
    """A progress bar for the long commands (rebuild, embed, eval): ``update(done, total)``
    advances it, ``phase(text)`` relabels it; ``unit`` adds a "N unit/s" rate column."""

    def __init__(self, console: Console, description: str, *, unit: str | None = None) -> None:
        columns = [TextColumn("{task.description}"), BarColumn(), TaskProgressColumn()]
        if unit:
            columns.append(TextColumn(f"{{task.fields[rate]:>6.1f}} {unit}/s"))
        columns += [TextColumn("ETA"), TimeRemainingColumn()]
        self._progress = Progress(
            *columns, console=console, transient=True, disable=not console.is_terminal
        )
        self._task = self._progress.add_task(description, total=None, rate=0.0)
        self._started = time.perf_counter()

    def __enter__(self) -> StepProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def phase(self, description: str) -> None:
        self._progress.update(self._task, description=description, total=None, completed=0)

    def update(self, done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - self._started, 1e-6)
        self._progress.update(self._task, completed=done, total=total, rate=rate)
