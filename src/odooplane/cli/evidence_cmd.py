"""`odooplane evidence` commands, and the top-level `history`, `logs` and `postmortem`."""

from __future__ import annotations

from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table
from rich.text import Text

from odooplane.cli import cli
from odooplane.cli._common import (
    POSITIVE_COUNT,
    console,
    console_err,
    emit,
    json_option,
    project_dir,
)
from odooplane.evidence.records import RUNNING, DeploymentSummary, short_image_id
from odooplane.fsutil import writable_folder, writable_output, write_atomic
from odooplane.paths import find_project_root
from odooplane.project import load_project
from odooplane.results import jsonable

if TYPE_CHECKING:
    from odooplane.evidence.store import EvidenceStore

_OUTCOME_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "rolled_back": "yellow",
    "cancelled": "yellow",
    "interrupted": "red",
    RUNNING: "cyan",
}


def _open_store(ctx: click.Context, *, sync: bool = True) -> EvidenceStore:
    # Imported here: SQLAlchemy is only loaded by the commands that need the store.
    from odooplane.evidence.store import EvidenceStore

    return EvidenceStore.open(load_project(project_dir(ctx)), sync=sync)


def _local(moment: object, offset: tzinfo) -> str:
    from datetime import datetime

    if not isinstance(moment, datetime):
        return "—"
    return moment.astimezone(offset).strftime("%Y-%m-%d %H:%M:%S %z")


def _duration(ms: int | None) -> str:
    if ms is None:
        return "—"
    seconds = ms / 1000
    return f"{seconds:.1f}s" if seconds < 120 else f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


@cli.group("evidence")
def evidence_group() -> None:
    """The evidence store: builds, deployments, migrations, gate runs.

    Records live in SQLite under .odooplane/ by default, or in PostgreSQL (Supabase
    included) when evidence.url in odooplane.yaml is a postgresql:// URL. They are
    append-only; only `odooplane evidence prune` removes old ones, after archiving them.
    """


@evidence_group.command("status")
@json_option
@click.pass_context
def status_cmd(ctx: click.Context, as_json: bool) -> None:
    """Show where evidence is stored, its schema revision and what waits in the spool."""
    with _open_store(ctx) as store:
        state = store.status()

    def render() -> None:
        color = "green" if state.reachable else "red"
        console.print(f"backend      {state.backend}")
        console.print(f"location     {state.location}")
        console.print(f"reachable    [{color}]{'yes' if state.reachable else 'no'}[/{color}]")
        if state.error:
            console.print(f"error        {state.error}")
        console.print(f"revision     {state.revision or 'empty'} (head {state.head})")
        console.print(f"spooled rows {state.spooled_rows}")
        console.print(f"artifacts    {state.artifacts_root}")

    emit(state.to_dict(), as_json, render)


@evidence_group.command("migrate")
@json_option
@click.pass_context
def migrate_cmd(ctx: click.Context, as_json: bool) -> None:
    """Bring the evidence schema to the latest revision (also done on first use)."""
    with _open_store(ctx) as store:
        before, after = store.migrate()
        data = {"location": store.location.display, "before": before, "after": after}

    def render() -> None:
        if before == after:
            console.print(f"The evidence schema is current (revision {after}).")
        else:
            console.print(f"Migrated the evidence schema from {before or 'empty'} to {after}.")

    emit(data, as_json, render)


@evidence_group.command("verify")
@json_option
@click.pass_context
def verify_cmd(ctx: click.Context, as_json: bool) -> None:
    """Check every evidence record against the hash chain.

    Each record is chained by hash when it is stored; an edit made outside odooplane (a
    changed commit or approver, a record deleted or replaced, a chain entry altered)
    is reported with the table, the record, the chain entry and the fields that
    changed. Exit code 0 when everything verifies, 1 otherwise. The head printed at the
    end can be kept elsewhere: a store rewritten whole no longer ends at it.
    """
    from odooplane.errors import CheckFailedError

    with _open_store(ctx) as store, console_err.status("Verifying the evidence chain…"):
        result = store.verify()
        location = store.location.display

    def render() -> None:
        for item in result.breaks:
            console.print(Text("BROKEN ", style="bold red") + Text(item.describe()), soft_wrap=True)
        console.print(
            f"{result.records} record(s), {result.entries} chain entries "
            f"({result.archived} archived by retention) in {location}; head {result.head}.",
            soft_wrap=True,
        )

    emit(result.to_dict(), as_json, render)
    if not result.ok:
        raise CheckFailedError(
            f"The evidence in {location} does not match its hash chain: "
            f"{len(result.breaks)} break(s), listed above.",
            hint="Records were edited outside odooplane; restore the store from a backup or "
            "keep this report with it.",
        )


