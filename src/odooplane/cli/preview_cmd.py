"""`odooplane preview`: one environment per pull request."""

from __future__ import annotations

import click

from odooplane.cli import cli
from odooplane.cli._common import console, emit, json_option, project_dir
from odooplane.cli.progress import ProgressLines
from odooplane.errors import UsageError
from odooplane.previews import api
from odooplane.project import load_project


def _progress(as_json: bool) -> ProgressLines | None:
    return None if as_json else ProgressLines()


def _render(info: api.PreviewInfo) -> None:
    from rich.table import Table

    table = Table(show_header=False, box=None)
    table.add_row("preview", f"[bold]{info.environment}[/bold] ({info.action or info.status})")
    table.add_row("URL", info.url)
    if info.login:
        table.add_row("login", info.login)
    if info.password:
        table.add_row("password", info.password)
    table.add_row(
        "pull request", f"#{info.pr} {info.branch}" + (f" ({info.title})" if info.title else "")
    )
    table.add_row("build", (info.build or "-")[:12])
    table.add_row("data", info.data)
    if info.seconds is not None:
        table.add_row("took", f"{info.seconds:.1f} s")
    console.print(table)


def _render_list(infos: list[api.PreviewInfo]) -> None:
    from rich.table import Table

    table = Table(title="Previews")
    for column in ("preview", "PR", "status", "age", "last request", "pinned", "URL"):
        table.add_column(column)
    for i in infos:
        table.add_row(
            i.environment,
            f"#{i.pr}" + (" [dim](closed)[/dim]" if i.closed_at else ""),
            i.status,
            f"{i.age_hours:.1f} h",
            i.last_request or "-",
            "yes" if i.pinned else "",
            i.url,
        )
    console.print(table)


def _numbers(values: tuple[str, ...]) -> list[int]:
    found: list[int] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit() or int(part) < 1:
                raise UsageError(f"'{part}' is not a pull-request number.")
            found.append(int(part))
    return found


@cli.group("preview")
def preview_group() -> None:
    """Preview environments: one per pull request, with its own URL, stopped when idle."""


@preview_group.command("up")
@click.option("--pr", type=click.IntRange(min=1), required=True, help="Pull-request number.")
@click.option("--branch", required=True, help="The pull request's branch (names the preview).")
@click.option("--title", default=None, help="The pull request's title (shown in lists).")
@click.option("--ref", default=None, help="Commit or ref to deploy (default: the branch).")
@click.option("--rebuild", is_flag=True, help="Start over from the base instead of updating.")
@json_option
@click.pass_context
def up_command(
    ctx: click.Context,
    pr: int,
    branch: str,
    title: str | None,
    ref: str | None,
    rebuild: bool,
    as_json: bool,
) -> None:
    """Create the preview of a pull request, or update it in place to its new commit;
    prints its URL, login and password."""
    project = load_project(project_dir(ctx))
    info = api.up(
        project,
        pr=pr,
        branch=branch,
        title=title,
        ref=ref,
        rebuild=rebuild,
        progress=_progress(as_json),
    )
    emit(info.to_dict(), as_json, lambda: _render(info))


@preview_group.command("down")
@click.option("--pr", type=click.IntRange(min=1), required=True, help="Pull-request number.")
@click.option("--reason", default="preview down", help="Recorded in the evidence.")
@json_option
@click.pass_context
def down_command(ctx: click.Context, pr: int, reason: str, as_json: bool) -> None:
    """Stop a preview and drop its database, filestore and route (recorded)."""
    result = api.down(load_project(project_dir(ctx)), pr=pr, reason=reason)
    emit(
        result,
        as_json,
        lambda: console.print(f"{result['environment']} removed: {', '.join(result['removed'])}"),
    )


@preview_group.command("list")
@json_option
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> None:
    """Every preview: status, age, URL, last request, pinned."""
    infos = api.list_previews(load_project(project_dir(ctx)))
    emit([i.to_dict() for i in infos], as_json, lambda: _render_list(infos))


