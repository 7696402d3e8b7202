"""``env deploy`` and its rollback.

Deploy, in order: build; stop; snapshot (the database must be idle for a
``CREATE DATABASE ... TEMPLATE`` copy, so the snapshot follows the stop); install new
modules and update changed ones (checksums, version bumps); re-neutralize a
neutralized copy; start; health check. Any failure restores the snapshot, starts the
previous build and raises :class:`DeploymentFailed` with the log lines that explain it.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from datetime import datetime, timezone
from typing import Any, NoReturn

from odooplane.environments import ports
from odooplane.environments.builds import Build, build, load_build, record_build
from odooplane.environments.context import EnvContext, write_odoo_conf
from odooplane.environments.launch import launch, stop_process
from odooplane.environments.locks import current_command, environment_lock
from odooplane.environments.neutralize_step import neutralize_step
from odooplane.environments.odoo_run import apply_plan, store_checksums, update_plan
from odooplane.environments.recovery import recover
from odooplane.environments.state import EnvState, now_iso
from odooplane.environments.steps import (
    DEFAULT_HEALTH_TIMEOUT,
    DeploymentFailed,
    NeutralizationRefused,
    Outcome,
    Progress,
    RecordedRun,
    allocate_ports,
    check_ports_free,
    history_entry,
    mail_catcher,
    open_evidence,
    require_database,
    require_state,
    say,
)
from odooplane.errors import OdooplaneError, RefusedError
from odooplane.postgres import databases as dbs
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project

KEEP_SNAPSHOTS = 3


SNAPSHOT_PREFIX = "pre-"


def _snapshot_stamp() -> str:
    return SNAPSHOT_PREFIX + datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")


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
        state = require_state(ctx)
        recovered = recover(ctx, state, health_timeout=health_timeout, progress=progress)
        if state.build is None:
            raise RefusedError(
                f"Environment '{name}' has no working build (status {state.status}).",
                hint=f"Remove it with `odooplane env destroy {name}` and create it again.",
            )
        server = ctx.server()
        require_database(ctx, server)
        take_snapshot = True if ctx.is_production else (snapshot if snapshot is not None else True)
        say(progress, f"building {ref}...")
        b = build(project, ref, progress=progress is not None, record=False)
        previous = load_build(project, state.build)
        pair = allocate_ports(ctx, state)
        if not ctx.backend.status(name).running:
            check_ports_free(ctx, pair)
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
        with open_evidence(project) as store:
            build_id = uuid.UUID(record_build(store, b))
            recorder = store.start_deployment(
                name, git_sha=b.sha, build_id=build_id, approved_by=approved_by
            )
            outcome.deployment_id = str(recorder.id)
            ctx.store.phase(state, "begun", deployment_id=str(recorder.id))
            run = RecordedRun(recorder, progress)
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
        state.add_history(history_entry("deploy", outcome))
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
    run: RecordedRun,
    outcome: Outcome,
    *,
    take_snapshot: bool,
    health_timeout: float,
) -> None:
    with run.step("stop"):
        ctx.store.phase(state, "stopping")
        stop_process(ctx)
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
    write_odoo_conf(ctx, b, pair, server, catcher=mail_catcher(ctx))
    with run.step("update modules") as capture:
        ctx.store.phase(state, "updating")
        plan = update_plan(ctx, server, b)
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
            apply_plan(ctx, state, server, b, plan, capture, run.recorder)
        store_checksums(ctx, server, b)
    # Module data loaded by an update may switch crons or mail servers back on; a copy
    # whose last verification failed gets another chance to verify.
    if (
        ctx.config.neutralized
        and ctx.copy_source
        and (not plan.empty or not state.neutralization_ok)
    ):
        ctx.store.phase(state, "neutralizing")
        state.neutralization = neutralize_step(ctx, server, b, pair, run, source_database=None)
        outcome.neutralization = state.neutralization
    ctx.store.phase(state, "starting")
    health = launch(ctx, state, b, pair, server, run, health_timeout=health_timeout)
    outcome.health = health.to_dict()


def _rollback(
    ctx: EnvContext,
    state: EnvState,
    server: DatabaseServer,
    previous: Build | None,
    pair: ports.PortPair,
    run: RecordedRun,
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
    if isinstance(exc, NeutralizationRefused):
        state.neutralization = exc.record
    op = state.operation
    snapshot = op.snapshot if op is not None and op.phase != "snapshot" else None
    ctx.store.phase(state, "rolling_back")
    actions: list[str] = []
    restored_ok = True
    try:
        with run.step("rollback") as capture:
            stop_process(ctx)
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
                health = launch(
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
    state.add_history({**history_entry("deploy", outcome), "rollback": actions})
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
