"""`odooplane backup create|list|verify|restore|prune|schedule`."""

from __future__ import annotations

import click
from rich.table import Table

from odooplane.cli import cli
from odooplane.cli._common import console, emit, json_option, project_dir
from odooplane.cli.progress import ProgressLines
from odooplane.errors import CheckFailedError
from odooplane.project import load_project


def _progress(as_json: bool) -> ProgressLines | None:
    return None if as_json else ProgressLines()


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


@cli.group("backup")
def backup_group() -> None:
    """Backups of an environment, off the database server (Odoo's backup layout)."""


@backup_group.command("create")
@click.argument("environment")
@click.option(
    "--kind",
    type=click.Choice(["manual", "update", "scheduled"]),
    default="manual",
    show_default=True,
    help="Why the backup is taken (retention treats them alike).",
)
@json_option
@click.pass_context
def backup_create(ctx: click.Context, environment: str, kind: str, as_json: bool) -> None:
    """Back up ENVIRONMENT's database and filestore while it keeps serving."""
    from odooplane.promotion.backups import create_backup

    project = load_project(project_dir(ctx))
    info = create_backup(project, environment, kind=kind, progress=_progress(as_json))
    emit(
        info.to_dict(),
        as_json,
        lambda: console.print(
            f"[green]Backup[/green] {info.name}: {_size(info.bytes)} in {info.seconds:.1f} s "
            f"({info.path}, sha256 {info.sha256[:12]})",
            highlight=False,
        ),
    )


@backup_group.command("list")
@click.argument("environment")
@json_option
@click.pass_context
def backup_list(ctx: click.Context, environment: str, as_json: bool) -> None:
    """Backups of ENVIRONMENT, newest last."""
    from odooplane.promotion.backups import list_backups

    project = load_project(project_dir(ctx))
    backups = list_backups(project, environment)

    def render() -> None:
        table = Table(title=f"Backups of {environment}")
        for column in ("name", "kind", "taken", "size", "build", "modules"):
            table.add_column(column)
        for b in backups:
            table.add_row(
                b.name,
                b.kind,
                b.created_at[:19],
                _size(b.bytes),
                (b.git_sha or "-")[:12],
                str(b.modules),
            )
        console.print(table)

    emit([b.to_dict() for b in backups], as_json, render)


@backup_group.command("verify")
@click.argument("environment")
@click.argument("name", required=False)
@json_option
@click.pass_context
def backup_verify(ctx: click.Context, environment: str, name: str | None, as_json: bool) -> None:
    """Check NAME's checksum and restore it into a scratch database (default: newest)."""
    from odooplane.promotion.backups import verify_backup

    project = load_project(project_dir(ctx))
    result = verify_backup(project, environment, name, progress=_progress(as_json))

    def render() -> None:
        if result.ok:
            console.print(
                f"[green]Verified[/green] {result.backup}: restores and opens "
                f"({result.installed_modules} modules, {result.users} users, "
                f"{result.seconds:.1f} s).",
                highlight=False,
            )
        else:
            console.print(
                f"[bold red]NOT usable[/bold red] {result.backup}: {result.error}", highlight=False
            )

    emit(result.to_dict(), as_json, render)
    if not result.ok:
        raise CheckFailedError(f"Backup {result.backup} did not verify: {result.error}.")


@backup_group.command("restore")
@click.argument("environment")
@click.argument("name", required=False)
@click.option("--from", "source", metavar="ENV", help="Restore a backup of another environment.")
@click.option("--force", is_flag=True, help="Required to restore into production.")
@json_option
@click.pass_context
def backup_restore(
    ctx: click.Context,
    environment: str,
    name: str | None,
    source: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Restore backup NAME (default: newest) into ENVIRONMENT.

    A neutralized environment (staging) is neutralized and verified before it starts;
    production needs --force and gets a snapshot first.
    """
    from odooplane.promotion.backups import restore_backup

    project = load_project(project_dir(ctx))
    result = restore_backup(
        project,
        environment,
        name,
        source_environment=source,
        force=force,
        progress=_progress(as_json),
    )

    def render() -> None:
        extra = []
        if result.snapshot:
            extra.append(f"snapshot {result.snapshot} taken first")
        if result.neutralized:
            extra.append("neutralized and verified")
        if result.restarted:
            extra.append("started again")
        console.print(
            f"[green]Restored[/green] {result.backup} into {environment} ({result.database}) "
            f"in {result.seconds:.1f} s" + (f"; {', '.join(extra)}" if extra else "") + ".",
            highlight=False,
        )

    emit(result.to_dict(), as_json, render)


@backup_group.command("prune")
@click.argument("environment")
@click.option("--dry-run", is_flag=True, help="Say what would be removed, remove nothing.")
@json_option
@click.pass_context
def backup_prune(ctx: click.Context, environment: str, dry_run: bool, as_json: bool) -> None:
    """Apply the retention policy (default: 7 daily, 4 weekly, 3 monthly)."""
    from odooplane.promotion.backups import prune_backups

    project = load_project(project_dir(ctx))
    result = prune_backups(project, environment, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    emit(
        result.to_dict(),
        as_json,
        lambda: console.print(
            f"Kept {len(result.kept)} backup(s); {verb} {len(result.removed)}"
            + (f": {', '.join(result.removed)}" if result.removed else "")
            + (
                f"; unfinished: {', '.join(result.unfinished_removed)}"
                if result.unfinished_removed
                else ""
            )
            + ".",
            highlight=False,
        ),
    )


@backup_group.command("schedule")
@click.argument("environment")
@click.option("--at", default="02:30", show_default=True, help="Time of day (HH:MM).")
@click.option("--remove", is_flag=True, help="Take the schedule away.")
@json_option
@click.pass_context
def backup_schedule(
    ctx: click.Context, environment: str, at: str, remove: bool, as_json: bool
) -> None:
    """Run `backup create` and `backup prune` every day, with a systemd timer or cron."""
    from odooplane.promotion.schedule import schedule_backups

    project = load_project(project_dir(ctx))
    result = schedule_backups(project, environment, at=at, remove=remove)
    emit(
        result.to_dict(),
        as_json,
        lambda: console.print(
            (
                f"Scheduled daily backups of {environment} at {result.at} with {result.mechanism} "
                f"({result.location})."
                if result.installed
                else f"Removed the {result.mechanism} schedule of {environment}'s backups."
            ),
            highlight=False,
        ),
    )
