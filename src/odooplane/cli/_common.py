"""Helpers shared by the command modules: project loading, output, options."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

console = Console(highlight=False)
console_err = Console(stderr=True, highlight=False)

F = TypeVar("F", bound=Callable[..., Any])


def json_option(func: F) -> F:
    """Add ``--json``: machine-readable output on stdout instead of rich text."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print the result as JSON (for CI and scripts)."
    )(func)


def emit(data: Any, as_json: bool, render: Callable[[], None]) -> None:
    """Print ``data`` as JSON, or call ``render`` to show it to people."""
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    else:
        render()


def project_dir(ctx: click.Context) -> Path:
    """The folder the user pointed at with -C, or the current one."""
    root = ctx.find_root().obj or {}
    given = root.get("project_dir")
    return Path(given).resolve() if given else Path.cwd()
