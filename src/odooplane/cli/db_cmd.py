"""`odooplane db` commands: the embedded server and database operations."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from rich.filesize import decimal
from rich.table import Table

from odooplane.cli import cli
from odooplane.cli._common import console, console_err, emit, json_option, project_dir
from odooplane.cli.progress import ProgressBar
from odooplane.environments.locks import databases_lock
from odooplane.errors import UsageError
from odooplane.policy import production_databases
from odooplane.postgres import databases as dbops
from odooplane.postgres.cluster import ClusterStatus, EmbeddedCluster

if TYPE_CHECKING:
    from odooplane.containers.database import ContainerCluster
from odooplane.postgres.project_server import server_for
from odooplane.postgres.server import DatabaseServer
from odooplane.postgres.templates import TEMPLATE_PREFIX
from odooplane.project import Project, load_project

STRATEGY_CHOICE = click.Choice(["auto", "wal_log", "file_copy"])
terminate_option = click.option(
    "--terminate",
    is_flag=True,
    help="End other sessions on the database(s) involved instead of refusing.",
)


# -- shared helpers ------------------------------------------------------------------------


def _exit(code: int) -> NoReturn:
    # SystemExit, not click's Exit: main() runs click with standalone_mode=False, where
    # click turns Exit into a return value and the code would be lost.
    sys.exit(code)


def _project(ctx: click.Context) -> Project:
    return load_project(project_dir(ctx))


def _filestores(project: Project) -> Path:
    return project.odoo_data_dir / "filestore"


def _size(value: int | None) -> str:
    return "?" if value is None else decimal(value)


def _notes(notes: Any) -> None:
    for note in notes or ():
        console_err.print(f"[cyan]note:[/cyan] {note}", highlight=False)


@contextlib.contextmanager
def _progress(enabled: bool, title: str) -> Iterator[ProgressBar | None]:
    """A bar on stderr fed by the library's progress events (nothing when disabled)."""
    if not enabled:
        yield None
        return
    with ProgressBar(title, unit="bytes") as bar:
        yield bar


@contextlib.contextmanager
def _spinner(enabled: bool, text: str) -> Iterator[None]:
    if not enabled:
        yield
        return
    with console_err.status(text):
        yield


# -- server ------------------------------------------------------------------------------


@cli.group("db")
def db_group() -> None:
    """Databases: the embedded PostgreSQL server, clones, snapshots, import and export.

    Every command works on the project's database server: the embedded cluster under
    .odooplane/pg (the default) or the PostgreSQL URL of database.server. Odoo's filestore
    (.odooplane/odoo-data/filestore/<database>) travels with every copy.
    """


@db_group.group("server")
def server_group() -> None:
    """Start, stop and inspect the project's PostgreSQL server (embedded, or its
    container with database.server: container)."""


def _cluster(project: Project) -> EmbeddedCluster | ContainerCluster:
    database = project.config.database
    if database.kind == "url":
        raise UsageError(
            "database.server in odooplane.yaml points at an external server; odooplane "
            "only starts and stops its embedded one or its container.",
            hint="Use `odooplane db server status` to check that the external server answers.",
        )
    if database.kind == "container":
        from odooplane.containers.database import ContainerCluster

        return ContainerCluster(project)
    bin_dir = Path(database.postgres_bin) if database.postgres_bin else None
    return EmbeddedCluster(project.state_dir, bin_dir=bin_dir)


def _render_status(status: ClusterStatus) -> None:
    colour = {"running": "green", "stopped": "yellow", "crashed": "red"}.get(status.state, "dim")
    table = Table(show_header=False, box=None)
    table.add_row("state", f"[{colour}]{status.state}[/{colour}]")
    if status.version:
        table.add_row("PostgreSQL", f"{status.version} ({status.bin_dir})")
    if status.port:
        table.add_row("listens on", f"{status.host}:{status.port}")
    if status.socket_dir:
        table.add_row("unix socket", str(status.socket_dir))
    if status.pid:
        table.add_row("pid", str(status.pid))
    if status.data_dir:
        table.add_row("data", str(status.data_dir))
    if status.os_user:
        table.add_row("runs as", f"OS user {status.os_user}, superuser {status.superuser}")
    if status.log_file:
        table.add_row("log", str(status.log_file))
    console.print(table)
    _notes(status.notes)


@server_group.command("start")
@json_option
@click.pass_context
def server_start(ctx: click.Context, as_json: bool) -> None:
    """Create (first time) and start the embedded server; it keeps running afterwards.

    Running it again while the server runs changes nothing. After a crash it recovers the
    cluster. When run as root the server runs as the unprivileged 'odooplane' user. With
    database.server: container, the project's PostgreSQL container is made and started.
    """
    cluster = _cluster(_project(ctx))
    with _spinner(not as_json, "Starting PostgreSQL…"):
        status = cluster.start()
    emit(status.to_dict(), as_json, lambda: _render_status(status))


