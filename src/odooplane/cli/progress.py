"""Drawing the library's progress events (:mod:`odooplane.progress`) on stderr.

:class:`ProgressBar` is a rich bar with one task per phase (a new phase completes the
previous one), started on the first event and stopped by :meth:`ProgressBar.stop`, so
a command can show a spinner of its own between two operations (rich allows one live
display at a time). :class:`ProgressLines` prints each new phase on a line with the
time since the command began. :class:`StepsView` shows the named steps of a start-up
(``dev``, ``quickstart``) as a spinner, then one timed line per step. Warnings are
printed and stay on screen in all of them.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from odooplane.cli._common import console_err, real_console
from odooplane.progress import ProgressEvent

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID
    from rich.status import Status

    from odooplane.environments.steps import StepTiming


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
        # Imported when a bar is drawn: a command printing JSON never pays for rich.
        from rich.errors import LiveError
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        count: ProgressColumn = DownloadColumn() if self.unit == "bytes" else MofNCompleteColumn()
        bar = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            count,
            TimeElapsedColumn(),
            console=real_console(self.console),
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


# The steps of the start-up path (prepare_environment), and quickstart's first one.
STEPS = ("project", "postgres", "odoo source", "runtime", "mail catcher", "database")


class StepsView:
    """Shows the start-up steps as they run: one spinner naming the step (and what the
    step is doing), then a ✓ line per step with its time; with ``as_json`` one JSON
    line per step instead; ``quiet`` shows nothing (the result carries the steps)."""

    def __init__(
        self, as_json: bool, *, quiet: bool = False, console: Console = console_err
    ) -> None:
        self.console = console
        self.as_json = as_json
        self.quiet = quiet
        self.step: str | None = None
        self.status: Status | None = None

    def __call__(self, event: ProgressEvent) -> None:
        if self.quiet:
            return
        if event.warning is not None:
            if self.as_json:
                json_line({"event": "warning", "message": event.warning})
            else:
                _warning(self.console, event.warning)
            return
        if event.phase in STEPS:
            self.step = event.phase
            if self.as_json:
                json_line({"event": "step", "step": event.phase, "state": "start"})
            text = f"{event.phase} …"
        else:
            count = f" {event.done}/{event.total}" if event.total else ""
            text = f"{self.step or ''}: {event.phase}{count} …"
        if self.as_json:
            return
        if self.status is None:
            self.status = self.console.status(text)
            self.status.start()
        else:
            self.status.update(text)

    def finish(self, steps: Sequence[StepTiming]) -> None:
        self.close()
        if self.quiet:
            return
        for step in steps:
            if self.as_json:
                json_line(
                    {
                        "event": "step",
                        "step": step.name,
                        "state": "done",
                        "seconds": step.seconds,
                        "detail": step.detail,
                    }
                )
            else:
                detail = f" — {step.detail}" if step.detail else ""
                self.console.print(
                    f"[green]✓[/green] {step.name} [dim]({step.seconds:.1f} s){detail}[/dim]"
                )

    def close(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None

    def __enter__(self) -> StepsView:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def json_line(data: dict[str, Any]) -> None:
    """One JSON object on a line of stdout (the events of ``--json`` commands that
    stream)."""
    sys.stdout.write(json.dumps(data, default=str) + "\n")
    sys.stdout.flush()
