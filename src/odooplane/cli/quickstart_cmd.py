"""`odooplane quickstart`: the main job, from nothing to Odoo serving a sample project."""

from __future__ import annotations

from pathlib import Path

import click

from odooplane.cli import cli
from odooplane.cli._common import TCP_PORT, console, emit, json_option
from odooplane.cli.dev_cmd import serve_foreground
from odooplane.cli.progress import StepsView, json_line
from odooplane.quickstart import check_serving, prepare


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
    is built (once, shared), the development database is made with demo data and the
    project's addons (a clone of cached templates after the first time), and it is
    served as `odooplane dev` serves it, with hot reload, until Ctrl-C. Running it again
    on the same FOLDER resumes. With --json, one JSON object per line: the prepared
    project, then the dev session's events (with --no-serve, one JSON object).
    """
    # With --json the steps are in the result (the first JSON object).
    with StepsView(as_json, quiet=as_json) as view:
        result = prepare(folder, odoo_source, odoo_ref=odoo_ref, progress=view)
        view.finish(result.steps)
    if no_serve:
        check_serving(result, port=port)
        emit(
            result.to_dict(),
            as_json,
            lambda: console.print(f"Odoo answered at {result.url} and was stopped (--no-serve)."),
        )
        return
    if as_json:
        json_line({"event": "prepared", **result.to_dict()})
    else:
        console.print(
            f"Project ready in {result.project_root} (database {result.database}, login "
            "[bold]admin[/bold] / [bold]admin[/bold]); serving it as `odooplane dev` does."
        )
    serve_foreground(
        result.prepared, port=port, auto_upgrade=False, livereload=True, as_json=as_json
    )
