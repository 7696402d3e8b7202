"""Reading environments: status, list, log file, shell/psql commands, ``cron-run``,
the environment for a branch, and ``env diff``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from odooplane.backends.base import ProcessStatus
from odooplane.environments import ports
from odooplane.environments.branches import BranchMatch, environment_for_branch
from odooplane.environments.builds import require_build, runtime_of, source_of
from odooplane.environments.context import EnvContext, write_odoo_conf
from odooplane.environments.cron import CronResult
from odooplane.environments.diff import EnvDiff
from odooplane.environments.health import HealthResult, check_once
from odooplane.environments.launch import log_of, serving_program
from odooplane.environments.locks import environment_lock, lock_holder
from odooplane.environments.odoo_run import run_odoo
from odooplane.environments.sessions import live_session
from odooplane.environments.state import Operation, Serving, interrupted_operation
from odooplane.environments.steps import (
    allocate_ports,
    explain,
    mail_catcher,
    require_database,
    require_state,
)
from odooplane.errors import CheckFailedError, ConfigError, NotFoundError, RefusedError
from odooplane.odoo.series import for_series
from odooplane.project import Project
from odooplane.results import Result


@dataclass(frozen=True)
class EnvironmentStatus(Result):
    """The truth about one environment; the fields after ``created`` are set only for an
    environment that has been created."""

    environment: str
    kind: str
    database: str
    url: str | None
    status: str
    created: bool
    recorded_status: str | None = None
    desired: str | None = None
    http_port: int | None = None
    gevent_port: int | None = None
    workers: int | None = None
    build: dict[str, Any] | None = None
    previous_build: str | None = None
    deployed_at: str | None = None
    created_at: str | None = None
    neutralization: dict[str, Any] | None = None
    process: ProcessStatus | None = None
    health: HealthResult | None = None
    operation: Operation | None = None
    interrupted: bool = False
    lock_holder: dict[str, Any] | None = None
    last_deployment: dict[str, Any] | None = None
    # Blue/green: the slot serving and, per slot, its ports and build.
    slot: str | None = None
    slots: dict[str, dict[str, Any]] | None = None
    log: Path | None = None
    conf: Path | None = None
    # The `odooplane dev` session serving it from the working tree, while it lives.
    serving: Serving | None = None
    # The environment's database role and its rotations (never the password).
    credentials: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        if not self.created:
            return {k: data[k] for k in _ABSENT_KEYS}
        return data


_ABSENT_KEYS = ("environment", "kind", "database", "url", "status", "created")


@dataclass(frozen=True)
class EnvironmentRow(Result):
    """One line of ``env list``."""

    environment: str
    kind: str
    status: str
    database: str | None
    url: str | None
    build: str | None
    branch: str | None
    deployed_at: str | None


def describe_credentials(ctx: EnvContext) -> dict[str, Any]:
    from odooplane.environments.credentials import describe

    return describe(ctx)


def status(project: Project, name: str, *, check_health: bool = True) -> EnvironmentStatus:
    """The truth about one environment: recorded state, live process, health."""
    ctx = EnvContext(project, name)
    state = ctx.load_state()
    kind, database = ctx.kind.value, ctx.database
    if state is None:
        return EnvironmentStatus(name, kind, database, ctx.config.url, "absent", created=False)
    live = ctx.backend.status(serving_program(ctx, state))
    op = state.operation
    interrupted = interrupted_operation(state)
    serving = live_session(state)
    if interrupted is not None:
        effective = "interrupted"
    elif op is not None:
        effective = f"{op.op}-in-progress"
    elif serving is not None:
        effective = "running"
    elif state.serving is not None:
        # `odooplane dev` was killed without recording its end: nothing serves it.
        effective = "stopped"
    elif live.running:
        effective = "running" if live.state == "RUNNING" else live.state.lower()
    elif state.desired == "running":
        effective = "down"
    else:
        effective = state.status
    pair = (
        ports.PortPair(state.http_port, state.gevent_port)
        if state.http_port and state.gevent_port
        else None
    )
    health = None
    if check_health and live.running:
        if not ctx.backend.serves_here:
            # A cluster serves through its own Service: asked from inside the pod.
            health = ctx.backend.check_health(serving_program(ctx, state), "", timeout=5)
        elif pair is not None:
            # Through the front door, as users reach it.
            health = check_once(ctx.local_url(pair), timeout=5)
    if check_health and serving is not None:
        health = check_once(serving.url, timeout=5)
    return EnvironmentStatus(
        environment=name,
        kind=kind,
        database=database,
        url=serving.url if serving else ctx.url(pair),
        status=effective,
        created=True,
        recorded_status=state.status,
        desired=state.desired,
        http_port=serving.http_port if serving else state.http_port,
        gevent_port=state.gevent_port,
        workers=ctx.config.workers,
        build=state.build_info,
        previous_build=state.previous_build,
        deployed_at=state.deployed_at,
        created_at=state.created_at,
        neutralization=state.neutralization,
        process=live,
        health=health,
        operation=op,
        interrupted=interrupted is not None,
        lock_holder=lock_holder(project.state_dir, name),
        last_deployment=state.last_deployment,
        slot=state.slot,
        slots=state.slots,
        log=Path(serving.log) if serving else log_of(ctx, state),
        conf=ctx.conf_path,
        serving=serving,
        credentials=describe_credentials(ctx),
    )


def list_environments(project: Project) -> list[EnvironmentRow]:
    """Every configured environment, plus any left in the state folder without config."""
    from odooplane.environments.state import StateStore

    rows: list[EnvironmentRow] = []
    for name in project.config.environments:
        info = status(project, name, check_health=False)
        build = info.build or {}
        rows.append(
            EnvironmentRow(
                environment=name,
                kind=info.kind,
                status=info.status,
                database=info.database,
                url=info.url,
                build=build.get("sha"),
                branch=build.get("branch"),
                deployed_at=info.deployed_at,
            )
        )
    for orphan in StateStore(project.state_dir).names():
        if orphan not in project.config.environments:
            rows.append(EnvironmentRow(orphan, "?", "orphaned", None, None, None, None, None))
    return rows


def log_stream(project: Project, name: str, *, lines: int, follow: bool) -> Iterator[str] | None:
    """The environment's output when its backend serves it (pods, through their API);
    None when it is the file :func:`log_file` names."""
    ctx = EnvContext(project, name)
    return ctx.backend.log_stream(name, lines=lines, follow=follow)


def log_file(project: Project, name: str) -> Path:
    """Where the output of the environment's process goes (its backend says)."""
    ctx = EnvContext(project, name)
    state = ctx.store.load(name)
    if state is None:
        return ctx.backend.log_location(name) or ctx.log_path
    serving = live_session(state)
    if serving is not None:
        return Path(serving.log)
    return ctx.backend.log_location(serving_program(ctx, state)) or log_of(ctx, state)


