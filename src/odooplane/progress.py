"""How long operations report progress: one protocol, rendered only by the CLI.

A library function that takes a while accepts ``progress: Progress | None`` and calls it
with :class:`ProgressEvent` values: the phase it is in (a new phase ends the previous
one), how far it is when it can count (``done`` of ``total``; ``total`` 0 when it cannot),
and warnings worth keeping on screen. The library draws nothing; ``odooplane.cli``
turns events into bars or timed lines. Every operation uses it: database copies,
imports and exports, the Odoo source fetch, the runtime build, neutralization, the
steps of the environments' lifecycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProgressEvent:
    phase: str
    done: int = 0
    total: int = 0
    # Set for a warning: the operation goes on, the message should stay visible.
    warning: str | None = None


Progress = Callable[[ProgressEvent], None]


def report(progress: Progress | None, phase: str, done: int = 0, total: int = 0) -> None:
    """Tell ``progress`` (when there is one) where the operation is."""
    if progress is not None:
        progress(ProgressEvent(phase, done, total))


def warn(progress: Progress | None, message: str, phase: str = "") -> None:
    """Hand ``progress`` a warning to keep on screen."""
    if progress is not None:
        progress(ProgressEvent(phase, warning=message))
