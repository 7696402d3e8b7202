"""Helpers shared by the command modules: project loading, output, options."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from odooplane.results import jsonable

if TYPE_CHECKING:
    from rich.console import Console


class _LazyConsole:
    """A rich Console made on first use: a command that prints JSON, or nothing, does
    not pay rich's import (a tenth of a second of `preview up`'s start, measured)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def made(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.made(), name)


def real_console(given: Console) -> Console:
    """The rich Console behind :data:`console` or :data:`console_err`, for rich objects
    that hold a console of their own (a progress bar's live display)."""
    return given.made() if isinstance(given, _LazyConsole) else given


console = cast("Console", _LazyConsole(highlight=False))
console_err = cast("Console", _LazyConsole(stderr=True, highlight=False))

F = TypeVar("F", bound=Callable[..., Any])


def json_option(func: F) -> F:
    """Add ``--json``: machine-readable output on stdout instead of rich text."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print the result as JSON (for CI and scripts)."
    )(func)


def emit(data: Any, as_json: bool, render: Callable[[], None]) -> None:
    """Print ``data`` (typed results included: :func:`odooplane.results.jsonable`) as
    JSON, or call ``render`` to show it to people."""
    if as_json:
        text = json.dumps(jsonable(data), indent=2, sort_keys=True, default=str)
        sys.stdout.write(text + "\n")
    else:
        render()


def project_dir(ctx: click.Context) -> Path:
    """The folder the user pointed at with -C, or the current one."""
    root = ctx.find_root().obj or {}
    given = root.get("project_dir")
    return Path(given).resolve() if given else Path.cwd()


class Seconds(click.ParamType[float]):
    """A duration in seconds: a finite number from ``minimum`` to ``maximum`` (``nan``,
    ``inf`` and negative waits are refused with a sentence, not carried into a loop)."""

    name = "seconds"

    def __init__(self, *, minimum: float = 0.0, maximum: float = 7 * 86400.0) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        import math

        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        else:
            try:
                number = float(str(value).strip())
            except ValueError:
                self.fail(f"'{value}' is not a number of seconds.", param, ctx)
        if not math.isfinite(number) or not self.minimum <= number <= self.maximum:
            self.fail(
                f"{value} is not a duration from {self.minimum:g} to {self.maximum:g} seconds.",
                param,
                ctx,
            )
        return number


# A count of lines or records: never negative, never beyond what a database integer or
# a screen can hold.
COUNT = click.IntRange(min=0, max=1_000_000)
POSITIVE_COUNT = click.IntRange(min=1, max=1_000_000)
TCP_PORT = click.IntRange(min=1, max=65535)
