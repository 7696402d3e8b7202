"""The lifecycle of environments: create, deploy, start, stop, restart, destroy, status.

Every command that changes an environment holds its lock, writes an operation journal
into its state before each phase (so a crash is known and undone by the next command),
and records itself in the evidence store, step by step. Odoo.sh's stage semantics are
the model: production is updated in place and falls back to its last good build when
an update fails; staging is a neutralized copy of production; development databases
are fresh, with demo data when configured so.

Deploy, in order: build; stop; snapshot (the database must be idle for a
``CREATE DATABASE ... TEMPLATE`` copy, so the snapshot follows the stop); install new
modules and update changed ones (checksums, version bumps); re-neutralize a
neutralized copy; start; health check. Any failure restores the snapshot, starts the
previous build and raises :class:`DeploymentFailed` with the log lines that explain it.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import psutil  # type: ignore[import-untyped, unused-ignore]

from odooplane.environments import checksums, ports
from odooplane.environments.builds import (
    Build,
    build,
    build_project,
    load_build,
    record_build,
    require_build,
    runtime_of,
    source_of,
)
from odooplane.environments.context import (
    EnvContext,
    program_spec,
    write_odoo_conf,
)
from odooplane.environments.health import HealthResult, check_once, wait_healthy
from odooplane.environments.locks import current_command, environment_lock, lock_holder
from odooplane.environments.state import (
    EnvState,
    Operation,
    interrupted_operation,
    now_iso,
    process_alive,
)
from odooplane.errors import (
    CheckFailedError,
    ConfigError,
    NotFoundError,
    OdooplaneError,
    RefusedError,
)
from odooplane.mailcatcher import ensure_catcher
from odooplane.odoo.addons import project_addons
from odooplane.odoo.series import for_series
from odooplane.postgres import databases as dbs
from odooplane.postgres.filestore import copy_filestore, filestore_of
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project
from odooplane.runner import RunResult, run_logged

if TYPE_CHECKING:
    # The evidence store pulls in SQLAlchemy: imported only by commands that record.
    from odooplane.evidence.api import DeploymentRecorder, EvidenceStore

DEFAULT_HEALTH_TIMEOUT = 180.0
UPDATE_TIMEOUT = 6 * 3600.0
KEEP_SNAPSHOTS = 3
SNAPSHOT_PREFIX = "pre-"
Progress = Callable[[str], None]


class DeploymentFailed(CheckFailedError):
    """A deployment failed; ``result`` says what was done about it (rollback...)."""

    def __init__(self, message: str, *, result: dict[str, Any], hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.result = result


@dataclass
class StepTiming:
    name: str
    seconds: float
    status: str
    detail: str = ""


@dataclass
class Outcome:
    """What a create or deploy did: for people (rendered) and CI (``--json``)."""

    environment: str
    action: str
    status: str
    build: dict[str, Any] | None
    previous_build: str | None = None
    url: str | None = None
    deployment_id: str | None = None
    steps: list[StepTiming] = field(default_factory=list)
    plan: dict[str, Any] | None = None
    health: dict[str, Any] | None = None
    snapshot: str | None = None
    recovered: dict[str, Any] | None = None
    neutralization: dict[str, Any] | None = None
    error: str | None = None
    log_excerpt: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- small helpers ---------------------------------------------------------------------------


def _say(progress: Progress | None, text: str) -> None:
    if progress is not None:
        progress(text)


def explain(output: str, lines: int = 40) -> str:
    """The part of an Odoo log that explains a failure: from the last traceback or the
    first ERROR/CRITICAL line on, else the end of the log."""
    all_lines = output.splitlines()
    start = None
    for index in range(len(all_lines) - 1, -1, -1):
        if all_lines[index].startswith("Traceback (most recent call last)"):
            start = max(0, index - 2)
            break
    if start is None:
        for index, line in enumerate(all_lines):
            if re.search(r"\b(ERROR|CRITICAL)\b", line):
                start = index
                break
    if start is None:
        return "\n".join(all_lines[-lines:])
    return "\n".join(all_lines[start : start + lines * 2])


def _log_since(path: Path, offset: int, max_bytes: int = 256 * 1024) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            start = offset if 0 <= offset <= size else 0
            start = max(start, size - max_bytes)
            fh.seek(start)
            return fh.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def _log_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _snapshot_stamp() -> str:
    return SNAPSHOT_PREFIX + datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")


def _evidence(project: Project) -> EvidenceStore:
    from odooplane.evidence.api import EvidenceStore

    return EvidenceStore.open(project)


class _Run:
    """One recorded command on an environment: timed steps into the evidence store."""

    def __init__(self, recorder: DeploymentRecorder, progress: Progress | None) -> None:
        self.recorder = recorder
        self.progress = progress
        self.steps: list[StepTiming] = []

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[Any]:
        _say(self.progress, f"{name}...")
        started = time.monotonic()
        status = "succeeded"
        try:
            with self.recorder.step(name) as capture:
                yield capture
                if capture.status:
                    status = capture.status
        except BaseException:
            status = "failed"
            raise
        finally:
            self.steps.append(StepTiming(name, round(time.monotonic() - started, 2), status))


def require_database(ctx: EnvContext, server: DatabaseServer) -> None:
    if not dbs.database_exists(server, ctx.database):
        raise NotFoundError(
            f"The database '{ctx.database}' of environment '{ctx.name}' does not exist on "
            f"{server.describe()} any more (dropped outside odooplane?).",
            hint=f"Restore a snapshot (`odooplane db snapshot list {ctx.database}`), or "
            f"recreate the environment: `odooplane env destroy {ctx.name} --force` then "
            f"`odooplane env create {ctx.name}`.",
        )


def _require_state(ctx: EnvContext) -> EnvState:
    state = ctx.store.load(ctx.name)
    if state is None:
        raise NotFoundError(
            f"Environment '{ctx.name}' has not been created yet.",
            hint=f"Create it with `odooplane env create {ctx.name}`.",
        )
    return state


def _ports(ctx: EnvContext, state: EnvState) -> ports.PortPair:
    options = ctx.config.odoo_options
    http = options.get("http_port")
    gevent = options.get("gevent_port", options.get("longpolling_port"))
    current = (
        ports.PortPair(state.http_port, state.gevent_port)
        if state.http_port and state.gevent_port
        else None
    )
    pair = ports.allocate(
        ctx.project.root,
        ctx.name,
        http=int(http) if http is not None else None,
        gevent=int(gevent) if gevent is not None else None,
        current=current if http is None and gevent is None else None,
    )
    state.http_port, state.gevent_port = pair.http, pair.gevent
    return pair


def _check_ports(ctx: EnvContext, pair: ports.PortPair) -> None:
    ports.ensure_port_free(pair.http, f"HTTP of environment '{ctx.name}'")
    if ctx.config.workers:
        ports.ensure_port_free(pair.gevent, f"gevent/websocket of environment '{ctx.name}'")


def _catcher(ctx: EnvContext) -> tuple[str, int] | None:
    if not ctx.config.neutralized:
        return None
    return ensure_catcher(ctx.project.state_dir, ctx.name)


def _wanted_modules(ctx: EnvContext, b: Build) -> list[str]:
    """What the environment should have installed: its ``modules``, else every
    installable addon of the project."""
    if ctx.config.modules:
        return list(ctx.config.modules)
    addons = project_addons(build_project(ctx.project, b))
    return sorted(name for name, addon in addons.items() if addon.installable)


def _secrets_check(ctx: EnvContext, b: Build) -> None:
    if ctx.is_production:
        return
    from odooplane.environments.context import process_env
    from odooplane.secrets import check_secrets_visibility

    findings = check_secrets_visibility(
        ctx.project, ctx.name, odoo_conf=ctx.conf_path, process_env=process_env(ctx, b)
    )
    if findings:
        raise RefusedError(
            f"Environment '{ctx.name}' can see production-only secrets: "
            + "; ".join(f.message for f in findings)
            + ".",
            hint="Remove those values from its env file and odoo_options, then start again.",
        )


# -- neutralization ---------------------------------------------------------------------------


def _neutralize(
    ctx: EnvContext,
    server: DatabaseServer,
    b: Build,
    pair: ports.PortPair,
    run: _Run,
    *,
    source_database: str | None,
) -> dict[str, Any]:
    """Neutralize and verify the database (fail-closed); returns the state record."""
    from odooplane.neutralize import NeutralizationFailed, neutralize_database

    catcher = _catcher(ctx)
    assert catcher is not None
    started = time.monotonic()
    with run.step("neutralize") as capture:
        try:
            report = neutralize_database(
                server,
                ctx.database,
                project=ctx.project,
                environment=ctx.name,
                odoo_source_path=Path(b.odoo_path),
                catcher=catcher,
                base_url=ctx.url(pair),
            )
        except NeutralizationFailed as exc:
            failed = exc.report.to_dict()
            capture.line(str(failed))
            record = {
                "status": "failed",
                "at": now_iso(),
                "error": exc.message,
                "failures": [
                    c["id"]
                    for c in (failed.get("verification") or {}).get("checks", [])
                    if c.get("status") == "fail"
                ],
            }
            _record_neutralization(ctx, "failed", failed, started, source_database)
            raise _NeutralizationRefused(exc.message, record=record, hint=exc.hint) from None
        data = report.to_dict()
        data.pop("reset_password", None)
        capture.line(
            f"neutralized: {report.changed} change(s); verification "
            f"{report.verification.summary() if report.verification else 'skipped'}"
        )
        _record_neutralization(ctx, "succeeded", data, started, source_database)
    verification = data.get("verification") or {}
    return {
        "status": "verified" if verification.get("ok") else "neutralized",
        "at": now_iso(),
        "changed": data.get("changed"),
        "checks": verification.get("summary"),
        "seconds": round(time.monotonic() - started, 2),
    }


class _NeutralizationRefused(RefusedError):
    def __init__(self, message: str, *, record: dict[str, Any], hint: str | None) -> None:
        super().__init__(message, hint=hint)
        self.record = record


def _record_neutralization(
    ctx: EnvContext,
    status: str,
    data: dict[str, Any],
    started: float,
    source_database: str | None,
) -> None:
    with _evidence(ctx.project) as store:
        store.record_neutralization(
            ctx.name,
            ctx.database,
            status=status,
            source_database=source_database,
            rules=data.get("rules", []),
            verification=data.get("verification"),
            duration_s=time.monotonic() - started,
        )


# -- running Odoo once ------------------------------------------------------------------------


def _run_odoo(
    ctx: EnvContext,
    state: EnvState,
    argv: list[str],
    b: Build,
    *,
    log_name: str,
    capture: Any,
    timeout: float = UPDATE_TIMEOUT,
    stdin_text: str | None = None,
) -> RunResult:
    from odooplane.environments.context import process_env

    def on_spawn(pid: int, started: float) -> None:
        if state.operation is not None:
            ctx.store.phase(state, state.operation.phase, child_pid=pid, child_started=started)

    def sink(line: str) -> None:
        if capture is not None:
            capture.write(line)

    return run_logged(
        argv,
        env=process_env(ctx, b),
        cwd=ctx.dir,
        log_path=ctx.dir / "logs" / log_name,
        timeout=timeout,
        on_spawn=on_spawn,
        sink=sink,
        stdin_text=stdin_text,
    )


def _module_rows(server: DatabaseServer, database: str) -> dict[str, checksums.ModuleRow]:
    with server.connect(database) as conn:
        return checksums.installed_modules(conn)


def _plan(ctx: EnvContext, server: DatabaseServer, b: Build) -> checksums.UpdatePlan:
    addons = project_addons(build_project(ctx.project, b))
    with server.connect(ctx.database) as conn:
        rows = checksums.installed_modules(conn)
        stored = checksums.stored_checksums(conn)
        revision = checksums.stored_revision(conn)
    return checksums.plan_update(
        addons.values(),
        rows,
        stored,
        wanted=_wanted_modules(ctx, b),
        series=b.odoo_series,
        odoo_revision=b.odoo_revision,
        previous_revision=revision,
    )


def _store_checksums(ctx: EnvContext, server: DatabaseServer, b: Build) -> None:
    addons = project_addons(build_project(ctx.project, b))
    with server.connect(ctx.database) as conn:
        checksums.store_checksums(conn, checksums.checksums_of(addons.values()), b.odoo_revision)


def _apply_plan(
    ctx: EnvContext,
    state: EnvState,
    server: DatabaseServer,
    b: Build,
    plan: checksums.UpdatePlan,
    capture: Any,
    recorder: DeploymentRecorder,
) -> None:
    """Run ``odoo-bin -i ... -u ...`` for ``plan`` and check the database afterwards."""
    before = _module_rows(server, ctx.database)
    update = ["all"] if plan.update_all else plan.update
    argv = for_series(b.odoo_series).update_argv(
        runtime_of(b),
        source_of(b),
        ctx.conf_path,
        database=ctx.database,
        install=plan.install,
        update=update,
    )
    started = datetime.now(timezone.utc)
    t0 = time.monotonic()
    result = _run_odoo(ctx, state, argv, b, log_name="update.log", capture=capture)
    after = _module_rows(server, ctx.database)
    problems: list[str] = []
    if result.timed_out:
        problems.append("the update did not finish in time")
    elif result.code != 0:
        problems.append(f"odoo-bin exited with code {result.code}")
    for name in plan.install:
        row = after.get(name)
        if row is None or row.state != "installed":
            problems.append(f"module {name} is {row.state if row else 'unknown'}, not installed")
    pending = sorted(n for n, r in after.items() if r.state in ("to install", "to upgrade"))
    if pending:
        problems.append(f"modules left half done: {', '.join(pending)}")
    status = "failed" if problems else "succeeded"
    for name in sorted(set(plan.install) | set(plan.update)):
        old = before.get(name)
        new = after.get(name)
        recorder.record_migration(
            name,
            from_version=old.latest_version if old and name not in plan.install else None,
            to_version=new.latest_version if new else None,
            status=status,
            started_at=started,
            duration_s=time.monotonic() - t0,
        )
    if problems:
        raise _StepFailed(
            f"Installing/updating modules failed: {'; '.join(problems)}.",
            excerpt=explain(result.output),
        )


class _StepFailed(CheckFailedError):
    def __init__(self, message: str, *, excerpt: str) -> None:
        super().__init__(message)
        self.excerpt = excerpt


# -- starting the process ---------------------------------------------------------------------


def _process_gave_up(ctx: EnvContext) -> Callable[[], str | None]:
    def check() -> str | None:
        status = ctx.backend.status(ctx.name)
        if status.state in ("FATAL", "EXITED", "STOPPED", "NOT_RUNNING", "ABSENT"):
            detail = status.description or status.state
            return f"the Odoo process is {status.state} ({detail})"
        return None

    return check


def _launch(
    ctx: EnvContext,
    state: EnvState,
    b: Build,
    pair: ports.PortPair,
    server: DatabaseServer,
    run: _Run | None,
    *,
    health_timeout: float,
) -> HealthResult:
    """Write odoo.conf, define the program for ``b``, start it and wait until healthy.

    Raises _StepFailed (with the log lines of this start) when it does not come up.
    """
    catcher = _catcher(ctx)
    write_odoo_conf(ctx, b, pair, server, catcher=catcher)
    if ctx.config.neutralized and (ctx.copy_source or state.neutralization is not None):
        _verify_before_start(ctx, state, server, pair)
    _secrets_check(ctx, b)
    offset = _log_size(ctx.log_path)
    step = run.step("start") if run else contextlib.nullcontext()
    with step:
        ctx.backend.define(program_spec(ctx, b))
        ctx.backend.start(ctx.name)
    hstep = run.step("health check") if run else contextlib.nullcontext()
    with hstep as capture:
        result = wait_healthy(
            ctx.local_url(pair), timeout=health_timeout, still_running=_process_gave_up(ctx)
        )
        if run is not None:
            run.recorder.record_health_check(
                "http",
                ok=result.ok,
                detail=", ".join(f"{p} {c}" for p, c in result.checks.items()) or result.reason,
                duration_s=result.seconds,
            )
        if not result.ok:
            excerpt = explain(_log_since(ctx.log_path, offset))
            if capture is not None:
                capture.line(f"unhealthy: {result.reason}\n{excerpt}")
            raise _StepFailed(
                f"Odoo did not become healthy: {result.reason} "
                f"({', '.join(f'{p}: {c}' for p, c in result.checks.items())}).",
                excerpt=excerpt,
            )
        _wait_supervised(ctx, offset)
    return result


def _wait_supervised(ctx: EnvContext, log_offset: int, grace: float = 15.0) -> None:
    """Wait until supervisord counts the start as successful (its ``startsecs``), so the
    state written next and ``status`` agree; a process dying meanwhile is a failure."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        live = ctx.backend.status(ctx.name)
        if live.state == "RUNNING":
            return
        if not live.running:
            raise _StepFailed(
                f"The Odoo process stopped right after answering ({live.state}).",
                excerpt=explain(_log_since(ctx.log_path, log_offset)),
            )
        time.sleep(0.3)


