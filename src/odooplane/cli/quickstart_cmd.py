"""`odooplane quickstart`: the main job, from nothing to Odoo serving a sample project."""

from __future__ import annotations

from pathlib import Path

import click
from rich.status import Status

from odooplane.cli import cli
from odooplane.cli._common import console, emit, json_option
from odooplane.quickstart import prepare, start


@cli.command("quickstart")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--odoo-source",
    metavar="PATH_OR_URL",
    help="Odoo source folder, or a git URL (then also --odoo-ref). Needed the first time.",
)
@click.option("--odoo-ref", metavar="REF", help="Branch or tag of a git --odoo-source.")
@click.option("--port", type=int, default=None, help="HTTP port (default 8069, or a free one).")
@click.option(
    "--no-serve",
    is_flag=True,
    help="Prepare everything, check that Odoo answers, then stop it instead of serving.",
)
@json_option
def quickstart(
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
    Odoo serves it until Ctrl-C. Running it again on the same FOLDER resumes.
    """
    progress = not as_json

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
        while status:
            status.pop().stop()
        console.print(f"[green]✓[/green] {name} [dim]({seconds:.1f} s)[/dim]")

    try:
        prepared = prepare(
            folder, odoo_source, odoo_ref=odoo_ref, progress=progress, on_step=on_step
        )
        process = start(prepared, port=port, on_step=on_step)
    finally:
        while status:
            status.pop().stop()
    result = prepared.result
    if no_serve:
        process.stop()
        emit(
            result.as_dict(),
            as_json,
            lambda: console.print(f"Odoo answered at {result.url} and was stopped (--no-serve)."),
        )
        return
    emit(
        result.as_dict(),
        as_json,
        lambda: console.print(
            f"\n[bold green]Odoo is serving[/bold green] {result.url}  "
            f"(login [bold]admin[/bold] / [bold]admin[/bold], database {result.database})\n"
            f"Project: {result.project_root}   Log: {process.log_path}\n"
            "Press Ctrl-C to stop Odoo."
        ),
    )
    try:
        process.popen.wait()
    except KeyboardInterrupt:
        console.print("\nStopping Odoo …")
    finally:
        process.stop()
    code = process.popen.returncode
    if code not in (0, -2, -15, None):
        raise click.ClickException(f"Odoo exited with code {code}; see {process.log_path}.")