@evidence_group.command("sync")
@json_option
@click.pass_context
def sync_cmd(ctx: click.Context, as_json: bool) -> None:
    """Deliver records spooled while the PostgreSQL store was unreachable.

    Safe to repeat: each record has its own id and is stored once, however many times
    it is delivered. Exits 1 when the store is still unreachable.
    """
    from odooplane.errors import ExternalToolError

    with _open_store(ctx, sync=False) as store, console_err.status("Delivering spooled records…"):
        result = store.sync()
        location = store.location.display
    if not result.reachable:
        raise ExternalToolError(
            f"The evidence store {location} cannot be reached: {result.error}",
            hint=f"{result.pending} record(s) stay spooled; run `odooplane evidence sync` "
            "again once it is back.",
        )

    def render() -> None:
        if result.delivered:
            console.print(f"Delivered {result.delivered} spooled record(s) to {location}.")
        else:
            console.print("Nothing to deliver: the spool is empty.")

    emit(result.to_dict(), as_json, render)


@evidence_group.command("export-sql")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to write supabase/migrations/ into (default: the project folder).",
)
@json_option
@click.pass_context
def export_sql_cmd(ctx: click.Context, out_dir: Path | None, as_json: bool) -> None:
    """Write the evidence schema as Supabase migrations (plain PostgreSQL SQL).

    One file per schema revision, supabase/migrations/<timestamp>_<name>.sql, with row
    level security on every table and no policy for anonymous access. Apply them with
    `supabase db push`; odooplane then finds the schema current.
    """
    from odooplane.evidence.supabase import export_sql

    if out_dir is None:
        out_dir = find_project_root(project_dir(ctx)) or project_dir(ctx)
    writable_folder(out_dir, "The Supabase migrations")
    with console_err.status("Generating SQL from the schema revisions…"):
        results = export_sql(out_dir)

    def render() -> None:
        for item in results:
            console.print(f"{item.status:9} {item.path}", soft_wrap=True)

    emit([item.to_dict() for item in results], as_json, render)