def _verify_before_start(
    ctx: EnvContext, state: EnvState, server: DatabaseServer, pair: ports.PortPair
) -> None:
    """A neutralized copy starts only when its database verifies, every time (read-only,
    a fraction of a second): whatever changed it since, it never reaches the outside."""
    from odooplane.neutralize import verify_database

    catcher = ensure_catcher(ctx.project.state_dir, ctx.name)
    report = verify_database(
        server,
        ctx.database,
        project=ctx.project,
        environment=ctx.name,
        catcher=catcher,
        base_url=ctx.url(pair),
    )
    if report.ok:
        if not state.neutralization_ok or state.neutralization is None:
            state.neutralization = {
                "status": "verified",
                "at": now_iso(),
                "checks": report.summary(),
                "note": "verified before starting",
            }
            ctx.store.save(state)
        return
    failed = [c.id for c in report.failures]
    message = (
        f"Environment '{ctx.name}' is not started: its database is not neutralized "
        f"(verification failed: {', '.join(failed)})."
    )
    record = {"status": "failed", "at": now_iso(), "error": message, "failures": failed}
    state.neutralization = record
    ctx.store.save(state)
    raise _NeutralizationRefused(
        message,
        record=record,
        hint=f"Fix the leak, then run `odooplane neutralize {ctx.name}` and start it again.",
    )


