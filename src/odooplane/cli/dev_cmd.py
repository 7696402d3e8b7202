"""`odooplane dev`: serve the development environment in the foreground with hot reload."""

from __future__ import annotations

import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

import click

from odooplane.cli import cli
from odooplane.cli._common import TCP_PORT, console, project_dir
from odooplane.cli.progress import StepsView, json_line
from odooplane.dev.session import DevContext, DevSession, prepare_dev
from odooplane.project import load_project

_STYLES = {
    "change": "cyan",
    "reload": "green",
    "browser": "magenta",
    "migrate": "yellow",
    "restart": "yellow",
    "error": "bold red",
    "odoo": "red",
    "info": "dim",
}


@cli.command("dev")
@click.argument("env", required=False)
@click.option(
    "--port", type=TCP_PORT, default=None, help="HTTP port (default 8069, or a free one)."
)
@click.option(
    "--auto-upgrade",
    is_flag=True,
    help="Upgrade or install modules by itself when data files, fields, manifest versions "
    "or new addons need it (otherwise it asks).",
)
@click.option(
    "--no-livereload", is_flag=True, help="Do not install or run the browser live reload."
)
@click.option("--no-mail", is_flag=True, help="Do not start the mail catcher.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object per event on stdout instead of the live status (for tools).",
)
@click.pass_context
def dev(
    ctx: click.Context,
    env: str | None,
    port: int | None,
    auto_upgrade: bool,
    no_livereload: bool,
    no_mail: bool,
    as_json: bool,
) -> None:
    """Serve the development environment ENV with hot reload, until Ctrl-C.

    Makes sure of the embedded PostgreSQL, the Odoo source and runtime, the mail catcher
    and the development database (on first run a clone of cached templates holding the
    environment's `modules`, else every installable addon of the project), then serves
    Odoo with the dev options of its series. `odooplane env list` shows it serving.
    Python edits are served by a fresh Odoo process forked from a warm one, with no
    refused request; a syntax error keeps the last good code serving. Views and QWeb
    templates are read from their files on the next request. Data files, changed fields
    and new addons need an upgrade: press u + Enter, or pass --auto-upgrade. JS/CSS/SCSS
    edits reload open browser tabs (stylesheets are swapped in place). Changes to
    odooplane.yaml or the env file restart Odoo.
    """
    project = load_project(project_dir(ctx))
    with StepsView(as_json) as view:
        context = prepare_dev(
            project, env, progress=view, mail=not no_mail, livereload=not no_livereload
        )
        view.finish(context.steps)
    serve_foreground(
        context,
        port=port,
        auto_upgrade=auto_upgrade,
        livereload=not no_livereload,
        as_json=as_json,
    )


def serve_foreground(
    context: DevContext,
    *,
    port: int | None,
    auto_upgrade: bool,
    livereload: bool,
    as_json: bool,
) -> None:
    """Serve ``context`` with a :class:`DevSession` until Ctrl-C or SIGTERM, drawing its
    events (``odooplane dev`` and ``quickstart``)."""

    def on_event(kind: str, message: str, data: dict[str, Any]) -> None:
        if as_json:
            json_line({"event": kind, "message": message, **data})
            return
        stamp = time.strftime("%H:%M:%S")
        style = _STYLES.get(kind, "")
        console.print(f"[dim]{stamp}[/dim] [{style}]{kind:>7}[/{style}] {message}", markup=True)

    session = DevSession(
        context,
        port=port,
        auto_upgrade=auto_upgrade,
        livereload=livereload,
        on_event=on_event,
    )
    with StepsView(as_json) as view:
        if not as_json:
            view.status = console.status("start odoo …")
            view.status.start()
        session.start()
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if not as_json:
        console.print(
            f"\n[bold green]Odoo is serving[/bold green] {session.url}  "
            f"(database {context.database}, login admin / admin, log {session.log_path})\n"
            "Edit your addons: changes are applied as you save. Ctrl-C stops everything."
        )
    else:
        json_line({"event": "serving", "url": session.url, "livereload": session.livereload_url})
    if sys.stdin.isatty():
        threading.Thread(target=_read_keys, args=(session, stop), daemon=True).start()
    try:
        session.run(stop)
    finally:
        if not as_json:
            console.print("\nStopping Odoo …")
        session.stop()
        if not as_json:
            console.print("Stopped.")


def _read_keys(session: DevSession, stop: threading.Event) -> None:
    """``u`` + Enter applies the proposed upgrades; ``q`` + Enter stops."""
    for line in sys.stdin:
        key = line.strip().lower()
        if key == "q":
            stop.set()
            return
        if key == "u":
            if session.pending_update or session.pending_install:
                session.request_upgrade()
            else:
                console.print("[dim]Nothing to upgrade.[/dim]")
