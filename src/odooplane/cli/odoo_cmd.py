"""`odooplane odoo` commands."""

from __future__ import annotations

from typing import Any, cast

import click
from rich.table import Table

from odooplane.cli import cli
from odooplane.cli._common import console, console_err, emit, json_option, project_dir
from odooplane.cli.progress import ProgressBar
from odooplane.odoo.runtime import Installer
from odooplane.odoo.setup import addons_overview, odoo_info, setup_odoo
from odooplane.project import load_project


@cli.group("odoo")
def odoo_group() -> None:
    """The Odoo source and the Python runtime that runs it."""


def _skipped_warnings(runtime: dict[str, Any]) -> None:
    for item in runtime.get("skipped") or []:
        system = item.get("system_packages") or []
        text = f"{item['requirement']} was not installed: {item['reason']}."
        if system:
            text += (
                f" Install it with: apt-get install {' '.join(system)}; then run "
                "`odooplane odoo setup --rebuild`."
            )
        console_err.print(f"[yellow]warning:[/yellow] {text}", highlight=False)


@odoo_group.command("setup")
@click.option("--rebuild", is_flag=True, help="Build the runtime again even if it exists.")
@click.option(
    "--update-source",
    is_flag=True,
    help="Fetch the configured git ref of the Odoo source again (git sources only).",
)
@click.option(
    "--installer",
    type=click.Choice(["uv", "pip"]),
    default=None,
    help="Install with uv (default when available) or venv + pip.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@json_option
@click.pass_context
def setup_cmd(
    ctx: click.Context,
    rebuild: bool,
    update_source: bool,
    installer: str | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Fetch the Odoo source if needed and build the Python runtime that runs it.

    The runtime is a virtual environment keyed by the dependencies hash (Python
    version, Odoo's requirements.txt, the project's requirement files, the addons'
    external_dependencies). It is built once in the user cache and shared by every
    environment and project with the same hash. Packages whose build needs missing
    system headers (python-ldap needs libldap2-dev and libsasl2-dev) are skipped with a
    warning naming the Debian packages to install.
    """
    project = load_project(project_dir(ctx))
    with ProgressBar(transient=False) as bar:
        result = setup_odoo(
            project,
            rebuild=rebuild,
            update_source=update_source,
            installer=cast("Installer | None", installer),
            progress=None if quiet else bar,
        )

    def render() -> None:
        source, runtime = result.source, result.runtime
        table = Table(show_header=False, box=None)
        table.add_row("Odoo source", f"{source.path} ({source.series})")
        table.add_row("revision", source.revision)
        table.add_row("runtime", str(runtime.path))
        table.add_row("dependencies hash", runtime.deps_hash)
        table.add_row("Python", str(runtime.metadata.get("python_tag")))
        table.add_row("state", f"{result.state} in {result.seconds} s")
        console.print(table)
        if quiet or result.state == "reused":
            # A fresh build already warned while it ran.
            for skipped in runtime.skipped:
                console_err.print(f"[yellow]warning:[/yellow] {skipped.warning()}")

    emit(result, as_json, render)


@odoo_group.command("info")
@json_option
@click.pass_context
def info_cmd(ctx: click.Context, as_json: bool) -> None:
    """Show the Odoo source (path, series, revision) and the runtime (path, hash, state).

    Nothing is fetched or built: a runtime not built yet shows as 'missing'.
    """
    project = load_project(project_dir(ctx))
    result = odoo_info(project)

    def render() -> None:
        source, runtime = result["source"], result["runtime"]
        table = Table(show_header=False, box=None)
        table.add_row("Odoo source", source["path"])
        table.add_row("series", source.get("series") or source["series_configured"])
        table.add_row("revision", source.get("revision", "-"))
        table.add_row("source state", source["state"])
        table.add_row("runtime", runtime.get("path", "-"))
        table.add_row("dependencies hash", runtime.get("deps_hash", "-"))
        table.add_row("runtime state", runtime["state"])
        if runtime.get("created_at"):
            table.add_row("built", f"{runtime['created_at']} in {runtime['build_seconds']} s")
        console.print(table)
        if source.get("message"):
            console.print(f"[yellow]{source['message']}[/yellow] Run `odooplane odoo setup`.")
        elif runtime.get("hint"):
            console.print(f"[yellow]{runtime['hint']}[/yellow]")
        _skipped_warnings(runtime)

    emit(result, as_json, render)


@odoo_group.command("addons")
@json_option
@click.pass_context
def addons_cmd(ctx: click.Context, as_json: bool) -> None:
    """List the project's addons in install order (dependencies first)."""
    project = load_project(project_dir(ctx))
    result = addons_overview(project)

    def render() -> None:
        table = Table("addon", "version", "depends", "python", "path")
        for addon in result.addons:
            name = addon.name if addon.installable else f"{addon.name} (not installable)"
            table.add_row(
                name,
                addon.version,
                ", ".join(addon.depends),
                ", ".join(addon.python),
                str(addon.path),
            )
        console.print(table)
        if not result.addons:
            console.print("[yellow]No addons found on the project's addons paths.[/yellow]")

    emit(result, as_json, render)