def _stop_process(ctx: EnvContext) -> None:
    ctx.backend.stop(ctx.name)


# -- recovery after a crash -------------------------------------------------------------------


def _kill_child(op: Operation) -> bool:
    if op.child_pid and process_alive(op.child_pid, op.child_started):
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(op.child_pid)
            proc.kill()
            proc.wait(10)
        return True
    return False


def recover(
    ctx: EnvContext, state: EnvState, *, health_timeout: float, progress: Progress | None
) -> dict[str, Any] | None:
    """Undo what a command killed mid-way left behind (called under the lock)."""
    op = interrupted_operation(state)
    if op is None:
        return None
    _say(progress, f"recovering from an interrupted `{op.command}` (phase {op.phase})...")
    actions: list[str] = []
    if _kill_child(op):
        actions.append(f"killed the orphaned Odoo process {op.child_pid}")
    server = ctx.server()
    if op.op == "deploy":
        _stop_process(ctx)
        actions.append("stopped the environment")
        touched = op.phase not in ("begun", "stopping", "stopped", "snapshot", "snapshotted")
        if op.snapshot and op.phase == "snapshot":
            # The snapshot may be half made: drop it, the database itself is untouched.
            with contextlib.suppress(OdooplaneError):
                dbs.drop_database(
                    server,
                    dbs.snapshot_db_name(ctx.database, op.snapshot),
                    filestore_root=ctx.filestore_root,
                    terminate=True,
                    missing_ok=True,
                )
            actions.append(f"dropped the unfinished snapshot {op.snapshot}")
        elif op.snapshot and touched:
            dbs.restore_snapshot(
                server,
                ctx.database,
                op.snapshot,
                filestore_root=ctx.filestore_root,
                terminate=True,
            )
            actions.append(f"restored snapshot {op.snapshot}")
        elif touched:
            actions.append("no snapshot to restore: the database keeps the partial update")
        previous = load_build(ctx.project, op.previous_build) if op.previous_build else None
        if previous is not None and state.desired == "running":
            pair = _ports(ctx, state)
            try:
                _launch(ctx, state, previous, pair, server, None, health_timeout=health_timeout)
                state.status = "running"
                actions.append(f"started the previous build {previous.short}")
            except OdooplaneError as exc:
                state.status = "failed"
                actions.append(f"the previous build did not start: {exc.message}")
        else:
            state.status = "stopped" if previous is not None else "failed"
    elif op.op == "create":
        state.status = "failed"
        actions.append("the creation was interrupted: `env create` starts it over")
    else:
        actions.append(f"the interrupted `{op.op}` left nothing to undo")
    record = {
        "action": op.op,
        "status": "interrupted",
        "phase": op.phase,
        "command": op.command,
        "started_at": op.started_at,
        "recovered_at": now_iso(),
        "target_build": op.target_build,
        "actions": actions,
        "deployment_id": op.deployment_id,
    }
    state.add_history(record)
    state.operation = None
    ctx.store.save(state)
    sha = op.target_build or op.previous_build
    if sha:
        with (
            _evidence(ctx.project) as store,
            store.start_deployment(ctx.name, git_sha=sha, kind="recover") as recorder,
        ):
            recorder.note(
                f"recovered the interrupted `{op.command}` (phase {op.phase})",
                actions=actions,
                interrupted_deployment=op.deployment_id,
            )
    return record


