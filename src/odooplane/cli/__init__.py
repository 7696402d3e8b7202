"""The odooplane command line: thin commands over the library.

Each command group lives in its own module and registers itself on :data:`cli`.
:func:`main` turns library errors into sentences and exit codes.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from datetime import datetime, timezone
from typing import NoReturn

import click

from odooplane import __version__
from odooplane.cli._common import console_err
from odooplane.errors import EXIT_FAILED, EXIT_UNEXPECTED, OdooplaneError
from odooplane.paths import cache_dir

# Command name -> (module under odooplane.cli that registers it, one-line help).
# Modules are imported only when their command runs: importing every library (SQLAlchemy,
# psycopg, pydantic...) for `--help` or a simple status would cost seconds.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("init_cmd", "Write a commented odooplane.yaml for this repository."),
    "quickstart": ("quickstart_cmd", "Create a project with a sample addon and serve it."),
    "config": ("config_cmd", "Check and show odooplane.yaml."),
    "db": ("db_cmd", "Databases: the embedded server, clones, snapshots, import, export."),
    "odoo": ("odoo_cmd", "The Odoo source and the Python runtime that runs it."),
    "build": ("build_cmd", "Build a commit: export it and prepare its runtime."),
    "env": ("env_cmd", "Environments: create, deploy, start, stop, status, diff, ..."),
    "neutralize": ("neutralize_cmd", "Make a copy of production safe, then verify it."),
    "verify": ("neutralize_cmd", "Check, read-only, that a database cannot reach outside."),
    "mail": ("neutralize_cmd", "Messages caught by the mail catcher."),
    "evidence": ("evidence_cmd", "The evidence store: sync, prune, export to Supabase."),
    "history": ("evidence_cmd", "What was deployed where, and how it went."),
    "logs": ("evidence_cmd", "Logs of a deployment, by id or environment."),
    "postmortem": ("evidence_cmd", "Write a Markdown postmortem of a deployment."),
    "export": ("export_cmd", "Write environments as Kubernetes manifests or a Compose project."),
    "dev": ("dev_cmd", "Serve the development environment with hot reload and live reload."),
    "backup": ("backup_cmd", "Backups: create, list, verify, restore, prune, schedule."),
    "promote": ("promote_cmd", "Promote staging's build to production: gates, approval, deploy."),
    "rollback": ("promote_cmd", "Roll an environment back to its previous deployment."),
    "gate": ("gate_cmd", "Gates a build must pass: tests, security, migration, neutralization."),
    "preview": ("preview_cmd", "Preview environments: one per pull request, scale to zero."),
    "routing": ("routing_cmd", "The front door: Caddy, routes, hostnames, maintenance pages."),
    "github": ("github_cmd", "GitHub: workflow steps (gates, preview, comment), approvals."),
    "ci": ("github_cmd", "Generated CI workflows: `ci init github [--check]`."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            importlib.import_module(f"odooplane.cli.{LAZY_COMMANDS[cmd_name][0]}")
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [
            (
                name,
                LAZY_COMMANDS[name][1]
                if name in LAZY_COMMANDS
                else self.commands[name].get_short_help_str(80),
            )
            for name in self.list_commands(ctx)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
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
    try:
        # Without standalone mode click returns ctx.exit()'s code instead of exiting.
        code = cli.main(args=argv, prog_name="odooplane", standalone_mode=False)
    except click.exceptions.Abort:
        console_err.print("[red]Aborted.[/red]")
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except OdooplaneError as exc:
        _say("error", "bold red", exc.message)
        if exc.hint:
            _say("hint", "yellow", exc.hint)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        console_err.print("[red]Interrupted.[/red]")
        sys.exit(130)
    except OSError as exc:
        if exc.filename is None or exc.strerror is None:
            _unexpected(exc)
        # A file odooplane could not read or write (permissions, a full or read-only
        # disk): the machine's state, not a bug; said as a sentence naming the file.
        log = _crash_log(exc)
        _say("error", "bold red", f"{exc.filename}: {exc.strerror}.")
        _say("hint", "yellow", f"Check that path, its permissions and free space ({log}).")
        sys.exit(EXIT_FAILED)
    except Exception as exc:  # the one place a stray exception is turned into exit 3
        _unexpected(exc)
    sys.exit(code if isinstance(code, int) else 0)


def _unexpected(exc: BaseException) -> NoReturn:
    log = _crash_log(exc)
    _say(
        "unexpected error",
        "bold red",
        f"{type(exc).__name__}: {exc}\n"
        f"The full traceback is in {log}; please attach it to a bug report.",
    )
    sys.exit(EXIT_UNEXPECTED)


def _say(label: str, style: str, text: str) -> None:
    from rich.text import Text

    # User text may hold brackets (`[main, 'x']`) and long paths: no markup, no wrapping.
    console_err.print(Text(f"{label}: ", style=style) + Text(text), soft_wrap=True)
