"""Drawing the library's progress events (:mod:`odooplane.progress`) on stderr.

:class:`ProgressBar` is a rich bar with one task per phase (a new phase completes the
previous one), started on the first event and stopped by :meth:`ProgressBar.stop`, so
a command can show a spinner of its own between two operations (rich allows one live
display at a time). :class:`ProgressLines` prints each new phase on a line with the
time since the command began. Warnings are printed and stay on screen in both.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Literal

from rich.console import Console
from rich.errors import LiveError
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from odooplane.cli._common import console_err
from odooplane.progress import ProgressEvent


def _warning(console: Console, message: str) -> None:
    console.print(f"[yellow]warning:[/yellow] {message}", highlight=False)


class ProgressBar:
    """Renders events as a bar; ``title`` prefixes each phase; ``unit`` says what
    ``done``/``total`` count."""

    def __init__(
        self,
        title: str = "",
        *,
        unit: Literal["count", "bytes"] = "count",
        transient: bool = True,
        console: Console = console_err,
    ) -> None:
        self.title = title
        self.unit = unit
        self.transient = transient
        self.console = console
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._phase: str | None = None
        self._blocked = False

    def __call__(self, event: ProgressEvent) -> None:
        if event.warning is not None:
            _warning(self._bar.console if self._bar else self.console, event.warning)
            return
        bar = self._start()
        if bar is None:
            return
        total = event.total or None
        if event.phase != self._phase or self._task is None:
            self._complete()
            label = f"{self.title}: {event.phase}" if self.title else event.phase
            self._task = bar.add_task(label, total=total)
            self._phase = event.phase
        bar.update(self._task, completed=event.done, total=total)

    def _start(self) -> Progress | None:
        if self._bar is not None or self._blocked:
            return self._bar
        count: ProgressColumn = DownloadColumn() if self.unit == "bytes" else MofNCompleteColumn()
        bar = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            count,
            TimeElapsedColumn(),
            console=self.console,
            transient=self.transient,
        )
        try:
            bar.start()
        except LiveError:
            # The command shows a live display of its own: only warnings get through.
            self._blocked = True
            return None
        self._bar = bar
        return bar

    def _complete(self) -> None:
        if self._bar is not None and self._task is not None:
            task = self._bar.tasks[self._task]
            if task.total is not None:
                self._bar.update(self._task, completed=task.total)

    def stop(self) -> None:
        """Stop drawing (the next event starts a new bar)."""
        if self._bar is not None:
            self._complete()
            self._bar.stop()
        self._bar, self._task, self._phase, self._blocked = None, None, None, False

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ProgressLines:
    """Renders each new phase as a line: ``  12.3s building main...``."""

    def __init__(self, console: Console = console_err) -> None:
        self.console = console
        self.started = time.monotonic()
        self._phase: str | None = None

    def __call__(self, event: ProgressEvent) -> None:
        if event.warning is not None:
            _warning(self.console, event.warning)
            return
        if event.phase == self._phase:
            return
        self._phase = event.phase
        elapsed = time.monotonic() - self.started
        self.console.print(f"[dim]{elapsed:6.1f}s[/dim] {event.phase}", highlight=False)