# -- create --------------------------------------------------------------------------------------


def _default_ref(ctx: EnvContext) -> str:
    """What a new environment runs when no ref is given: its literal branch if it has
    one (staging: main), else the project's HEAD."""
    from odooplane import gitrepo
    from odooplane.config import branch_patterns
    from odooplane.globs import PRECEDENCE_LITERAL, pattern_precedence

    for pattern in branch_patterns(ctx.project.config, ctx.name):
        if pattern_precedence(pattern) == PRECEDENCE_LITERAL and gitrepo.is_branch(
            ctx.project.root, pattern
        ):
            return pattern
    return "HEAD"


def _discard(ctx: EnvContext, state: EnvState, server: DatabaseServer) -> None:
    """Remove what a failed or interrupted creation left (its own database only)."""
    ctx.backend.remove(ctx.name)
    dbs.drop_database(
        server,
        state.database,
        filestore_root=ctx.filestore_root,
        terminate=True,
        missing_ok=True,
        protected=False,
    )
    ctx.store.delete(ctx.name)


def create(
    project: Project,
    name: str,
    *,
    ref: str | None = None,
    import_path: Path | None = None,
    start: bool = True,
    health_timeout: float = DEFAULT_HEALTH_TIMEOUT,
    lock_timeout: float | None = None,
    progress: Progress | None = None,
) -> Outcome:
    """Create environment ``name`` following its data policy, deploy a build, start it.

    ``import_path`` (a plain or gzipped SQL dump, a pg_dump archive or an Odoo backup
    ``.zip``) replaces the data policy: the environment starts from that database,
    neutralized first when the environment is.
    """
    t0 = time.monotonic()
    ctx = EnvContext(project, name)
    with environment_lock(project.state_dir, name, timeout=lock_timeout):
        server = ctx.server()
        state = ctx.store.load(name)
        if state is not None:
            op = interrupted_operation(state)
            if (op is not None and op.op == "create") or (
                state.status == "failed" and state.build is None
            ):
                _say(progress, "removing what an earlier, unfinished creation left...")
                _discard(ctx, state, server)
            else:
                raise RefusedError(
                    f"Environment '{name}' already exists (created {state.created_at}, "
                    f"status {state.status}).",
                    hint=f"Deploy to it with `odooplane env deploy {name} REF`, or remove it "
                    f"with `odooplane env destroy {name}` first.",
                )
        if dbs.database_exists(server, ctx.database):
            raise RefusedError(
                f"Database '{ctx.database}' already exists on {server.describe()}, but no "
                f"environment owns it; odooplane does not overwrite it.",
                hint=f"Drop it (`odooplane db drop {ctx.database}`), import it into the "
                f"environment another way, or set environments.{name}.database.",
            )
        leftover = filestore_of(ctx.filestore_root, ctx.database)
        if leftover is not None and leftover.exists():
            raise RefusedError(
                f"A filestore folder {leftover} exists although database "
                f"'{ctx.database}' does not.",
                hint="Move it away or delete it, then create the environment again.",
            )
        source_ctx: EnvContext | None = None
        source_state: EnvState | None = None
        if import_path is not None and not import_path.is_file():
            raise NotFoundError(
                f"{import_path} does not exist (or is not a file).",
                hint="Give the path of a database dump or Odoo backup .zip.",
            )
        if ctx.copy_source and import_path is None:
            source_ctx = EnvContext(project, ctx.copy_source)
            source_state = source_ctx.store.load(ctx.copy_source)
            if source_state is None or source_state.build is None:
                raise RefusedError(
                    f"Environment '{name}' is a copy of '{ctx.copy_source}', which has not "
                    "been created yet.",
                    hint=f"Create it first: `odooplane env create {ctx.copy_source}`.",
                )
            require_database(source_ctx, server)
        wanted_ref = ref or (source_state.build if source_state else None) or _default_ref(ctx)
        _say(progress, f"building {wanted_ref}...")
        b = build(project, wanted_ref, progress=progress is not None, record=False)
        state = EnvState(name=name, kind=ctx.kind.value, database=ctx.database, status="new")
        ctx.dir.mkdir(parents=True, exist_ok=True)
        pair = _ports(ctx, state)
        _check_ports(ctx, pair)
        ctx.store.begin(state, "create", current_command(), target_build=b.sha)
        outcome = Outcome(
            environment=name, action="create", status="failed", build=b.summary(), url=ctx.url(pair)
        )
        with _evidence(project) as store:
            build_id = uuid.UUID(record_build(store, b))
            recorder = store.start_deployment(name, git_sha=b.sha, build_id=build_id, kind="create")
            outcome.deployment_id = str(recorder.id)
            ctx.store.phase(state, "provisioning", deployment_id=str(recorder.id))
            run = _Run(recorder, progress)
            try:
                with recorder:
                    if import_path is not None:
                        _create_import(ctx, state, import_path, server, b, pair, run, outcome)
                    elif source_ctx is not None:
                        _create_copy(ctx, state, source_ctx, server, b, pair, run, outcome)
                    else:
                        _create_fresh(ctx, state, server, b, pair, run)
                    state.build = b.sha
                    state.build_info = b.summary()
                    state.deployed_at = now_iso()
                    state.status = "ready"
                    if start:
                        ctx.store.phase(state, "starting")
                        health = _launch(
                            ctx, state, b, pair, server, run, health_timeout=health_timeout
                        )
                        outcome.health = health.to_dict()
                        state.status = "running"
                        state.desired = "running"
            except _NeutralizationRefused as exc:
                state.neutralization = exc.record
                state.status = "refused"
                state.build = b.sha
                state.build_info = b.summary()
                _finish_failed(ctx, state, outcome, run, exc.message, None)
                raise
            except _StepFailed as exc:
                _stop_process(ctx)
                _finish_failed(ctx, state, outcome, run, exc.message, exc.excerpt)
                raise DeploymentFailed(
                    f"Creating environment '{name}' failed: {exc.message}",
                    result=outcome.to_dict(),
                    hint=f"Log excerpt:\n{exc.excerpt}" if exc.excerpt else None,
                ) from None
            except BaseException as exc:
                with contextlib.suppress(OdooplaneError):
                    _stop_process(ctx)
                message = exc.message if isinstance(exc, OdooplaneError) else repr(exc)
                _finish_failed(ctx, state, outcome, run, message, None)
                raise
        outcome.status = state.status
        outcome.steps = run.steps
        outcome.seconds = round(time.monotonic() - t0, 2)
        state.add_history(_history("create", outcome))
        state.operation = None
        ctx.store.save(state)
        return outcome