@server_group.command("stop")
@json_option
@click.pass_context
def server_stop(ctx: click.Context, as_json: bool) -> None:
    """Stop the embedded server or container (sessions are ended, nothing is lost)."""
    cluster = _cluster(_project(ctx))
    status = cluster.stop()
    emit(status.to_dict(), as_json, lambda: _render_status(status))


@server_group.command("status")
@json_option
@click.pass_context
def server_status(ctx: click.Context, as_json: bool) -> None:
    """Show whether the server runs; exit code 0 when it runs and accepts logins, 1 if not.

    For an external server (database.server is a URL) this checks that it answers.
    """
    project = _project(ctx)
    if project.config.database.kind == "url":
        server = server_for(project, start=False)
        data: dict[str, Any] = {"kind": "external", "server": server.url(), "reachable": False}
        try:
            data["version"] = server.server_version()
            data["reachable"] = True
        except Exception as exc:  # any failure to answer is what status reports
            data["error"] = str(exc).splitlines()[0]

        def render_external() -> None:
            mark = "[green]reachable[/green]" if data["reachable"] else "[red]unreachable[/red]"
            console.print(f"external server {data['server']}: {mark}", highlight=False)
            if "error" in data:
                console_err.print(data["error"], highlight=False)

        emit(data, as_json, render_external)
        if not data["reachable"]:
            _exit(1)
        return
    status = _cluster(project).status()
    kind = project.config.database.kind
    emit({"kind": kind, **status.to_dict()}, as_json, lambda: _render_status(status))
    if not (status.running and status.accepting):
        _exit(1)


@server_group.command("destroy")
@click.option("--force", is_flag=True, help="Required: every database of the cluster is lost.")
@click.pass_context
def server_destroy(ctx: click.Context, force: bool) -> None:
    """Stop the embedded server (or the PostgreSQL container) and delete it with every
    database in it."""
    project = _project(ctx)
    cluster = _cluster(project)
    what = (
        "PostgreSQL container and its data volume"
        if project.config.database.kind == "container"
        else "embedded cluster"
    )
    if not force:
        raise UsageError(
            f"This deletes every database of the {what}.",
            hint="Take exports first if needed, then run again with --force.",
        )
    cluster.destroy()
    console.print(f"Deleted the {what}.")


# -- listing -----------------------------------------------------------------------------


@db_group.command("list")
@click.option("--snapshots/--no-snapshots", default=True, help="Include snapshot databases.")
@json_option
@click.pass_context
def list_cmd(ctx: click.Context, snapshots: bool, as_json: bool) -> None:
    """List databases with their size, filestore size and role (production, snapshot)."""
    project = _project(ctx)
    server = server_for(project)
    production = production_databases(project).owners
    envs = {project.config.database_name(name): name for name in project.config.environments}
    found = [
        d
        for d in dbops.list_databases(server, filestore_root=_filestores(project))
        if snapshots or not d.is_snapshot
    ]
    data = [
        {**d.to_dict(), "environment": envs.get(d.name), "production": d.name in production}
        for d in found
    ]

    def render() -> None:
        table = Table(title=f"Databases on {server.describe()}")
        # Names are folded, never cut with an ellipsis: people copy them into commands.
        table.add_column("database", overflow="fold")
        table.add_column("size", justify="right")
        table.add_column("filestore", justify="right")
        table.add_column("environment")
        table.add_column("note")
        for d in found:
            note = ""
            if d.snapshot is not None:
                taken = (d.snapshot.created_at or "?")[:16].replace("T", " ")
                note = f"snapshot of {d.snapshot.database} ({taken})"
            elif d.name in production:
                note = "[bold red]production[/bold red]"
            elif d.name.startswith(TEMPLATE_PREFIX):
                note = "template (`db cache list`)"
            filestore = f"{d.filestore_files} files, {decimal(d.filestore_bytes)}"
            table.add_row(
                d.name,
                _size(d.size),
                filestore if d.filestore_files else "-",
                envs.get(d.name) or "",
                note,
            )
        console.print(table)

    emit(data, as_json, render)


@db_group.command("create")
@click.argument("name")
@json_option
@click.pass_context
def create_cmd(ctx: click.Context, name: str, as_json: bool) -> None:
    """Create an empty UTF-8 database (as Odoo does: template0, C collation)."""
    server = server_for(_project(ctx))
    dbops.create_database(server, name)
    emit({"database": name, "created": True}, as_json, lambda: console.print(f"Created {name}."))


# -- copies ------------------------------------------------------------------------------


