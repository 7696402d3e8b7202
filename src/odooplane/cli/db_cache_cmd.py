"""`odooplane db cache`: the template databases new databases are cloned from."""

from __future__ import annotations

from datetime import timedelta

import click
from rich.filesize import decimal
from rich.table import Table

from odooplane.cli._common import console, emit, json_option, project_dir
from odooplane.cli.db_cmd import db_group
from odooplane.postgres import templates
from odooplane.postgres.project_server import server_for
from odooplane.project import load_project


@db_group.group("cache")
def cache_group() -> None:
    """The template cache: databases of what changes rarely (Odoo's modules, your addons
    installed on them), cloned into every new development, fresh or demo database.

    Templates are keyed by what went into them and rebuilt when that changes; a copy of
    each is kept in the user cache so another server (another clone's embedded
    PostgreSQL) restores it instead of building it. See docs/templates.md.
    """


def _when(value: str | None) -> str:
    return (value or "?")[:16].replace("T", " ")


@cache_group.command("list")
@json_option
@click.pass_context
def list_cmd(ctx: click.Context, as_json: bool) -> None:
    """List the templates on the project's server and the exported ones."""
    server = server_for(load_project(project_dir(ctx)))
    listing = templates.cache_listing(server)

    def render() -> None:
        table = Table(title=f"Templates on {listing.server}")
        table.add_column("template", overflow="fold")
        table.add_column("layer")
        table.add_column("lineage", overflow="fold")
        table.add_column("size", justify="right")
        table.add_column("filestore", justify="right")
        table.add_column("built (s)", justify="right")
        table.add_column("last used")
        for t in listing.templates:
            table.add_row(
                t.database + ("" if t.complete else " [red](incomplete)[/red]"),
                t.layer,
                t.lineage,
                decimal(t.size) if t.size is not None else "?",
                f"{t.filestore_files} files" if t.filestore else "-",
                f"{t.build_seconds:.1f}" if t.build_seconds is not None else "?",
                _when(t.last_used_at),
            )
        console.print(table)
        exports = Table(title=f"Exported templates in {templates.exports_dir()}")
        exports.add_column("digest")
        exports.add_column("layer")
        exports.add_column("lineage", overflow="fold")
        exports.add_column("size", justify="right")
        exports.add_column("last used")
        for e in listing.exports:
            exports.add_row(e.digest, e.layer, e.lineage, decimal(e.bytes), _when(e.last_used_at))
        console.print(exports)

    emit(listing.to_dict(), as_json, render)


@cache_group.command("prune")
@click.option(
    "--keep",
    type=click.IntRange(min=0),
    default=templates.KEEP_PER_LINEAGE,
    show_default=True,
    help="Templates kept per lineage (the same layer of one project), most recently used.",
)
@click.option(
    "--unused-days",
    type=click.FloatRange(min=0),
    default=None,
    help="Also remove templates not used for this many days.",
)
@click.option("--all", "everything", is_flag=True, help="Remove every template.")
@json_option
@click.pass_context
def prune_cmd(
    ctx: click.Context, keep: int, unused_days: float | None, everything: bool, as_json: bool
) -> None:
    """Remove old templates from the server and the user cache.

    Incomplete templates and builds left by a crash always go. A template being cloned
    is waited for; one being built is left alone.
    """
    server = server_for(load_project(project_dir(ctx)))
    result = templates.prune_cache(
        server,
        keep=keep,
        unused_for=timedelta(days=unused_days) if unused_days is not None else None,
        everything=everything,
    )

    def render() -> None:
        for label, part in (("template", result.templates), ("export", result.exports)):
            for name in part.removed:
                console.print(f"removed {label} {name}")
            for name, why in part.skipped.items():
                console.print(f"[yellow]kept {label} {name}:[/yellow] {why}")
        freed = result.templates.freed_bytes + result.exports.freed_bytes
        kept = len(result.templates.kept) + len(result.exports.kept)
        console.print(f"Freed {decimal(freed)}; {kept} kept.")

    emit(result.to_dict(), as_json, render)