def _finish_failed(
    ctx: EnvContext,
    state: EnvState,
    outcome: Outcome,
    run: _Run,
    message: str,
    excerpt: str | None,
) -> None:
    if state.status not in ("refused",):
        state.status = "failed"
    state.desired = "stopped"
    outcome.status = state.status
    outcome.error = message
    outcome.log_excerpt = excerpt
    outcome.steps = run.steps
    state.add_history(_history(outcome.action, outcome))
    state.operation = None
    ctx.store.save(state)


def _history(action: str, outcome: Outcome) -> dict[str, Any]:
    return {
        "action": action,
        "status": outcome.status,
        "build": (outcome.build or {}).get("sha"),
        "at": now_iso(),
        "deployment_id": outcome.deployment_id,
        "steps": [asdict(s) for s in outcome.steps],
        "error": outcome.error,
        "seconds": outcome.seconds,
    }


def _create_fresh(
    ctx: EnvContext,
    state: EnvState,
    server: DatabaseServer,
    b: Build,
    pair: ports.PortPair,
    run: _Run,
) -> None:
    modules = sorted({"base", "web", *_wanted_modules(ctx, b)})
    write_odoo_conf(ctx, b, pair, server, catcher=_catcher(ctx))
    with run.step("initialize database") as capture:
        ctx.store.phase(state, "initializing")
        argv = for_series(b.odoo_series).init_argv(
            runtime_of(b),
            source_of(b),
            ctx.conf_path,
            database=ctx.database,
            modules=modules,
            demo=ctx.demo,
        )
        result = _run_odoo(ctx, state, argv, b, log_name="init.log", capture=capture)
        rows = (
            _module_rows(server, ctx.database) if dbs.database_exists(server, ctx.database) else {}
        )
        missing = [m for m in modules if rows.get(m) is None or rows[m].state != "installed"]
        if result.code != 0 or missing:
            why = (
                f"odoo-bin exited with code {result.code}"
                if result.code
                else (f"{', '.join(missing)} not installed")
            )
            raise _StepFailed(
                f"Initializing the database failed: {why}.", excerpt=explain(result.output)
            )
        _store_checksums(ctx, server, b)


def _create_import(
    ctx: EnvContext,
    state: EnvState,
    path: Path,
    server: DatabaseServer,
    b: Build,
    pair: ports.PortPair,
    run: _Run,
    outcome: Outcome,
) -> None:
    with run.step("import database") as capture:
        ctx.store.phase(state, "importing")
        imported = dbs.import_database(
            server, path, ctx.database, filestore_root=ctx.filestore_root
        )
        capture.line(f"imported {path} ({imported.format}) in {imported.seconds:.1f} s")
    if ctx.config.neutralized:
        ctx.store.phase(state, "neutralizing")
        state.neutralization = _neutralize(ctx, server, b, pair, run, source_database=None)
        outcome.neutralization = state.neutralization
    _update_copied(ctx, state, server, b, pair, run, outcome, source_database=None)


def _update_copied(
    ctx: EnvContext,
    state: EnvState,
    server: DatabaseServer,
    b: Build,
    pair: ports.PortPair,
    run: _Run,
    outcome: Outcome,
    *,
    source_database: str | None,
) -> None:
    """Bring a database that came from elsewhere to build ``b`` (checksums decide)."""
    write_odoo_conf(ctx, b, pair, server, catcher=_catcher(ctx))
    with run.step("update modules") as capture:
        ctx.store.phase(state, "updating")
        plan = _plan(ctx, server, b)
        outcome.plan = plan.to_dict()
        if plan.empty:
            capture.skip("nothing to install or update")
        else:
            _apply_plan(ctx, state, server, b, plan, capture, run.recorder)
        _store_checksums(ctx, server, b)
    if ctx.config.neutralized and not plan.empty:
        # Module data loaded by the update may switch crons or servers back on.
        state.neutralization = _neutralize(
            ctx, server, b, pair, run, source_database=source_database
        )
        outcome.neutralization = state.neutralization


def _create_copy(
    ctx: EnvContext,
    state: EnvState,
    source: EnvContext,
    server: DatabaseServer,
    b: Build,
    pair: ports.PortPair,
    run: _Run,
    outcome: Outcome,
) -> None:
    with run.step("clone database") as capture:
        ctx.store.phase(state, "cloning")
        cloned = dbs.clone_database(server, source.database, ctx.database, terminate=True)
        capture.line(
            f"cloned {source.database} -> {ctx.database} ({cloned.strategy}, "
            f"{cloned.seconds:.2f} s)"
        )
    with run.step("copy filestore") as capture:
        copied = copy_filestore(
            filestore_of(source.filestore_root, source.database),
            filestore_of(ctx.filestore_root, ctx.database),
        )
        capture.line(f"filestore: {copied.method}, {copied.files} files, {copied.bytes} bytes")
    if ctx.config.neutralized:
        ctx.store.phase(state, "neutralizing")
        state.neutralization = _neutralize(
            ctx, server, b, pair, run, source_database=source.database
        )
        outcome.neutralization = state.neutralization
    # The copy carries the source's checksums: only what differs in this build updates.
    _update_copied(ctx, state, server, b, pair, run, outcome, source_database=source.database)


# -- deploy ---------------------------------------------------------------------------------------