@db_group.command("clone")
@click.argument("source")
@click.argument("target")
@terminate_option
@click.option(
    "--strategy",
    type=STRATEGY_CHOICE,
    default="auto",
    show_default=True,
    help="CREATE DATABASE strategy (PostgreSQL 15+); auto picks by size.",
)
@click.option("--force", is_flag=True, help="Allow a production database's name as TARGET.")
@json_option
@click.pass_context
def clone_cmd(
    ctx: click.Context,
    source: str,
    target: str,
    terminate: bool,
    strategy: str,
    force: bool,
    as_json: bool,
) -> None:
    """Copy SOURCE to the new database TARGET, filestore included (hard links).

    Uses CREATE DATABASE ... TEMPLATE, which needs SOURCE idle: active sessions are an
    error naming them, unless --terminate.
    """
    project = _project(ctx)
    server = server_for(project)
    with (
        databases_lock(project, [source, target]),
        _progress(not as_json, f"Cloning {source}") as progress,
    ):
        result = dbops.clone_database(
            server,
            source,
            target,
            filestore_root=_filestores(project),
            terminate=terminate,
            strategy=strategy,
            progress=progress,
            force=force,
        )

    def render() -> None:
        console.print(
            f"Cloned {source} ({_size(result.size)}) to {target} in {result.seconds:.1f} s "
            f"(strategy {result.strategy}; filestore: {result.filestore.method}, "
            f"{result.filestore.files} files)."
        )
        for session in result.terminated:
            console_err.print(f"terminated {session.describe()}", highlight=False)

    emit(result.to_dict(), as_json, render)


@db_group.command("snapshot")
@click.argument("database")
@click.option("--name", "name", default=None, help="Snapshot name (default: UTC timestamp).")
@terminate_option
@json_option
@click.pass_context
def snapshot_cmd(
    ctx: click.Context, database: str, name: str | None, terminate: bool, as_json: bool
) -> None:
    """Take a point-in-time copy of DATABASE and its filestore."""
    project = _project(ctx)
    server = server_for(project)
    with (
        databases_lock(project, [database]),
        _progress(not as_json, f"Snapshotting {database}") as progress,
    ):
        snap = dbops.snapshot_database(
            server,
            database,
            name=name,
            filestore_root=_filestores(project),
            terminate=terminate,
            progress=progress,
        )
    emit(
        snap.to_dict(),
        as_json,
        lambda: console.print(
            f"Snapshot '{snap.name}' of {database} taken ({_size(snap.size)}, "
            f"database {snap.snapshot_db})."
        ),
    )


@db_group.command("snapshots")
@click.argument("database")
@json_option
@click.pass_context
def snapshots_cmd(ctx: click.Context, database: str, as_json: bool) -> None:
    """List the snapshots of DATABASE, oldest first."""
    server = server_for(_project(ctx))
    snaps = dbops.list_snapshots(server, database)

    def render() -> None:
        if not snaps:
            console.print(f"No snapshots of {database}.")
            return
        table = Table(title=f"Snapshots of {database}")
        for column in ("name", "taken (UTC)", "size", "filestore", "database"):
            table.add_column(column, overflow="fold")
        for s in snaps:
            fs = s.filestore or {}
            table.add_row(
                s.name,
                (s.created_at or "?")[:16].replace("T", " "),
                _size(s.size),
                f"{fs.get('files', 0)} files ({fs.get('method', '-')})",
                s.snapshot_db,
            )
        console.print(table)

    emit([s.to_dict() for s in snaps], as_json, render)


@db_group.command("restore")
@click.argument("database")
@click.argument("snapshot")
@terminate_option
@click.option("--force", is_flag=True, help="Allow replacing a production database.")
@json_option
@click.pass_context
def restore_cmd(
    ctx: click.Context, database: str, snapshot: str, terminate: bool, force: bool, as_json: bool
) -> None:
    """Make DATABASE (and its filestore) what SNAPSHOT holds; the snapshot is kept.

    The snapshot is copied first and swapped in at the end, so DATABASE is never missing
    or half restored. Restoring over a production database needs --force.
    """
    project = _project(ctx)
    server = server_for(project)
    with (
        databases_lock(project, [database, snapshot]),
        _progress(not as_json, f"Restoring {database}") as progress,
    ):
        result = dbops.restore_snapshot(
            server,
            database,
            snapshot,
            filestore_root=_filestores(project),
            terminate=terminate,
            progress=progress,
            force=force,
        )
    emit(
        result.to_dict(),
        as_json,
        lambda: console.print(
            f"Restored {database} from {result.snapshot_db} in {result.seconds:.1f} s."
        ),
    )