@evidence_group.command("prune")
@click.option("--dry-run", is_flag=True, help="Show what would be archived, removed, compressed.")
@json_option
@click.pass_context
def prune_cmd(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
    """Apply retention: 30 days of records, 90 days of artifacts, compress old logs.

    Records leave the store only after being written to a compressed archive under
    .odooplane/evidence/archive/. Idempotent and safe from cron (a second concurrent
    run stops with exit 1 and touches nothing).
    """
    from odooplane.evidence.retention import prune

    with _open_store(ctx) as store, console_err.status("Applying retention…"):
        report = prune(store, dry_run=dry_run)

    def render() -> None:
        verb = "Would remove" if dry_run else "Removed"
        table = Table(title=f"Records older than {report.record_cutoff:%Y-%m-%d %H:%M} UTC")
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name, count in report.records.items():
            table.add_row(name, str(count))
        console.print(table)
        if report.archive:
            console.print(f"Archived to {report.archive} (sha256 {report.archive_sha256}).")
        console.print(
            f"{verb} {len(report.artifact_dirs_removed)} artifact folder(s) older than "
            f"{report.artifact_cutoff:%Y-%m-%d} UTC."
        )
        for folder in report.artifact_dirs_removed:
            console.print(f"  {folder}")
        compressed = "Would compress" if dry_run else "Compressed"
        console.print(f"{compressed} {len(report.logs_compressed)} log file(s).")

    emit(report.to_dict(), as_json, render)


# -- top-level retrieval commands -----------------------------------------------------------


@cli.command("history")
@click.argument("environment", required=False)
@click.option("--limit", default=20, show_default=True, type=POSITIVE_COUNT)
@json_option
@click.pass_context
def history_cmd(ctx: click.Context, environment: str | None, limit: int, as_json: bool) -> None:
    """List the latest deployments, newest first (of ENVIRONMENT, or all)."""
    with _open_store(ctx) as store:
        rows = store.history(environment, limit=limit)
        offset = store.layout.offset

    def render() -> None:
        if not rows:
            where = f" of {environment}" if environment else ""
            console.print(f"No deployment{where} recorded yet.")
            return
        table = Table(title="Deployments" + (f" of {environment}" if environment else ""))
        table.add_column("id", no_wrap=True)
        table.add_column("environment")
        table.add_column("kind")
        table.add_column("commit", no_wrap=True)
        table.add_column("started")
        table.add_column("duration", justify="right")
        table.add_column("outcome", no_wrap=True)
        table.add_column("approved by")
        # The image column only where builds ran in containers.
        images = any(row.image_id for row in rows)
        if images:
            table.add_column("image", no_wrap=True)
        for row in rows:
            style = _OUTCOME_STYLE.get(row.outcome, "")
            cells = [
                row.short_id,
                row.environment,
                row.kind,
                row.git_sha[:10],
                _local(row.started_at, offset),
                _duration(row.duration_ms),
                f"[{style}]{row.outcome}[/{style}]" if style else row.outcome,
                row.approved_by or "",
            ]
            if images:
                cells.append(short_image_id(row.image_id) if row.image_id else "")
            table.add_row(*cells)
        console.print(table)

    emit([row.to_dict() for row in rows], as_json, render)


@cli.command("logs")
@click.argument("target")
@click.option("--step", default=None, help="Only this step (its name as shown by the logs).")
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the deployment ends.")
@json_option
@click.pass_context
def logs_cmd(
    ctx: click.Context, target: str, step: str | None, follow: bool, as_json: bool
) -> None:
    """Show the logs of a deployment: TARGET is its id (or a prefix of 6+ characters) or
    an environment name (its latest deployment)."""
    with _open_store(ctx) as store:
        if follow:
            for chunk in store.follow(target, step=step):
                click.echo(chunk, nl=False)
            return
        detail, logs = store.logs(target, step=step)

    def render() -> None:
        summary: DeploymentSummary = detail.summary
        console_err.print(
            f"deployment {summary.id} to {summary.environment} at {summary.git_sha[:10]}: "
            f"{summary.outcome}",
            highlight=False,
        )
        for log in logs:
            console_err.print(
                f"==> {log.step.name} ({log.step.status}, {_duration(log.step.duration_ms)}) "
                f"{log.path or ''} <==",
                highlight=False,
                markup=False,
            )
            if log.text is None:
                console_err.print("(log not available: pruned or on another machine)")
                continue
            if log.verified is False:
                console_err.print("[red]warning: this log does not match its recorded sha256[/red]")
            click.echo(log.text, nl=not log.text.endswith("\n"))

    emit(
        {"deployment": detail.summary.to_dict(), "steps": [jsonable(log) for log in logs]},
        as_json,
        render,
    )


@cli.command("postmortem")
@click.argument("target")
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the Markdown to this file (default: print it).",
)
@click.pass_context
def postmortem_cmd(ctx: click.Context, target: str, out_file: Path | None) -> None:
    """Write a Markdown postmortem of a deployment from its evidence.

    TARGET is a deployment id (or prefix) or an environment (its latest deployment).
    The document holds a Mermaid timeline, the commits since the previous deployment,
    modules upgraded, gate results, health checks, the log around the first error, the
    rollback taken and open questions.
    """
    from odooplane.evidence.postmortem import postmortem

    if out_file is not None:
        writable_output(out_file, "The postmortem")
    with _open_store(ctx) as store:
        text = postmortem(store, target)
    if out_file is None:
        click.echo(text)
        return
    write_atomic(out_file, text)
    console_err.print(f"Postmortem written to {out_file}")