def deploy(
    project: Project,
    name: str,
    ref: str,
    *,
    snapshot: bool | None = None,
    health_timeout: float = DEFAULT_HEALTH_TIMEOUT,
    lock_timeout: float | None = None,
    progress: Progress | None = None,
    approved_by: str | None = None,
) -> Outcome:
    """Deploy ``ref`` to environment ``name`` (see the module docstring for the steps).

    ``snapshot`` defaults to on; production always takes one.
    """
    t0 = time.monotonic()
    ctx = EnvContext(project, name)
    with environment_lock(project.state_dir, name, timeout=lock_timeout):
        state = _require_state(ctx)
        recovered = recover(ctx, state, health_timeout=health_timeout, progress=progress)
        if state.build is None:
            raise RefusedError(
                f"Environment '{name}' has no working build (status {state.status}).",
                hint=f"Remove it with `odooplane env destroy {name}` and create it again.",
            )
        server = ctx.server()
        require_database(ctx, server)
        take_snapshot = True if ctx.is_production else (snapshot if snapshot is not None else True)
        _say(progress, f"building {ref}...")
        b = build(project, ref, progress=progress is not None, record=False)
        previous = load_build(project, state.build)
        pair = _ports(ctx, state)
        if not ctx.backend.status(name).running:
            _check_ports(ctx, pair)
        outcome = Outcome(
            environment=name,
            action="deploy",
            status="failed",
            build=b.summary(),
            previous_build=state.build,
            url=ctx.url(pair),
            recovered=recovered,
        )
        ctx.store.begin(
            state, "deploy", current_command(), target_build=b.sha, previous_build=state.build
        )
        with _evidence(project) as store:
            build_id = uuid.UUID(record_build(store, b))
            recorder = store.start_deployment(
                name, git_sha=b.sha, build_id=build_id, approved_by=approved_by
            )
            outcome.deployment_id = str(recorder.id)
            ctx.store.phase(state, "begun", deployment_id=str(recorder.id))
            run = _Run(recorder, progress)
            neutralization_before = dict(state.neutralization) if state.neutralization else None
            try:
                _deploy_steps(
                    ctx,
                    state,
                    server,
                    b,
                    pair,
                    run,
                    outcome,
                    take_snapshot=take_snapshot,
                    health_timeout=health_timeout,
                )
            except BaseException as exc:
                _rollback(
                    ctx,
                    state,
                    server,
                    previous,
                    pair,
                    run,
                    outcome,
                    exc,
                    health_timeout=health_timeout,
                    started=t0,
                    neutralization_before=neutralization_before,
                )
            recorder.finish("succeeded")
        state.previous_build = state.build
        state.build = b.sha
        state.build_info = b.summary()
        state.deployed_at = now_iso()
        state.status = "running"
        state.desired = "running"
        outcome.status = "deployed"
        outcome.steps = run.steps
        outcome.seconds = round(time.monotonic() - t0, 2)
        state.add_history(_history("deploy", outcome))
        state.operation = None
        ctx.store.save(state)
        _prune_snapshots(ctx, server)
        return outcome


def _deploy_steps(
    ctx: EnvContext,
    state: EnvState,
    server: DatabaseServer,
    b: Build,
    pair: ports.PortPair,
    run: _Run,
    outcome: Outcome,
    *,
    take_snapshot: bool,
    health_timeout: float,
) -> None:
    with run.step("stop"):
        ctx.store.phase(state, "stopping")
        _stop_process(ctx)
        ctx.store.phase(state, "stopped")
    if take_snapshot:
        with run.step("snapshot") as capture:
            name = _snapshot_stamp()
            # Journal first: a crash during the copy leaves a name to clean up.
            ctx.store.phase(state, "snapshot", snapshot=name)
            info = dbs.snapshot_database(
                server,
                ctx.database,
                name=name,
                filestore_root=ctx.filestore_root,
                terminate=True,
            )
            capture.line(f"snapshot {info.snapshot_db}")
            outcome.snapshot = name
            ctx.store.phase(state, "snapshotted")
    write_odoo_conf(ctx, b, pair, server, catcher=_catcher(ctx))
    with run.step("update modules") as capture:
        ctx.store.phase(state, "updating")
        plan = _plan(ctx, server, b)
        outcome.plan = plan.to_dict()
        capture.line(
            f"install: {plan.install or '-'}; update: "
            f"{['all'] if plan.update_all else plan.update or '-'}"
        )
        for module, why in sorted(plan.reasons.items()):
            capture.line(f"  {module}: {why}")
        if plan.empty:
            capture.skip("nothing to install or update")
        else:
            _apply_plan(ctx, state, server, b, plan, capture, run.recorder)
        _store_checksums(ctx, server, b)
    # Module data loaded by an update may switch crons or mail servers back on; a copy
    # whose last verification failed gets another chance to verify.
    if (
        ctx.config.neutralized
        and ctx.copy_source
        and (not plan.empty or not state.neutralization_ok)
    ):
        ctx.store.phase(state, "neutralizing")
        state.neutralization = _neutralize(ctx, server, b, pair, run, source_database=None)
        outcome.neutralization = state.neutralization
    ctx.store.phase(state, "starting")
    health = _launch(ctx, state, b, pair, server, run, health_timeout=health_timeout)
    outcome.health = health.to_dict()


def _rollback(
    ctx: EnvContext,
    state: EnvState,
    server: DatabaseServer,
    previous: Build | None,
    pair: ports.PortPair,
    run: _Run,
    outcome: Outcome,
    exc: BaseException,
    *,
    health_timeout: float,
    started: float,
    neutralization_before: dict[str, Any] | None,
) -> NoReturn:
    """Undo a failed deployment, record it, and raise DeploymentFailed (or re-raise)."""
    if isinstance(exc, KeyboardInterrupt):
        # Ctrl-C: the journal stays; the next command recovers, as after a crash.
        raise exc
    reason = exc.message if isinstance(exc, OdooplaneError) else f"{type(exc).__name__}: {exc}"
    excerpt = getattr(exc, "excerpt", None)
    if isinstance(exc, _NeutralizationRefused):
        state.neutralization = exc.record
    op = state.operation
    snapshot = op.snapshot if op is not None and op.phase != "snapshot" else None
    ctx.store.phase(state, "rolling_back")
    actions: list[str] = []
    restored_ok = True
    try:
        with run.step("rollback") as capture:
            _stop_process(ctx)
            actions.append("stopped the failed build")
            if snapshot:
                dbs.restore_snapshot(
                    server,
                    ctx.database,
                    snapshot,
                    filestore_root=ctx.filestore_root,
                    terminate=True,
                )
                actions.append(f"restored snapshot {snapshot}")
            elif op is not None and op.phase in ("updating", "starting"):
                actions.append("no snapshot: the database keeps what the update did")
            if snapshot:
                # The database is again what it was: so is its neutralization record.
                state.neutralization = neutralization_before
            if previous is not None:
                health = _launch(
                    ctx, state, previous, pair, server, None, health_timeout=health_timeout
                )
                actions.append(
                    f"started the previous build {previous.short} "
                    f"(healthy in {health.seconds:.1f} s)"
                )
                outcome.health = health.to_dict()
            for action in actions:
                capture.line(action)
    except OdooplaneError as second:
        restored_ok = False
        actions.append(f"rollback failed: {second.message}")
    state.status = "running" if restored_ok and previous is not None else "failed"
    state.desired = "running" if state.status == "running" else "stopped"
    outcome.status = "rolled_back" if restored_ok else "failed"
    outcome.error = reason
    outcome.log_excerpt = excerpt
    outcome.steps = run.steps
    outcome.seconds = round(time.monotonic() - started, 2)
    run.recorder.finish(
        "rolled_back" if restored_ok else "failed",
        error=reason,
        rollback={
            "snapshot": snapshot,
            "restored_sha": previous.sha if previous else None,
            "actions": actions,
        },
    )
    state.add_history({**_history("deploy", outcome), "rollback": actions})
    state.operation = None
    ctx.store.save(state)
    what = "rolled back to " + previous.short if restored_ok and previous else "NOT rolled back"
    message = (
        f"Deploying {(outcome.build or {}).get('sha', '')[:12]} to '{ctx.name}' failed "
        f"({reason}); {what}."
    )
    hint = f"Log excerpt:\n{excerpt}" if excerpt else None
    if not restored_ok:
        hint = "; ".join(actions) + (f"\n{hint}" if hint else "")
    raise DeploymentFailed(message, result=outcome.to_dict(), hint=hint) from None