@db_group.command("swap")
@click.argument("first")
@click.argument("second")
@terminate_option
@click.option("--force", is_flag=True, help="Allow swapping a production database.")
@json_option
@click.pass_context
def swap_cmd(
    ctx: click.Context, first: str, second: str, terminate: bool, force: bool, as_json: bool
) -> None:
    """Exchange the names of two databases and their filestores, in one transaction.

    Swapping a production database needs --force."""
    project = _project(ctx)
    server = server_for(project)
    with databases_lock(project, [first, second]):
        ended = dbops.swap_databases(
            server,
            first,
            second,
            filestore_root=_filestores(project),
            terminate=terminate,
            force=force,
        )
    emit(
        {"swapped": [first, second], "terminated_sessions": [s.describe() for s in ended]},
        as_json,
        lambda: console.print(f"Swapped {first} and {second}."),
    )


@db_group.command("drop")
@click.argument("name")
@click.option("--force", is_flag=True, help="Allow dropping a production database.")
@terminate_option
@json_option
@click.pass_context
def drop_cmd(ctx: click.Context, name: str, force: bool, terminate: bool, as_json: bool) -> None:
    """Drop database NAME and its filestore (its snapshots are kept).

    The database of a production environment is refused unless --force.
    """
    project = _project(ctx)
    server = server_for(project)
    with databases_lock(project, [name]):
        dbops.drop_database(
            server,
            name,
            filestore_root=_filestores(project),
            force=force,
            terminate=terminate,
        )
    emit({"database": name, "dropped": True}, as_json, lambda: console.print(f"Dropped {name}."))


# -- import / export ---------------------------------------------------------------------


@db_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("target")
@click.option("--replace", is_flag=True, help="Replace TARGET if it exists.")
@click.option("--force", is_flag=True, help="Allow replacing a production database.")
@terminate_option
@json_option
@click.pass_context
def import_cmd(
    ctx: click.Context,
    file: Path,
    target: str,
    replace: bool,
    force: bool,
    terminate: bool,
    as_json: bool,
) -> None:
    """Load FILE into the new database TARGET.

    FILE is plain SQL (.sql, .sql.gz), a pg_dump custom/tar archive, or an Odoo backup
    .zip (dump.sql + filestore/), recognised by content. The database appears only once
    the import is complete. Replacing a production database also needs --force.
    """
    project = _project(ctx)
    server = server_for(project)
    with (
        databases_lock(project, [target]),
        _progress(not as_json, f"Importing {file.name}") as progress,
    ):
        result = dbops.import_database(
            server,
            file,
            target,
            filestore_root=_filestores(project),
            replace=replace,
            terminate=terminate,
            force=force,
            progress=progress,
        )
    emit(
        result.to_dict(),
        as_json,
        lambda: console.print(
            f"Imported {file} ({result.format}) into {target}: {_size(result.size)}, "
            f"{result.filestore.files} filestore files, {result.seconds:.1f} s."
        ),
    )


@db_group.command("export")
@click.argument("database")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace FILE if it exists.")
@json_option
@click.pass_context
def export_cmd(
    ctx: click.Context, database: str, file: Path, overwrite: bool, as_json: bool
) -> None:
    """Write DATABASE and its filestore to FILE as an Odoo backup .zip.

    The archive holds dump.sql, filestore/ and manifest.json like the backups of Odoo's
    database manager, so Odoo (and `odooplane db import`) can restore it.
    """
    project = _project(ctx)
    server = server_for(project)
    with _progress(not as_json, f"Exporting {database}") as progress:
        result = dbops.export_database(
            server,
            database,
            file,
            filestore_root=_filestores(project),
            overwrite=overwrite,
            progress=progress,
        )
    emit(
        result.to_dict(),
        as_json,
        lambda: console.print(
            f"Exported {database} to {file}: {_size(result.bytes)}, "
            f"{result.filestore_files} filestore files, {result.seconds:.1f} s."
        ),
    )


@db_group.command(
    "psql", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
)
@click.argument("database", required=False)
@click.argument("psql_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def psql_cmd(ctx: click.Context, database: str | None, psql_args: tuple[str, ...]) -> None:
    """Open psql on DATABASE (default: the server's maintenance database).

    Extra arguments go to psql, e.g. `odooplane db psql mydb -c "SELECT 1"`.
    """
    from odooplane.postgres.identifiers import database_name

    server: DatabaseServer = server_for(_project(ctx))
    dbname = database_name(database) if database else server.maintenance_db
    command = [str(server.tool("psql")), "-X", *psql_args]
    code = subprocess.run(command, env=server.tool_env(dbname)).returncode
    if code:
        _exit(code)


# `db cache` lives in its own module; importing it registers it on the group.
from odooplane.cli import db_cache_cmd  # noqa: E402, F401
