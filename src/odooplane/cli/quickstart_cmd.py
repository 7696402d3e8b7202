"""`odooplane quickstart`: the main job, from nothing to Odoo serving a sample project."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.status import Status

from odooplane.cli import cli
from odooplane.cli._common import TCP_PORT, console, emit, json_option
from odooplane.cli.dev_cmd import dev
from odooplane.cli.progress import ProgressBar
from odooplane.quickstart import prepare, start


@cli.command("quickstart")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--odoo-source",
    metavar="PATH_OR_URL",
    help="Odoo source folder, or a git URL (then also --odoo-ref). Needed the first time.",
)
@click.option("--odoo-ref", metavar="REF", help="Branch or tag of a git --odoo-source.")
@click.option(
    "--port", type=TCP_PORT, default=None, help="HTTP port (default 8069, or a free one)."
)
@click.option(
    "--no-serve",
    is_flag=True,
    help="Prepare everything, check that Odoo answers, then stop it instead of serving.",
)
@json_option
@click.pass_context
def quickstart(
    ctx: click.Context,
    folder: Path,
    odoo_source: str | None,
    odoo_ref: str | None,
    port: int | None,
    no_serve: bool,
    as_json: bool,
) -> None:
    """Create a project with a sample addon and serve it with Odoo.

    FOLDER is created as a git repository holding `addons/hello_odooplane` and an
    `odooplane.yaml`; then the embedded PostgreSQL starts, the Python runtime for Odoo
    is built (once, shared), the development database is created with demo data, and
    `odooplane dev` serves it with hot reload until Ctrl-C. Running it again on the same
    FOLDER resumes. With --json, one JSON object per line: the prepared project, then
    the dev session's events.
    """
    # The source fetch and runtime build draw a bar, stopped when their step ends.
    bar = ProgressBar()
    progress = None if as_json else bar

    # Steps that draw their own progress bars (git clone, runtime build) get no spinner:
    # rich allows one live display at a time.
    spinning = {"postgres", "database", "start odoo"}
    status: list[Status] = []

    def on_step(name: str, state: str, seconds: float, _detail: str) -> None:
        if as_json:
            return
        if state == "start":
            if name in spinning:
                status.append(console.status(f"{name} …"))
                status[-1].start()
            return
        bar.stop()
        while status:
            status.pop().stop()
        console.print(f"[green]✓[/green] {name} [dim]({seconds:.1f} s)[/dim]")

    try:
        prepared = prepare(
            folder, odoo_source, odoo_ref=odoo_ref, progress=progress, on_step=on_step
        )
        if no_serve:
            process = start(prepared, port=port, on_step=on_step)
    finally:
        bar.stop()
        while status:
            status.pop().stop()
    result = prepared.result
    if no_serve:
        process.stop()
        emit(
            result.to_dict(),
            as_json,
            lambda: console.print(f"Odoo answered at {result.url} and was stopped (--no-serve)."),
        )
        return
    # Serving is `odooplane dev` on the new project: the developer gets hot reload from
    # the first minute, and one code path serves development environments.
    if as_json:
        sys.stdout.write(json.dumps({"event": "prepared", **result.to_dict()}, default=str) + "\n")
        sys.stdout.flush()
    else:
        console.print(
            f"Project ready in {result.project_root} (database {result.database}, login "
            "[bold]admin[/bold] / [bold]admin[/bold]); serving it with `odooplane dev`."
        )
    ctx.find_root().obj["project_dir"] = str(result.project_root)
    ctx.invoke(
        dev,
        env=None,
        port=port,
        auto_upgrade=False,
        no_livereload=False,
        no_mail=False,
        as_json=as_json,
    )
