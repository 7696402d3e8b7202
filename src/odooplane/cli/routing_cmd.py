"""`odooplane routing`: the project's Caddy and the routes it serves."""

from __future__ import annotations

import click
from rich.table import Table

from odooplane.cli import cli
from odooplane.cli._common import console, emit, json_option, project_dir
from odooplane.project import load_project
from odooplane.routing import Route, RouterStatus, router_for


def _render_status(status: RouterStatus) -> None:
    table = Table(show_header=False, box=None)
    state = "[green]running[/green]" if status.running else "[yellow]not running[/yellow]"
    table.add_row("Caddy", f"{state}  {status.caddy or '-'} {status.version or ''}")
    table.add_row("admin API", status.admin_socket)
    table.add_row("hostnames on", status.front or "[dim]none (no route has a hostname)[/dim]")
    table.add_row("routes", str(status.routes))
    table.add_row("wake handler", "running" if status.waker_running else "not running")
    console.print(table)
    for note in status.notes:
        console.print(f"[yellow]note:[/yellow] {note}")


def _render_routes(routes: list[Route]) -> None:
    table = Table(title="Routes")
    for column in ("environment", "mode", "URLs", "upstream"):
        table.add_column(column)
    for route in routes:
        up = route.upstream
        upstream = "-"
        if up is not None:
            upstream = up.http_dial + (f" (gevent {up.gevent_port})" if up.gevent_port else "")
        table.add_row(route.env, route.mode.value, "\n".join(route.urls), upstream)
    console.print(table)


@cli.group("routing")
def routing_group() -> None:
    """The front door: Caddy routes every environment's port and hostnames to its Odoo."""


@routing_group.command("status")
@json_option
@click.pass_context
def status_command(ctx: click.Context, as_json: bool) -> None:
    """Whether the project's Caddy runs, where it listens, how many routes it serves."""
    status = router_for(load_project(project_dir(ctx))).status()
    emit(status.to_dict(), as_json, lambda: _render_status(status))


@routing_group.command("list")
@json_option
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> None:
    """Every route: environment, mode (serve, maintenance, waking), URLs, upstream."""
    routes = router_for(load_project(project_dir(ctx))).routes()
    emit([r.to_dict() for r in routes], as_json, lambda: _render_routes(routes))


@routing_group.command("start")
@json_option
@click.pass_context
def start_command(ctx: click.Context, as_json: bool) -> None:
    """Start Caddy (idempotent) and load every recorded route, e.g. after a reboot."""
    status = router_for(load_project(project_dir(ctx))).ensure()
    emit(status.to_dict(), as_json, lambda: _render_status(status))


@routing_group.command("stop")
@json_option
@click.pass_context
def stop_command(ctx: click.Context, as_json: bool) -> None:
    """Stop Caddy and the wake handler; the routes are kept for the next start."""
    router = router_for(load_project(project_dir(ctx)))
    router.stop()
    status = router.status()
    emit(status.to_dict(), as_json, lambda: _render_status(status))
