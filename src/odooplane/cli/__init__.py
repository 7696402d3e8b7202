"""The odooplane command line: thin commands over the library.

Each command group lives in its own module and registers itself on :data:`cli`.
:func:`main` turns library errors into sentences and exit codes.
"""

from __future__ import annotations

import sys
import traceback
from datetime import datetime, timezone

import click

from odooplane import __version__
from odooplane.cli._common import console_err
from odooplane.errors import EXIT_UNEXPECTED, OdooplaneError
from odooplane.paths import cache_dir


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="odooplane")
@click.option(
    "-C",
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    envvar="ODOOPLANE_PROJECT",
    help="Project folder (default: the nearest folder holding odooplane.yaml).",
)
@click.pass_context
def cli(ctx: click.Context, project_dir: str | None) -> None:
    """odooplane: Odoo.sh on your own machines.

    Branch-driven environments (development, staging, production, previews) for a git
    repository of Odoo addons, with a managed PostgreSQL, neutralized staging and an
    evidence trail of every build and deployment.
    """
    ctx.ensure_object(dict)
    ctx.obj["project_dir"] = project_dir


def _register() -> None:
    # Imported here so each module can import `cli` from this package.
    from odooplane.cli import (  # noqa: F401
        config_cmd,
        db_cmd,
        evidence_cmd,
        init_cmd,
        neutralize_cmd,
        odoo_cmd,
        quickstart_cmd,
    )


def _crash_log(exc: BaseException) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    try:
        folder = cache_dir() / "logs"
        folder.mkdir(parents=True, exist_ok=True)
    except Exception:
        import tempfile

        folder = __import__("pathlib").Path(tempfile.gettempdir())
    path = folder / f"crash-{stamp}.log"
    path.write_text(
        f"odooplane {__version__}\nargv: {sys.argv!r}\n\n"
        + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    )
    return str(path)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script and ``python -m odooplane``."""
    _register()
    try:
        cli.main(args=argv, prog_name="odooplane", standalone_mode=False)
    except click.exceptions.Abort:
        console_err.print("[red]Aborted.[/red]")
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except OdooplaneError as exc:
        console_err.print(f"[bold red]error:[/bold red] {exc.message}", highlight=False)
        if exc.hint:
            console_err.print(f"[yellow]hint:[/yellow] {exc.hint}", highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        console_err.print("[red]Interrupted.[/red]")
        sys.exit(130)
    except Exception as exc:  # the one place a stray exception is turned into exit 3
        log = _crash_log(exc)
        console_err.print(
            f"[bold red]unexpected error:[/bold red] {type(exc).__name__}: {exc}\n"
            f"The full traceback is in {log}; please attach it to a bug report.",
            highlight=False,
        )
        sys.exit(EXIT_UNEXPECTED)
    sys.exit(0)