@dataclass(frozen=True)
class Command:
    """A program to run interactively (``shell``, ``psql``)."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path


def shell_command(project: Project, name: str) -> Command:
    """``odoo-bin shell`` of the environment's build, on its database."""
    from odooplane.environments.context import process_env

    ctx = EnvContext(project, name)
    state = require_state(ctx)
    if state.build is None:
        raise RefusedError(f"Environment '{name}' has no build yet.")
    b = require_build(project, state.build)
    require_database(ctx, ctx.server())
    if not ctx.conf_path.is_file():
        raise NotFoundError(
            f"{ctx.conf_path} is missing.",
            hint=f"Start the environment once: `odooplane env start {name}`.",
        )
    argv = for_series(b.odoo_series).shell_argv(
        runtime_of(b), source_of(b), ctx.conf_path, database=ctx.database
    )
    once = ctx.backend.one_off(name, argv, process_env(ctx, b), build=b.sha, interactive=True)
    return Command(argv=once.argv, env=once.env, cwd=ctx.dir)


def psql_command(project: Project, name: str) -> Command:
    ctx = EnvContext(project, name)
    server = ctx.server()
    require_database(ctx, server)
    return Command(
        argv=[str(server.tool("psql")), "-X"], env=server.tool_env(ctx.database), cwd=project.root
    )


