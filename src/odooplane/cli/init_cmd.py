"""`odooplane init`."""

from __future__ import annotations

import re
from pathlib import Path

import click
from rich import box
from rich.table import Table

from odooplane.cli import cli
from odooplane.cli._common import console, emit, json_option, project_dir
from odooplane.cli.config_cmd import render_environments
from odooplane.scaffold import InitResult, init_project

_URL_RE = re.compile(r"^([a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)
MAX_ADDON_ROWS = 30


@cli.command("init")
@click.option("--force", is_flag=True, help="Replace an existing odooplane.yaml.")
@click.option(
    "--odoo-source",
    metavar="PATH_OR_URL",
    default=None,
    help="Odoo source: a local checkout (a relative path is taken from the current folder "
    "when it exists there), or a git URL (cloned at the guessed series). Default: an Odoo "
    "tree inside the repository, else github.com/odoo/odoo.",
)
@click.option(
    "--name",
    default=None,
    help="Project name (default: the folder name made safe: lowercase, digits, '_', '-').",
)
@json_option
@click.pass_context
def init(
    ctx: click.Context,
    force: bool,
    odoo_source: str | None,
    name: str | None,
    as_json: bool,
) -> None:
    """Write a commented odooplane.yaml for the addons repository here.

    Finds the addon folders (git submodules included), guesses the Odoo series from
    the manifest versions, proposes production, staging (branch main) and development
    (every other branch) environments, and adds .odooplane/ to .gitignore. An existing
    odooplane.yaml is only replaced with --force.
    """
    if odoo_source and not _URL_RE.match(odoo_source):
        # A path on the command line is relative to where the user stands.
        local = Path(odoo_source).expanduser()
        if not local.is_absolute() and (Path.cwd() / local).exists():
            odoo_source = str((Path.cwd() / local).resolve())
    result = init_project(project_dir(ctx), force=force, odoo_source=odoo_source, name=name)
    emit(result.to_dict(), as_json, lambda: _render(result))


def _render(result: InitResult) -> None:
    verb = "Replaced" if result.overwritten else "Wrote"
    console.print(f"{verb} {result.config_path}", style="bold green", markup=False, soft_wrap=True)
    console.print(f"project: {result.project}", markup=False, soft_wrap=True)
    console.print(
        f"Odoo series: {result.series} ({result.series_reason})", markup=False, soft_wrap=True
    )
    source = result.odoo_source
    shown = source if isinstance(source, str) else f"{source['git']} at {source['ref']}"
    console.print(f"Odoo source: {shown}", markup=False, soft_wrap=True)
    if result.addons:
        table = Table(
            title=f"{len(result.addons)} addons found", title_justify="left", box=box.SIMPLE_HEAD
        )
        for column in ("addon", "folder", "version"):
            table.add_column(column, overflow="fold")
        for addon in result.addons[:MAX_ADDON_ROWS]:
            table.add_row(addon.name, addon.path, addon.version)
        if len(result.addons) > MAX_ADDON_ROWS:
            table.add_row("…", f"and {len(result.addons) - MAX_ADDON_ROWS} more", "")
        console.print(table)
        console.print(
            f"addons paths: {', '.join(result.addons_paths)}", markup=False, soft_wrap=True
        )
    if result.submodules:
        console.print(
            f"git submodules: {', '.join(result.submodules)}", markup=False, soft_wrap=True
        )
    render_environments(result.environments, "Proposed environments")
    gitignore = {
        "created": "Created .gitignore with .odooplane/.",
        "updated": "Added .odooplane/ to .gitignore.",
        "unchanged": ".gitignore already ignores .odooplane/.",
    }[result.gitignore]
    console.print(gitignore, markup=False, soft_wrap=True)
    for note in result.notes:
        console.print(f"note: {note}", style="yellow", markup=False, soft_wrap=True)
    console.print(
        "Next: review the file, then `odooplane config check` and `odooplane odoo setup`.",
        markup=False,
    )