@preview_group.command("show")
@click.option("--pr", type=click.IntRange(min=1), required=True, help="Pull-request number.")
@json_option
@click.pass_context
def show_command(ctx: click.Context, pr: int, as_json: bool) -> None:
    """One preview with its URL, login and password."""
    info = api.show(load_project(project_dir(ctx)), pr=pr)
    emit(info.to_dict(), as_json, lambda: _render(info))


@preview_group.command("pin")
@click.option("--pr", type=click.IntRange(min=1), required=True, help="Pull-request number.")
@json_option
@click.pass_context
def pin_command(ctx: click.Context, pr: int, as_json: bool) -> None:
    """Keep a preview past ttl_hours and max_deployed (closing its PR still removes it)."""
    info = api.pin(load_project(project_dir(ctx)), pr=pr, pinned=True)
    emit(info.to_dict(), as_json, lambda: console.print(f"{info.environment} pinned"))


@preview_group.command("unpin")
@click.option("--pr", type=click.IntRange(min=1), required=True, help="Pull-request number.")
@json_option
@click.pass_context
def unpin_command(ctx: click.Context, pr: int, as_json: bool) -> None:
    """Let gc remove a preview again for its age or to make room."""
    info = api.pin(load_project(project_dir(ctx)), pr=pr, pinned=False)
    emit(info.to_dict(), as_json, lambda: console.print(f"{info.environment} unpinned"))


@preview_group.command("close")
@click.option(
    "--pr", "prs", multiple=True, required=True, help="Closed pull request(s): 12 or 12,13."
)
@json_option
@click.pass_context
def close_command(ctx: click.Context, prs: tuple[str, ...], as_json: bool) -> None:
    """Record that pull requests closed: gc removes their previews after
    previews.closed_grace_minutes (60 by default)."""
    result = api.close(load_project(project_dir(ctx)), prs=_numbers(prs))

    def render() -> None:
        for r in result:
            what = (
                f"{r['environment']} closed at {r['closed_at']}"
                if r["environment"]
                else "no preview"
            )
            console.print(f"#{r['pr']}: {what}")

    emit(result, as_json, render)


@preview_group.command("gc")
@click.option("--closed", "closed", multiple=True, help="Pull requests that closed: 12,13.")
@json_option
@click.pass_context
def gc_command(ctx: click.Context, closed: tuple[str, ...], as_json: bool) -> None:
    """Remove closed, expired and orphaned previews, stop idle ones (idempotent: run it
    every few minutes)."""
    report = api.gc(
        load_project(project_dir(ctx)), closed=_numbers(closed), progress=_progress(as_json)
    )

    def render() -> None:
        for a in report.actions:
            console.print(f"{a.environment}: {a.action} ({a.reason})")
        if not report.actions:
            console.print("nothing to do")

    emit(report.to_dict(), as_json, render)


@preview_group.command("wake")
@click.argument("name")
@json_option
@click.pass_context
def wake_command(ctx: click.Context, name: str, as_json: bool) -> None:
    """Start a stopped preview and route to it (the wake handler runs this)."""
    info = api.wake(load_project(project_dir(ctx)), name, progress=_progress(as_json))
    emit(info.to_dict(), as_json, lambda: _render(info))


@preview_group.command("refresh-base")
@json_option
@click.pass_context
def refresh_base_command(ctx: click.Context, as_json: bool) -> None:
    """Make the base previews are cloned from again: a copy of staging, neutralized and
    verified once (existing previews keep their data)."""
    info = api.ensure_base(
        load_project(project_dir(ctx)), refresh=True, progress=_progress(as_json)
    )
    emit(
        info,
        as_json,
        lambda: console.print(
            f"preview base made from {info['source']} ({info['source_build'][:12]})"
        ),
    )
