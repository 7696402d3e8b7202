"""`odooplane neutralize`, `odooplane verify` and the `odooplane mail` commands."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from odooplane.cli import cli
from odooplane.cli._common import (
    POSITIVE_COUNT,
    console,
    console_err,
    emit,
    json_option,
    project_dir,
)
from odooplane.cli.progress import ProgressBar
from odooplane.config import EnvironmentKind
from odooplane.errors import NotFoundError, UsageError
from odooplane.fsutil import write_atomic
from odooplane.policy import check_neutralize
from odooplane.project import Project, load_project

if TYPE_CHECKING:
    from odooplane.neutralize.report import NeutralizationReport, VerificationReport


@dataclass(frozen=True)
class Target:
    database: str
    environment: str | None
    mail_key: str


_STYLE = {"pass": "green", "fail": "bold red", "warn": "yellow", "skip": "dim"}


def _verification_table(report: VerificationReport) -> Table:
    table = Table(title=f"Verification of {report.database}", show_lines=False)
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    for item in report.checks:
        table.add_row(
            f"{item.id}\n[dim]{item.title}[/dim]",
            f"[{_STYLE[item.status]}]{item.status.upper()}[/]",
            item.detail,
        )
    return table


def _neutralization_table(report: NeutralizationReport) -> Table:
    table = Table(title=f"Neutralization of {report.database}")
    table.add_column("rule")
    table.add_column("changed", justify="right")
    table.add_column("notes", overflow="fold")
    for item in report.rules:
        table.add_row(
            f"{item.name}\n[dim]{item.title}[/dim]",
            str(item.changed) if item.changed else "[dim]0[/dim]",
            "\n".join(item.notes),
        )
    return table


def _target(project: Project, environment: str | None, database: str | None) -> Target:
    if environment and database:
        raise UsageError("Give an environment or --db NAME, not both.")
    if not environment and not database:
        raise UsageError(
            "Say which database: an environment name (odooplane neutralize staging) or --db NAME."
        )
    if environment:
        project.environment(environment)  # an unknown name is a sentence
        db = project.config.database_name(environment)
        check_neutralize(project, db, environment)
        return Target(db, environment, environment)
    assert database is not None
    check_neutralize(project, database, None)
    return Target(database, None, f"db-{database}")


def _catcher(project: Project, target: Target, given: str | None) -> tuple[str, int]:
    from odooplane.mailcatcher import catcher_address

    if given:
        host, sep, port = given.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise UsageError(f"--catcher '{given}' is not HOST:PORT, e.g. 127.0.0.1:2525.")
        return host, int(port)
    return catcher_address(project.state_dir, target.mail_key)


def _odoo_source(project: Project, given: Path | None) -> tuple[Path | None, str | None]:
    if given is not None:
        if not (given / "odoo" / "addons" / "base").is_dir():
            raise UsageError(
                f"--odoo-source {given} is not an Odoo source tree (no odoo/addons/base)."
            )
        return given, None
    from odooplane.odoo.source import configured_path

    try:
        path = configured_path(project.config.odoo, project.root)
    except Exception as exc:  # a missing clone is reported below, not a crash
        return None, f"Odoo source not available ({exc})"
    if (path / "odoo" / "addons" / "base").is_dir():
        return path, None
    return None, f"Odoo source {path} is not on this machine"


def _odoo_conf(project: Project, environment: str | None, given: Path | None) -> Path | None:
    if given is not None:
        if not given.is_file():
            raise UsageError(f"--odoo-conf {given} does not exist.")
        return given
    if environment is None:
        return None
    candidate = project.state_dir / "environments" / environment / "odoo.conf"
    return candidate if candidate.is_file() else None


def _render_verification(report: object) -> None:
    from odooplane.neutralize.report import VerificationReport

    assert isinstance(report, VerificationReport)
    console.print(_verification_table(report))
    if report.ok:
        console.print(
            f"[green]Verified:[/green] {report.database} is neutralized ({report.summary()})."
        )
    else:
        console.print(f"[bold red]NOT SAFE:[/bold red] {report.database} ({report.summary()}).")
        for item in report.failures:
            console.print(f"  [red]✗ {item.id}[/red]: {item.detail}", highlight=False)


def _verify(
    ctx: click.Context,
    environment: str | None,
    database: str | None,
    catcher: str | None,
    url: str | None,
    odoo_conf: Path | None,
    junit: Path | None,
    as_json: bool,
) -> None:
    from odooplane.neutralize import verify_database, verify_environment
    from odooplane.neutralize.report import NeutralizationFailed
    from odooplane.postgres.project_server import server_for

    project = load_project(project_dir(ctx))
    target = _target(project, environment, database)
    address = _catcher(project, target, catcher)
    server = server_for(project)
    if target.environment is not None:
        report = verify_environment(
            project,
            target.environment,
            server=server,
            catcher=address,
            base_url=url,
            odoo_conf=_odoo_conf(project, target.environment, odoo_conf),
        )
    else:
        report = verify_database(
            server,
            target.database,
            project=project,
            environment=None,
            catcher=address,
            base_url=url,
        )
    if junit is not None:
        write_atomic(junit, report.to_junit())
    emit(report.to_dict(), as_json, lambda: _render_verification(report))
    if not report.ok:
        raise NeutralizationFailed(report)


_target_args = [
    click.argument("environment", required=False),
    click.option(
        "--db", "database", metavar="NAME", help="A database by name instead of an environment."
    ),
    click.option(
        "--catcher",
        metavar="HOST:PORT",
        help="SMTP mail catcher to send mail to (default: the environment's catcher port).",
    ),
    click.option("--url", help="The URL web.base.url must hold (default: the environment's url)."),
]


def _with_target_args(func: click.decorators.FC) -> click.decorators.FC:
    for decorator in reversed(_target_args):
        func = decorator(func)
    return func


@cli.command("neutralize")
@_with_target_args
@click.option(
    "--check", is_flag=True, help="Only verify, read-only (the same as `odooplane verify`)."
)
@click.option(
    "--odoo-source",
    type=click.Path(file_okay=False, path_type=Path),
    help="Odoo source tree whose data/neutralize.sql files to run (default: odoo.source).",
)
@click.option(
    "--odoo-conf",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --check: the environment's odoo.conf (default: the one odooplane rendered).",
)
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the checks as JUnit XML.",
)
@json_option
@click.pass_context
def neutralize_cmd(
    ctx: click.Context,
    environment: str | None,
    database: str | None,
    catcher: str | None,
    url: str | None,
    check: bool,
    odoo_source: Path | None,
    odoo_conf: Path | None,
    junit: Path | None,
    as_json: bool,
) -> None:
    """Make a copy of production safe: no mail, crons, payments or integrations out.

    Runs Odoo's own data/neutralize.sql of every installed module, then odooplane's
    rules (mail to the catcher only, crons off, payment/shipping/EDI/OAuth/IAP disabled,
    webhooks off, web.base.url, database.uuid/secret, enterprise code, secret-looking
    parameters), then the project's rules from odooplane.yaml, all in one transaction.
    Then it verifies, read-only: any leak fails the command (exit 1) and names it.
    Running it twice changes nothing the second time.

    ENVIRONMENT is a non-production environment of the project; or use --db NAME.
    """
    if check:
        _verify(ctx, environment, database, catcher, url, odoo_conf, junit, as_json)
        return
    from odooplane.environments.locks import databases_lock
    from odooplane.neutralize import neutralize_database
    from odooplane.neutralize.report import NeutralizationFailed, NeutralizationReport
    from odooplane.postgres.project_server import server_for

    project = load_project(project_dir(ctx))
    target = _target(project, environment, database)
    address = _catcher(project, target, catcher)
    source, source_note = _odoo_source(project, odoo_source)
    if source_note and not as_json:
        console_err.print(f"[yellow]warning:[/yellow] {source_note}; only odooplane's rules run.")
    server = server_for(project)
    try:
        with (
            databases_lock(project, [target.database]),
            ProgressBar(f"Neutralizing {target.database}") as bar,
        ):
            report = neutralize_database(
                server,
                target.database,
                project=project,
                environment=target.environment,
                odoo_source_path=source,
                catcher=address,
                base_url=url,
                progress=None if as_json else bar,
            )
    except NeutralizationFailed as exc:
        failed = exc.report
        if junit is not None and isinstance(failed, NeutralizationReport) and failed.verification:
            write_atomic(junit, failed.verification.to_junit())
        if isinstance(failed, NeutralizationReport):
            emit(failed.to_dict(), as_json, lambda: _render_neutralization(failed))
        raise
    if junit is not None and report.verification is not None:
        write_atomic(junit, report.verification.to_junit())
    emit(report.to_dict(), as_json, lambda: _render_neutralization(report))


def _render_neutralization(report: object) -> None:
    from odooplane.neutralize.report import NeutralizationReport

    assert isinstance(report, NeutralizationReport)
    console.print(_neutralization_table(report))
    console.print(
        f"{report.changed} row(s) changed in {report.seconds:.2f}s"
        + (" (already neutralized: nothing to do)" if report.changed == 0 else "")
    )
    if report.reset_password:
        console.print(
            f"[bold]Every user's password is now:[/bold] {report.reset_password}\n"
            "[dim]It is shown this once and stored nowhere.[/dim]"
        )
    if report.verification is not None:
        _render_verification(report.verification)


@cli.command("verify")
@_with_target_args
@click.option(
    "--odoo-conf",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The environment's odoo.conf (default: the one odooplane rendered).",
)
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the checks as JUnit XML.",
)
@json_option
@click.pass_context
def verify_cmd(
    ctx: click.Context,
    environment: str | None,
    database: str | None,
    catcher: str | None,
    url: str | None,
    odoo_conf: Path | None,
    junit: Path | None,
    as_json: bool,
) -> None:
    """Prove, read-only, that a database cannot reach the outside (the CI gate).

    Checks the database (mail servers, queue, crons, payments, webhooks, parameters...),
    the environment's odoo.conf and env file, and that no production-only secret is
    visible. Prints a table (or --json, or --junit FILE); exits 1 on any failure.
    """
    _verify(ctx, environment, database, catcher, url, odoo_conf, junit, as_json)


# -- mail ---------------------------------------------------------------------------------


@cli.group("mail")
def mail_group() -> None:
    """Messages caught by the mail catcher of non-production environments."""


def _mail_env(project: Project, environment: str) -> str:
    from odooplane.mailcatcher import iter_environment_folders

    if environment in project.config.environments or environment in set(
        iter_environment_folders(project.state_dir)
    ):
        return environment
    known = ", ".join(sorted(project.config.environments)) or "none"
    raise NotFoundError(
        f"No environment named '{environment}'.", hint=f"Known environments: {known}."
    )


@mail_group.command("list")
@click.argument("environment")
@click.option(
    "-n",
    "--limit",
    type=POSITIVE_COUNT,
    default=50,
    show_default=True,
    help="Show the latest N messages.",
)
@json_option
@click.pass_context
def mail_list(ctx: click.Context, environment: str, limit: int, as_json: bool) -> None:
    """List the mails caught for ENVIRONMENT, oldest first."""
    from rich.table import Table

    from odooplane.mailcatcher import list_messages

    project = load_project(project_dir(ctx))
    env = _mail_env(project, environment)
    messages = (
        list_messages(project.state_dir, env)[-limit:]
        if limit > 0
        else list_messages(project.state_dir, env)
    )

    def render() -> None:
        if not messages:
            console.print(f"No mail caught for {env}.")
            return
        table = Table(title=f"Mail caught for {env}")
        for column in ("id", "received", "from", "to", "subject"):
            table.add_column(column, overflow="fold")
        for m in messages:
            table.add_row(
                m.id, m.received_at, m.header_from or m.mail_from, ", ".join(m.rcpt_tos), m.subject
            )
        console.print(table)

    emit([m.to_dict() for m in messages], as_json, render)


@mail_group.command("show")
@click.argument("environment")
@click.argument("message_id", required=False)
@click.option("--raw", is_flag=True, help="Print the message source exactly as received.")
@json_option
@click.pass_context
def mail_show(
    ctx: click.Context, environment: str, message_id: str | None, raw: bool, as_json: bool
) -> None:
    """Show one caught mail of ENVIRONMENT (the latest without MESSAGE_ID)."""
    from odooplane.mailcatcher import find_message, message_text, read_message

    project = load_project(project_dir(ctx))
    env = _mail_env(project, environment)
    entry, path = find_message(project.state_dir, env, message_id)
    if raw and not as_json:
        click.echo(path.read_bytes().decode("utf-8", "replace"), nl=False)
        return
    message = read_message(path)
    body = message_text(message)

    def render() -> None:
        for header in ("Date", "From", "To", "Cc", "Subject", "Message-Id"):
            if message.get(header):
                console.print(f"[bold]{header}:[/bold] {message.get(header)}", highlight=False)
        console.print(
            f"[dim]envelope: {entry.mail_from} -> {', '.join(entry.rcpt_tos)}; file {path}[/dim]"
        )
        console.print()
        console.print(body, markup=False, highlight=False)

    emit({**entry.to_dict(), "path": str(path), "body": body}, as_json, render)


@mail_group.command("open")
@click.argument("environment")
@click.argument("message_id", required=False)
@click.pass_context
def mail_open(ctx: click.Context, environment: str, message_id: str | None) -> None:
    """Open a caught mail of ENVIRONMENT in the default mail viewer (the latest by default)."""
    from odooplane.mailcatcher import find_message

    project = load_project(project_dir(ctx))
    env = _mail_env(project, environment)
    _entry, path = find_message(project.state_dir, env, message_id)
    console.print(str(path))
    click.launch(str(path))


def _render_status(status: object) -> None:
    from odooplane.mailcatcher import CatcherStatus

    assert isinstance(status, CatcherStatus)
    if status.running:
        console.print(f"[green]running[/green] (pid {status.pid}) on {status.host}")
    else:
        console.print("[yellow]stopped[/yellow]")
    for env, port in sorted(status.ports.items()):
        console.print(f"  {env}: port {port}")


@mail_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@json_option
@click.pass_context
def mail_serve(ctx: click.Context, host: str, as_json: bool) -> None:
    """Start the project's mail catcher in the background (one port per environment)."""
    from odooplane.mailcatcher import catcher_address, start_catcher

    project = load_project(project_dir(ctx))
    for name, env in sorted(project.config.environments.items()):
        if env.kind != EnvironmentKind.production:
            catcher_address(project.state_dir, name, host=host)
    status = start_catcher(project.state_dir, host=host)
    emit(status.to_dict(), as_json, lambda: _render_status(status))


@mail_group.command("stop")
@json_option
@click.pass_context
def mail_stop(ctx: click.Context, as_json: bool) -> None:
    """Stop the project's mail catcher."""
    from odooplane.mailcatcher import stop_catcher

    project = load_project(project_dir(ctx))
    status = stop_catcher(project.state_dir)
    emit(status.to_dict(), as_json, lambda: _render_status(status))


@mail_group.command("status")
@json_option
@click.pass_context
def mail_status(ctx: click.Context, as_json: bool) -> None:
    """Whether the mail catcher runs, and which port catches which environment."""
    from odooplane.mailcatcher import catcher_status

    project = load_project(project_dir(ctx))
    status = catcher_status(project.state_dir)
    emit(status.to_dict(), as_json, lambda: _render_status(status))