def _prune_snapshots(ctx: EnvContext, server: DatabaseServer) -> None:
    """Keep the newest KEEP_SNAPSHOTS pre-deploy snapshots of the environment."""
    mine = [
        s for s in dbs.list_snapshots(server, ctx.database) if s.name.startswith(SNAPSHOT_PREFIX)
    ]
    for old in mine[:-KEEP_SNAPSHOTS]:
        with contextlib.suppress(OdooplaneError):
            dbs.drop_database(
                server,
                old.snapshot_db,
                filestore_root=ctx.filestore_root,
                terminate=True,
                missing_ok=True,
            )


# -- start, stop, restart -------------------------------------------------------------------------


def start(
    project: Project,
    name: str,
    *,
    health_timeout: float = DEFAULT_HEALTH_TIMEOUT,
    lock_timeout: float | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    ctx = EnvContext(project, name)
    with environment_lock(project.state_dir, name, timeout=lock_timeout):
        state = _require_state(ctx)
        recover(ctx, state, health_timeout=health_timeout, progress=progress)
        return _start_locked(ctx, state, health_timeout=health_timeout, progress=progress)


def _start_locked(
    ctx: EnvContext, state: EnvState, *, health_timeout: float, progress: Progress | None
) -> dict[str, Any]:
    if state.build is None:
        raise RefusedError(
            f"Environment '{ctx.name}' has no build to start.",
            hint=f"Deploy one: `odooplane env deploy {ctx.name} REF`.",
        )
    b = require_build(ctx.project, state.build)
    server = ctx.server()
    require_database(ctx, server)
    pair = _ports(ctx, state)
    live = ctx.backend.status(ctx.name)
    if live.running:
        result = check_once(ctx.local_url(pair))
        if result.ok:
            state.status, state.desired = "running", "running"
            ctx.store.save(state)
            return {
                "environment": ctx.name,
                "status": "running",
                "already": True,
                "url": ctx.url(pair),
                "pid": live.pid,
            }
        _stop_process(ctx)
    _check_ports(ctx, pair)
    _say(progress, f"starting {ctx.name} ({b.short})...")
    ctx.store.begin(state, "start", current_command(), target_build=b.sha)
    try:
        health = _launch(ctx, state, b, pair, server, None, health_timeout=health_timeout)
    except _StepFailed as exc:
        _stop_process(ctx)
        state.status, state.desired = "failed", "stopped"
        ctx.store.end(state)
        raise CheckFailedError(
            f"Environment '{ctx.name}' did not start: {exc.message}",
            hint=f"Log excerpt:\n{exc.excerpt}",
        ) from None
    except _NeutralizationRefused:
        state.status, state.desired = "refused", "stopped"
        ctx.store.end(state)
        raise
    except BaseException:
        state.status, state.desired = "stopped", "stopped"
        ctx.store.end(state)
        raise
    state.status, state.desired = "running", "running"
    ctx.store.end(state)
    return {
        "environment": ctx.name,
        "status": "running",
        "already": False,
        "url": ctx.url(pair),
        "pid": ctx.backend.status(ctx.name).pid,
        "health": health.to_dict(),
    }


def stop(project: Project, name: str, *, lock_timeout: float | None = None) -> dict[str, Any]:
    ctx = EnvContext(project, name)
    with environment_lock(project.state_dir, name, timeout=lock_timeout):
        state = _require_state(ctx)
        if interrupted_operation(state) is not None:
            recover(ctx, state, health_timeout=DEFAULT_HEALTH_TIMEOUT, progress=None)
        _stop_process(ctx)
        state.status, state.desired = "stopped", "stopped"
        ctx.store.save(state)
        return {"environment": name, "status": "stopped"}


def restart(
    project: Project,
    name: str,
    *,
    health_timeout: float = DEFAULT_HEALTH_TIMEOUT,
    lock_timeout: float | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    ctx = EnvContext(project, name)
    with environment_lock(project.state_dir, name, timeout=lock_timeout):
        state = _require_state(ctx)
        recover(ctx, state, health_timeout=health_timeout, progress=progress)
        _stop_process(ctx)
        return _start_locked(ctx, state, health_timeout=health_timeout, progress=progress)


# -- destroy ---------------------------------------------------------------------------------------


def destroy(
    project: Project,
    name: str,
    *,
    force: bool = False,
    lock_timeout: float | None = None,
) -> dict[str, Any]:
    """Remove the environment's process, database (and snapshots), filestore and state.

    An environment no longer in odooplane.yaml but left in the state folder (``list``
    shows it as orphaned) can be destroyed too.
    """
    from odooplane.backends.supervisor import SupervisorBackend
    from odooplane.environments.state import StateStore
    from odooplane.postgres.project_server import server_for

    store = StateStore(project.state_dir)
    backend = SupervisorBackend(project.state_dir)
    filestore_root = project.odoo_data_dir / "filestore"
    if name in project.config.environments:
        ctx = EnvContext(project, name)
        is_production, default_db = ctx.is_production, ctx.database
    else:
        orphan = store.load(name)
        if orphan is None:
            project.environment(name)  # raises the "no environment named" sentence
            raise NotFoundError(f"No environment named '{name}'.")
        is_production, default_db = orphan.kind == "production", orphan.database
    if is_production and not force:
        raise RefusedError(
            f"'{name}' is a production environment; destroying it drops its database.",
            hint="Export it first (`odooplane db export`), then pass --force if you mean it.",
        )
    with environment_lock(project.state_dir, name, timeout=lock_timeout):
        state = store.load(name)
        database = state.database if state else default_db
        removed: list[str] = []
        if backend.defined(name):
            backend.remove(name)
            removed.append("process")
        server = server_for(project)
        for snap in dbs.list_snapshots(server, database):
            dbs.drop_database(
                server,
                snap.snapshot_db,
                filestore_root=filestore_root,
                terminate=True,
                missing_ok=True,
            )
            removed.append(f"snapshot {snap.name}")
        if dbs.drop_database(
            server,
            database,
            filestore_root=filestore_root,
            protected=is_production,
            force=force,
            terminate=True,
            missing_ok=True,
        ):
            removed.append(f"database {database}")
        leftover = filestore_of(filestore_root, database)
        if leftover is not None and leftover.exists():
            import shutil

            shutil.rmtree(leftover)
        removed.append("filestore")
        ports.release(project.root, name)
        if state is not None or store.env_dir(name).exists():
            store.delete(name)
            removed.append("state")
        if not backend.programs():
            # Nothing left to supervise or to catch mail for: stop the project's daemons.
            from odooplane.mailcatcher import stop_catcher

            backend.shutdown()
            stop_catcher(project.state_dir)
        if state is not None and state.build:
            with (
                _evidence(project) as evidence,
                evidence.start_deployment(name, git_sha=state.build, kind="destroy") as recorder,
            ):
                recorder.note(f"environment '{name}' destroyed", removed=removed)
        return {"environment": name, "status": "destroyed", "removed": removed}


# -- reading ---------------------------------------------------------------------------------------


def status(project: Project, name: str, *, check_health: bool = True) -> dict[str, Any]:
    """The truth about one environment: recorded state, live process, health."""
    ctx = EnvContext(project, name)
    state = ctx.store.load(name)
    base: dict[str, Any] = {
        "environment": name,
        "kind": ctx.kind.value,
        "database": ctx.database,
        "url": ctx.config.url,
    }
    if state is None:
        return {**base, "status": "absent", "created": False}
    live = ctx.backend.status(name)
    op = state.operation
    interrupted = interrupted_operation(state)
    if interrupted is not None:
        effective = "interrupted"
    elif op is not None:
        effective = f"{op.op}-in-progress"
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
    if check_health and live.running and pair is not None:
        health = check_once(ctx.local_url(pair), timeout=5).to_dict()
    holder = lock_holder(project.state_dir, name)
    return {
        **base,
        "created": True,
        "status": effective,
        "recorded_status": state.status,
        "desired": state.desired,
        "url": ctx.url(pair),
        "http_port": state.http_port,
        "gevent_port": state.gevent_port,
        "workers": ctx.config.workers,
        "build": state.build_info,
        "previous_build": state.previous_build,
        "deployed_at": state.deployed_at,
        "created_at": state.created_at,
        "neutralization": state.neutralization,
        "process": live.to_dict(),
        "health": health,
        "operation": op.to_dict() if op else None,
        "interrupted": interrupted is not None,
        "lock_holder": holder,
        "last_deployment": state.last_deployment,
        "log": str(ctx.log_path),
        "conf": str(ctx.conf_path),
    }


def list_environments(project: Project) -> list[dict[str, Any]]:
    """Every configured environment, plus any left in the state folder without config."""
    from odooplane.environments.state import StateStore

    rows: list[dict[str, Any]] = []
    for name in project.config.environments:
        info = status(project, name, check_health=False)
        rows.append(
            {
                "environment": name,
                "kind": info["kind"],
                "status": info["status"],
                "database": info["database"],
                "url": info.get("url"),
                "build": (info.get("build") or {}).get("sha"),
                "branch": (info.get("build") or {}).get("branch"),
                "deployed_at": info.get("deployed_at"),
            }
        )
    for orphan in StateStore(project.state_dir).names():
        if orphan not in project.config.environments:
            rows.append(
                {
                    "environment": orphan,
                    "kind": "?",
                    "status": "orphaned",
                    "database": None,
                    "url": None,
                    "build": None,
                    "branch": None,
                    "deployed_at": None,
                }
            )
    return rows


def log_file(project: Project, name: str) -> Path:
    ctx = EnvContext(project, name)
    return ctx.log_path


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
    state = _require_state(ctx)
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
    return Command(argv=argv, env=process_env(ctx, b), cwd=ctx.dir)


def psql_command(project: Project, name: str) -> Command:
    ctx = EnvContext(project, name)
    server = ctx.server()
    require_database(ctx, server)
    return Command(
        argv=[str(server.tool("psql")), "-X"], env=server.tool_env(ctx.database), cwd=project.root
    )


def cron_run(
    project: Project,
    name: str,
    cron: str,
    *,
    timeout: float = 1800.0,
    lock_timeout: float | None = None,
) -> dict[str, Any]:
    """Run scheduled action ``cron`` (XML id or name) of environment ``name`` now."""
    from odooplane.environments import cron as cron_mod

    if not cron.strip():
        raise ConfigError("Name the scheduled action: an XML id (module.name) or its name.")
    ctx = EnvContext(project, name)
    with environment_lock(project.state_dir, name, timeout=lock_timeout):
        state = _require_state(ctx)
        if state.build is None:
            raise RefusedError(f"Environment '{name}' has no build yet.")
        b = require_build(project, state.build)
        server = ctx.server()
        require_database(ctx, server)
        if not ctx.conf_path.is_file():
            pair = _ports(ctx, state)
            write_odoo_conf(ctx, b, pair, server, catcher=_catcher(ctx))
        argv = for_series(b.odoo_series).shell_argv(
            runtime_of(b), source_of(b), ctx.conf_path, database=ctx.database
        )
        result = _run_odoo(
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
    data = {"environment": name, **parsed.to_dict()}
    if parsed.status == "error":
        raise CheckFailedError(
            f"Scheduled action '{(parsed.cron or {}).get('name', cron)}' failed: {parsed.error}",
            hint=parsed.traceback,
        )
    return data


def for_branch(project: Project, branch: str) -> dict[str, Any]:
    from odooplane.environments.branches import environment_for_branch

    return environment_for_branch(project.config, branch).to_dict()


def environment_diff(project: Project, a: str, b: str) -> dict[str, Any]:
    """``env diff``: see :mod:`odooplane.environments.diff`."""
    from odooplane.environments import diff

    facts = []
    for name in (a, b):
        ctx = EnvContext(project, name)
        state = _require_state(ctx)
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
    return diff.diff_facts(facts[0], facts[1]).to_dict()
