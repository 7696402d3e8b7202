"""`odooplane env` commands: the lifecycle of environments on this machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from odooplane.cli import cli
from odooplane.cli._common import (
    COUNT,
    Seconds,
    console,
    console_err,
    emit,
    json_option,
    project_dir,
)
from odooplane.cli.progress import ProgressLines
from odooplane.environments import api as envs
from odooplane.environments import detach
from odooplane.environments.diff import SECTIONS
from odooplane.errors import UsageError
from odooplane.project import Project, load_project

_STATUS_COLOURS = {
    "running": "green",
    "ready": "cyan",
    "stopped": "yellow",
    "absent": "dim",
    "failed": "red",
    "refused": "red",
    "down": "red",
    "interrupted": "red",
    "backoff": "red",
    "fatal": "red",
    "orphaned": "magenta",
}

wait_option = click.option(
    "--wait",
    "lock_timeout",
    type=Seconds(),
    default=None,
    metavar="SECONDS",
    help="How long to wait for another command holding the environment "
    "(default 60, or $ODOOPLANE_LOCK_TIMEOUT).",
)
timeout_option = click.option(
    "--timeout",
    "health_timeout",
    type=Seconds(minimum=1.0),
    default=envs.DEFAULT_HEALTH_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="How long Odoo may take to answer 200 on /web/health and /web/login.",
)


def _project(ctx: click.Context) -> Project:
    return load_project(project_dir(ctx))


def _progress(as_json: bool) -> ProgressLines | None:
    return None if as_json else ProgressLines()


def _coloured(status: str) -> str:
    colour = _STATUS_COLOURS.get(status.split("-")[0], "white")
    return f"[{colour}]{status}[/{colour}]"


def _render_outcome(data: dict[str, Any]) -> None:
    build = data.get("build") or {}
    console.print(
        f"[bold]{data['environment']}[/bold]: {_coloured(str(data['status']))} "
        f"build [bold]{str(build.get('sha', ''))[:12]}[/bold] {build.get('subject', '') or ''}"
    )
    plan = data.get("plan")
    if plan:
        installs = ", ".join(plan.get("install") or []) or "-"
        updates = "all" if plan.get("update_all") else ", ".join(plan.get("update") or []) or "-"
        console.print(f"  installed: {installs}   updated: {updates}")
    if data.get("neutralization"):
        n = data["neutralization"]
        console.print(f"  neutralization: {n.get('status')} ({n.get('checks') or ''})")
    if data.get("recovered"):
        console.print(
            f"  [yellow]recovered an interrupted command:[/yellow] "
            f"{'; '.join(data['recovered'].get('actions', []))}"
        )
    table = Table(show_header=True, box=None, padding=(0, 2))
    table.add_column("step")
    table.add_column("seconds", justify="right")
    table.add_column("status")
    for step in data.get("steps") or []:
        table.add_row(step["name"], f"{step['seconds']:.1f}", step["status"])
    console.print(table)
    if data.get("url"):
        console.print(f"  url: {data['url']}   total: {data.get('seconds', 0):.1f} s")
    for warning in data.get("warnings") or []:
        console_err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)


def _failed(exc: envs.DeploymentFailed, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(__import__("json").dumps(exc.result, indent=2, default=str) + "\n")
    else:
        _render_outcome(exc.result)


@cli.group("env")
def env_group() -> None:
    """Environments: create, deploy, start, stop and inspect running Odoo environments.

    Each environment of odooplane.yaml runs as its own Odoo process under the project's
    supervisor, with its own database, filestore, odoo.conf, port and log file.
    """


@env_group.command("create")
@click.argument("name")
@click.option(
    "--ref",
    default=None,
    help="Commit to deploy (default: the environment's "
    "branch, the copied environment's build, or HEAD).",
)
@click.option(
    "--import",
    "import_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Start from this dump or Odoo backup .zip instead of the data policy "
    "(neutralized first when the environment is).",
)
@click.option("--no-start", is_flag=True, help="Prepare the database but do not start Odoo.")
@timeout_option
@wait_option
@json_option
@click.pass_context
def create_command(
    ctx: click.Context,
    name: str,
    ref: str | None,
    import_path: Path | None,
    no_start: bool,
    health_timeout: float,
    lock_timeout: float | None,
    as_json: bool,
) -> None:
    """Create environment NAME: its database follows its data policy (fresh, demo, or a
    neutralized copy of another environment), then it is started."""
    project = _project(ctx)
    try:
        outcome = envs.create(
            project,
            name,
            ref=ref,
            import_path=import_path,
            start=not no_start,
            health_timeout=health_timeout,
            lock_timeout=lock_timeout,
            progress=_progress(as_json),
        )
    except envs.DeploymentFailed as exc:
        _failed(exc, as_json)
        raise
    data = outcome.to_dict()
    emit(data, as_json, lambda: _render_outcome(data))


@env_group.command("deploy")
@click.argument("name")
@click.argument("ref")
@click.option(
    "--no-snapshot", is_flag=True, help="Skip the pre-deploy snapshot (never for production)."
)
@click.option("--approved-by", default=None, help="Who approved this deployment (evidence).")
@timeout_option
@wait_option
@json_option
@click.pass_context
def deploy_command(
    ctx: click.Context,
    name: str,
    ref: str,
    no_snapshot: bool,
    approved_by: str | None,
    health_timeout: float,
    lock_timeout: float | None,
    as_json: bool,
) -> None:
    """Deploy REF to environment NAME, without a moment of refused connections.

    Nothing to install or update (checksums of the addons' files, manifest versions):
    the new build starts beside the old one and the front door switches to it once it
    answers /web/health and /web/login. Modules to install or update: a maintenance page
    (503, Retry-After) while the old build stops, the snapshot is taken, modules update
    and the new build starts. A failure before the switch undoes it all and exits 1 with
    the log lines that explain it.

    The deploy runs in a process of its own: closing this terminal or Ctrl-C here stops
    following it, not the deploy.
    """
    project = _project(ctx)
    ticket = detach.start(
        project,
        "deploy",
        name,
        ref=ref,
        snapshot=not no_snapshot,
        health_timeout=health_timeout,
        lock_timeout=lock_timeout,
        approved_by=approved_by,
    )
    data = _follow(ticket, as_json)
    emit(data, as_json, lambda: _render_outcome(data))


def _follow(ticket: detach.Ticket, as_json: bool) -> dict[str, Any]:
    """Follow a detached operation to its end; Ctrl-C stops following, not the operation."""
    say = _progress(as_json)
    try:
        return detach.follow(ticket, on_progress=say)
    except detach.OperationError as exc:
        if exc.result is not None:
            if as_json:
                sys.stdout.write(json.dumps(exc.result, indent=2, default=str) + "\n")
            else:
                _render_outcome(exc.result)
        raise
    except KeyboardInterrupt:
        console_err.print(
            f"[yellow]Stopped following; the {ticket.verb} of {ticket.environment} goes on "
            f"(process {ticket.pid}).[/yellow] Follow it with `odooplane logs "
            f"{ticket.environment} --follow`, check it with `odooplane env status "
            f"{ticket.environment}`; its output is in {ticket.log}.",
            highlight=False,
        )
        raise SystemExit(130) from None


def _render_simple(data: dict[str, Any]) -> None:
    line = f"[bold]{data['environment']}[/bold]: {_coloured(str(data['status']))}"
    if data.get("url"):
        line += f"  {data['url']}"
    if data.get("already"):
        line += "  [dim](was already running)[/dim]"
    console.print(line)
    for item in data.get("removed", []):
        console.print(f"  removed {item}")


@env_group.command("start")
@click.argument("name")
@timeout_option
@wait_option
@json_option
@click.pass_context
def start_command(
    ctx: click.Context, name: str, health_timeout: float, lock_timeout: float | None, as_json: bool
) -> None:
    """Start environment NAME (its current build) and wait until it answers."""
    ticket = detach.start(
        _project(ctx), "start", name, health_timeout=health_timeout, lock_timeout=lock_timeout
    )
    data = _follow(ticket, as_json)
    emit(data, as_json, lambda: _render_simple(data))


@env_group.command("stop")
@click.argument("name")
@wait_option
@json_option
@click.pass_context
def stop_command(ctx: click.Context, name: str, lock_timeout: float | None, as_json: bool) -> None:
    """Stop environment NAME (its database and state are kept)."""
    data = envs.stop(_project(ctx), name, lock_timeout=lock_timeout)
    emit(data, as_json, lambda: _render_simple(data.to_dict()))


@env_group.command("restart")
@click.argument("name")
@timeout_option
@wait_option
@json_option
@click.pass_context
def restart_command(
    ctx: click.Context, name: str, health_timeout: float, lock_timeout: float | None, as_json: bool
) -> None:
    """Restart environment NAME (odoo.conf and its env file are read again)."""
    ticket = detach.start(
        _project(ctx), "restart", name, health_timeout=health_timeout, lock_timeout=lock_timeout
    )
    data = _follow(ticket, as_json)
    emit(data, as_json, lambda: _render_simple(data))


@env_group.command("destroy")
@click.argument("name")
@click.option("--force", is_flag=True, help="Required to destroy a production environment.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@wait_option
@json_option
@click.pass_context
def destroy_command(
    ctx: click.Context, name: str, force: bool, yes: bool, lock_timeout: float | None, as_json: bool
) -> None:
    """Destroy environment NAME: its process, database, snapshots, filestore and state."""
    project = _project(ctx)
    if not yes and not as_json and sys.stdin.isatty():
        click.confirm(f"Destroy environment '{name}' and drop its database?", abort=True)
    data = envs.destroy(project, name, force=force, lock_timeout=lock_timeout)
    emit(data, as_json, lambda: _render_simple(data.to_dict()))


@env_group.command("list")
@json_option
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> None:
    """List the environments with their status and deployed build."""
    rows = envs.list_environments(_project(ctx))

    def render() -> None:
        table = Table(title="Environments")
        for column in ("environment", "kind", "status", "build", "branch", "deployed", "url"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                row.environment,
                row.kind,
                _coloured(row.status),
                (row.build or "-")[:12],
                row.branch or "-",
                row.deployed_at or "-",
                row.url or "-",
            )
        console.print(table)

    emit(rows, as_json, render)


@env_group.command("status")
@click.argument("name")
@json_option
@click.pass_context
def status_command(ctx: click.Context, name: str, as_json: bool) -> None:
    """What environment NAME runs, whether it is healthy, and its last deployment."""
    data = envs.status(_project(ctx), name)

    def render() -> None:
        table = Table(show_header=False, box=None)
        table.add_row("environment", f"[bold]{name}[/bold] ({data.kind})")
        table.add_row("status", _coloured(data.status))
        table.add_row("database", data.database)
        if data.created:
            build = data.build or {}
            table.add_row(
                "build",
                f"{str(build.get('sha', ''))[:12]} {build.get('branch') or ''}"
                f" {build.get('subject', '') or ''}",
            )
            table.add_row("deployed", data.deployed_at or "-")
            table.add_row("url", data.url or "-")
            process = data.process
            if process is not None:
                table.add_row("process", f"{process.state} pid {process.pid or '-'}")
            if data.health:
                checks = data.health.checks
                table.add_row("health", ", ".join(f"{k} {v}" for k, v in checks.items()))
            if data.neutralization:
                table.add_row("neutralization", str(data.neutralization.get("status")))
            op = data.operation
            if op is not None:
                table.add_row(
                    "operation",
                    f"{op.op} (phase {op.phase}) by pid {op.pid}"
                    + (" [red]died[/red]" if data.interrupted else ""),
                )
            credentials = data.credentials or {}
            if credentials.get("role"):
                rotations = credentials.get("rotations") or []
                latest = rotations[-1] if rotations else None
                table.add_row(
                    "database role",
                    str(credentials["role"])
                    + (f" (rotated {latest['at']}: {latest['reason']})" if latest else ""),
                )
            if credentials.get("warning"):
                table.add_row("[yellow]warning[/yellow]", str(credentials["warning"]))
            last = data.last_deployment
            if last:
                table.add_row(
                    "last action",
                    f"{last.get('action')} {last.get('status')} "
                    f"at {last.get('at') or last.get('recovered_at')}",
                )
            table.add_row("log", str(data.log))
        console.print(table)

    emit(data, as_json, render)


@env_group.command("logs")
@click.argument("name")
@click.option(
    "-n", "--lines", default=100, show_default=True, type=COUNT, help="How many lines to show."
)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C to stop).")
@click.pass_context
def logs_command(ctx: click.Context, name: str, lines: int, follow: bool) -> None:
    """Show the log of environment NAME's Odoo process."""
    from odooplane.backends.supervisor import tail

    project = _project(ctx)
    stream = envs.log_stream(project, name, lines=lines, follow=follow)
    if stream is not None:
        for line in stream:
            click.echo(line)
        return
    path = envs.log_file(project, name)
    if not path.exists():
        raise UsageError(
            f"Environment '{name}' has no log yet ({path}).",
            hint=f"Start it: `odooplane env start {name}`.",
        )
    text = tail(path, lines)
    if text:
        click.echo(text)
    if not follow:
        return
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        while True:
            chunk = fh.read()
            if chunk:
                sys.stdout.write(chunk.decode("utf-8", "replace"))
                sys.stdout.flush()
            else:
                time.sleep(0.5)


def _run_interactive(command: envs.Command, extra: tuple[str, ...]) -> None:
    code = subprocess.call([*command.argv, *extra], env=command.env, cwd=command.cwd)
    if code:
        raise click.exceptions.Exit(code)


@env_group.command("shell", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("extra", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def shell_command(ctx: click.Context, name: str, extra: tuple[str, ...]) -> None:
    """An Odoo shell (`env` bound to the database) of environment NAME's build.

    Pipe a script into it to run it non-interactively; call env.cr.commit() to keep
    its changes."""
    _run_interactive(envs.shell_command(_project(ctx), name), extra)


@env_group.command("psql", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("extra", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def psql_command(ctx: click.Context, name: str, extra: tuple[str, ...]) -> None:
    """psql on environment NAME's database (extra arguments go to psql)."""
    _run_interactive(envs.psql_command(_project(ctx), name), extra)


@env_group.command("cron-run")
@click.argument("name")
@click.argument("cron")
@wait_option
@json_option
@click.pass_context
def cron_run_command(
    ctx: click.Context, name: str, cron: str, lock_timeout: float | None, as_json: bool
) -> None:
    """Run scheduled action CRON of environment NAME now, even when it is disabled.

    CRON is an XML id (base.autovacuum_job) or the action's name."""
    data = envs.cron_run(_project(ctx), name, cron, lock_timeout=lock_timeout)

    def render() -> None:
        info = data.result.cron or {}
        state = "active" if info.get("active") else "disabled"
        ident = info.get("xmlid") or info.get("id")
        console.print(
            f"[green]ran[/green] {info.get('name')} ({ident}, {state}) in {data.result.seconds} s"
        )

    emit(data, as_json, render)


@env_group.command("for-branch")
@click.argument("branch")
@json_option
@click.pass_context
def for_branch_command(ctx: click.Context, branch: str, as_json: bool) -> None:
    """Which environment BRANCH feeds (from the branch patterns of odooplane.yaml)."""
    data = envs.for_branch(_project(ctx), branch)

    def render() -> None:
        if data.environment:
            console.print(
                f"{branch} -> [bold]{data.environment}[/bold] ({data.kind}): {data.reason}"
            )
        else:
            console.print(f"{branch} -> [dim]no environment[/dim] ({data.reason})")

    emit(data, as_json, render)


@env_group.command("diff")
@click.argument("a")
@click.argument("b")
@json_option
@click.pass_context
def diff_command(ctx: click.Context, a: str, b: str, as_json: bool) -> None:
    """Differences between environments A and B: build, odoo.conf, env-file keys (values
    masked), installed modules and versions, active crons, mail servers, parameters."""
    data = envs.environment_diff(_project(ctx), a, b)

    def render() -> None:
        if data.identical:
            console.print(f"{a} and {b} have the same configuration.")
            return
        for key, title in SECTIONS:
            rows = data.sections.get(key) or []
            if not rows:
                continue
            table = Table(
                title=f"{title} ({data.same.get(key, 0)} identical)", title_justify="left"
            )
            table.add_column("key")
            table.add_column(a)
            table.add_column(b)
            for row in rows:
                table.add_row(
                    row.key,
                    row.a if row.a is not None else "[dim]-[/dim]",
                    row.b if row.b is not None else "[dim]-[/dim]",
                )
            console.print(table)

    emit(data, as_json, render)


@env_group.command("rotate-credentials")
@click.argument("name")
@wait_option
@timeout_option
@json_option
@click.pass_context
def rotate_credentials_command(
    ctx: click.Context,
    name: str,
    lock_timeout: float | None,
    health_timeout: float,
    as_json: bool,
) -> None:
    """Give environment NAME's database role a new password.

    The password is generated, kept 0600 in the environment's state and recorded as a
    rotation (env status lists them); a running environment is restarted with its new
    odoo.conf. See docs/security.md.
    """
    from odooplane.environments.credentials import rotate_credentials

    data = rotate_credentials(
        _project(ctx),
        name,
        health_timeout=health_timeout,
        lock_timeout=lock_timeout,
        progress=_progress(as_json),
    )

    def render() -> None:
        if data.get("warning"):
            console_err.print(Text(f"warning: {data['warning']}", style="yellow"))
            return
        restarted = " and restarted it" if data.get("restarted") else ""
        console.print(f"New password for role {data['role']} of {name}{restarted}.")

    emit(data, as_json, render)