@dataclass(frozen=True)
class CronRun(Result):
    """A scheduled action run by hand: what ran, for how long, what Odoo said."""

    environment: str
    result: CronResult

    def to_dict(self) -> dict[str, Any]:
        return {"environment": self.environment, **self.result.to_dict()}


def cron_run(
    project: Project,
    name: str,
    cron: str,
    *,
    timeout: float = 1800.0,
    lock_timeout: float | None = None,
) -> CronRun:
    """Run scheduled action ``cron`` (XML id or name) of environment ``name`` now."""
    from odooplane.environments import cron as cron_mod

    if not cron.strip():
        raise ConfigError("Name the scheduled action: an XML id (module.name) or its name.")
    ctx = EnvContext(project, name)
    with environment_lock(project.state_dir, name, timeout=lock_timeout):
        state = require_state(ctx)
        if state.build is None:
            raise RefusedError(f"Environment '{name}' has no build yet.")
        b = require_build(project, state.build)
        server = ctx.server()
        require_database(ctx, server)
        if not ctx.conf_path.is_file():
            pair = allocate_ports(ctx, state)
            write_odoo_conf(ctx, b, pair, server, catcher=mail_catcher(ctx))
        argv = for_series(b.odoo_series).shell_argv(
            runtime_of(b), source_of(b), ctx.conf_path, database=ctx.database
        )
        result = run_odoo(
            ctx,
            state,
            argv,
            b,
            log_name="cron-run.log",
            capture=None,
            timeout=timeout,
            stdin_text=cron_mod.cron_script(cron),
        )
    parsed = cron_mod.parse_result(result.output)
    if parsed is None:
        raise CheckFailedError(
            f"The Odoo shell of '{name}' ended (code {result.code}) without running '{cron}'.",
            hint=f"Log excerpt:\n{explain(result.output)}",
        )
    if parsed.status == "not_found":
        raise NotFoundError(
            f"No scheduled action '{cron}' in environment '{name}'.",
            hint="Give its XML id (e.g. base.autovacuum_job) or its exact name; "
            "`odooplane env diff` lists the active ones.",
        )
    if parsed.status == "ambiguous":
        names = ", ".join(f"{c['name']} ({c['xmlid'] or c['id']})" for c in parsed.candidates)
        raise ConfigError(
            f"'{cron}' matches several scheduled actions: {names}.",
            hint="Use the XML id to pick one.",
        )
    if parsed.status == "error":
        raise CheckFailedError(
            f"Scheduled action '{(parsed.cron or {}).get('name', cron)}' failed: {parsed.error}",
            hint=parsed.traceback,
        )
    return CronRun(environment=name, result=parsed)


def for_branch(project: Project, branch: str) -> BranchMatch:
    """The environment ``branch`` feeds."""
    return environment_for_branch(project.config, branch)


def environment_diff(project: Project, a: str, b: str) -> EnvDiff:
    """``env diff``: see :mod:`odooplane.environments.diff`."""
    from odooplane.environments import diff

    facts = []
    for name in (a, b):
        ctx = EnvContext(project, name)
        state = require_state(ctx)
        server = ctx.server()
        require_database(ctx, server)
        with server.connect(ctx.database) as conn:
            database = diff.database_facts(conn)
        info = state.build_info or {}
        facts.append(
            diff.environment_facts(
                name,
                build={
                    k: str(info.get(k) or "")
                    for k in ("sha", "branch", "odoo_revision", "deps_hash")
                },
                conf=diff.read_conf_options(ctx.conf_path),
                env_file=ctx.env_values(),
                database=database,
            )
        )
    return diff.diff_facts(facts[0], facts[1])
