"""Recovery after a crash: find out what really serves, then finish or undo.

A command that dies mid-way leaves its operation journal in the state. The next command
on the environment (or the keeper, :mod:`~odooplane.environments.keeper`, within seconds)
recovers under the environment's lock, and first looks at the truth rather than the
journal alone: which upstream the front door sends requests to, whether the new build's
process runs and answers its health check. Then:

- **roll forward** when the new build already serves (the switch happened), or was
  started and answers its health check now: the front door serves it, the old build
  stops, and the deployment is finished as ``succeeded`` (no data written since is lost);
- **roll back** otherwise: the new build stops; if the database was touched (modules
  were being updated) the pre-deploy snapshot is put back and the database it replaces
  is kept as a snapshot (``failed-<stamp>``), never dropped; the previous build serves
  again. The deployment is closed as ``interrupted``.

Either way a ``recover`` record in the evidence store names the deployment it recovered,
what it decided, and the build serving afterwards.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field

import psutil  # type: ignore[import-untyped, unused-ignore]

from odooplane.environments import front, slots, snapshots
from odooplane.environments.builds import Build, load_build
from odooplane.environments.context import EnvContext, write_odoo_conf
from odooplane.environments.health import HealthResult, check_once
from odooplane.environments.launch import launch, public_pair, serve, stop_process
from odooplane.environments.slots import Slot
from odooplane.environments.state import (
    EnvState,
    Operation,
    interrupted_operation,
    now_iso,
    process_alive,
)
from odooplane.environments.steps import (
    allocate_ports,
    mail_catcher,
    open_evidence,
    say,
)
from odooplane.errors import OdooplaneError
from odooplane.postgres.server import DatabaseServer
from odooplane.progress import Progress
from odooplane.results import Result

SWITCH = "switch"
MAINTENANCE = "maintenance"
# Phases in which the database may differ from the pre-deploy snapshot.
DATABASE_TOUCHED = ("updating", "neutralizing", "starting", "health_check", "healthy", "switching")
# Phases in which the new build was started and being checked: healthy now, it rolls
# forward (the checks it would have passed are the ones recovery runs).
CHECKING = ("health_check", "healthy", "switching")
# Phases after which the new build serves users.
SERVING = ("switched", "committed")
# How long recovery waits for an interrupted deploy's new build to answer.
RECOVERY_HEALTH_TIMEOUT = 60.0

ROLLED_FORWARD = "rolled_forward"
ROLLED_BACK = "rolled_back"


@dataclass(frozen=True)
class Recovery(Result):
    """What recovering from an interrupted command did (kept in the state's history)."""

    action: str
    phase: str
    command: str
    started_at: str
    recovered_at: str
    target_build: str | None
    actions: list[str]
    deployment_id: str | None
    status: str = "interrupted"
    # rolled_forward, rolled_back, restarted or nothing
    decision: str = "nothing"
    # The build serving after the recovery (None: nothing serves).
    serving_build: str | None = None
    step: str | None = None
    recovery_id: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class Undone:
    actions: list[str] = field(default_factory=list)
    health: HealthResult | None = None
    # The snapshot the replaced database is kept as (the pre-deploy one was put back).
    snapshot_kept: str | None = None
    serving_build: str | None = None


def _kill_child(op: Operation) -> bool:
    if op.child_pid and process_alive(op.child_pid, op.child_started):
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(op.child_pid)
            proc.kill()
            proc.wait(10)
        return True
    return False


def undo_to_previous(
    ctx: EnvContext,
    state: EnvState,
    server: DatabaseServer,
    previous: Build | None,
    *,
    new_slot: str | None,
    old_slot: str | None,
    mode: str,
    phase: str,
    snapshot: str | None,
    health_timeout: float,
    start: bool = True,
) -> Undone:
    """Stop the new build, put the database back if it was touched (keeping it as a
    snapshot), and serve ``previous`` again. Shared by a failed deploy and recovery."""
    done = Undone()
    if new_slot is not None:
        ctx.backend.stop(slots.program_name(ctx.name, new_slot))
        done.actions.append(f"stopped the new build ({new_slot} slot)")
    if mode == MAINTENANCE or mode is None:
        if snapshot and phase == "snapshot":
            # The copy may be half made: drop it; the database itself is untouched.
            snapshots.drop(ctx, server, snapshot)
            done.actions.append(f"dropped the unfinished snapshot {snapshot}")
        elif snapshot and phase in DATABASE_TOUCHED:
            op = state.operation
            keep_as = (op.replaced_as if op is not None else None) or snapshots.stamp(
                snapshots.REPLACED
            )
            if op is not None and op.replaced_as is None:
                ctx.store.mark(state, replaced_as=keep_as)
            done.snapshot_kept = snapshots.put_back(ctx, server, snapshot, keep_as=keep_as)
            done.actions.append(
                f"put back snapshot {snapshot}; the database it replaces (touched by the "
                f"interrupted update, never served) is kept as snapshot {done.snapshot_kept}"
            )
        elif phase in DATABASE_TOUCHED:
            done.actions.append("no snapshot to put back: the database keeps the partial update")
    if previous is None or not start:
        return done
    slot = slots.slot(ctx, state, old_slot or slots.other(new_slot))
    live = ctx.backend.status(slot.program)
    if (
        done.snapshot_kept is None
        and live.running
        and ctx.backend.check_health(slot.program, slot.local_url, timeout=5).ok
    ):
        # The old build never stopped serving (a code-only deploy, or an early failure).
        write_odoo_conf(ctx, previous, slot.pair, server, catcher=mail_catcher(ctx))
        serve(ctx, state, slot, previous)
        done.actions.append(f"the previous build {previous.short} kept serving ({slot.name} slot)")
    else:
        health = launch(ctx, state, previous, slot, server, None, health_timeout=health_timeout)
        serve(ctx, state, slot, previous)
        done.health = health
        done.actions.append(
            f"the previous build {previous.short} serves again ({slot.name} slot, healthy "
            f"in {health.seconds:.1f} s)"
        )
    done.serving_build = previous.sha
    return done


def roll_forward(
    ctx: EnvContext,
    state: EnvState,
    server: DatabaseServer,
    target: Build,
    new: Slot,
    *,
    old_slot: str | None,
    health_timeout: float,
) -> list[str]:
    """Make ``target`` in slot ``new`` serve and finish the deploy's state."""
    actions: list[str] = []
    if not ctx.backend.check_health(new.program, new.local_url, timeout=5).ok:
        launch(ctx, state, target, new, server, None, health_timeout=health_timeout)
        actions.append(f"started {target.short} again in the {new.name} slot")
    if front.served_port(ctx) != new.http:
        if front.serving(ctx) is None:
            serve(ctx, state, new, target)
        else:
            front.switch(ctx, new, target)
        actions.append(f"the front door switched to {target.short} ({new.name} slot)")
    else:
        actions.append(f"{target.short} already served users ({new.name} slot)")
    current = front.serving(ctx)
    if current is not None and current.mode.value == "maintenance":
        front.router(ctx).maintenance(ctx.name, False)
    if old_slot and old_slot != new.name:
        ctx.backend.stop(slots.program_name(ctx.name, old_slot))
        actions.append(f"stopped the previous build ({old_slot} slot)")
    write_odoo_conf(ctx, target, new.pair, server, catcher=mail_catcher(ctx))
    if state.build != target.sha:
        state.previous_build = state.build
        state.build = target.sha
        state.build_info = target.summary()
        state.deployed_at = now_iso()
    state.slot = new.name
    state.status = state.desired = "running"
    return actions


def _new_build_answers(ctx: EnvContext, new: Slot, health_timeout: float) -> bool:
    live = ctx.backend.status(new.program)
    if not live.running:
        return False

    def gave_up() -> str | None:
        status = ctx.backend.status(new.program)
        return None if status.running else status.state

    result = ctx.backend.wait_healthy(
        new.program,
        new.local_url,
        timeout=min(health_timeout, RECOVERY_HEALTH_TIMEOUT),
        still_running=gave_up,
    )
    return result.ok


def _recover_deploy(
    ctx: EnvContext,
    state: EnvState,
    server: DatabaseServer,
    op: Operation,
    *,
    health_timeout: float,
    actions: list[str],
) -> tuple[str, str | None]:
    target = load_build(ctx.project, op.target_build) if op.target_build else None
    previous = load_build(ctx.project, op.previous_build) if op.previous_build else None
    allocate_ports(ctx, state)
    new = slots.slot(ctx, state, op.slot) if op.slot else None
    phase = op.phase
    undoing = phase == "rolling_back"
    if undoing:
        # The deploy had failed and was undoing itself: finish the undo, from the phase
        # it failed in (that says whether the database was touched).
        earlier = [p["phase"] for p in op.phases if p.get("phase") != "rolling_back"]
        phase = earlier[-1] if earlier else "begun"
    if new is not None and target is not None and not undoing:
        route = front.serving(ctx)
        new_serves = (
            route is not None
            and route.mode.value == "serve"
            and route.upstream is not None
            and route.upstream.http_port == new.http
        )
        if (
            op.phase in SERVING
            or new_serves
            or (op.phase in CHECKING and _new_build_answers(ctx, new, health_timeout))
        ):
            if new_serves:
                actions.append(f"found the new build {target.short} serving users")
            actions += roll_forward(
                ctx,
                state,
                server,
                target,
                new,
                old_slot=op.previous_slot,
                health_timeout=health_timeout,
            )
            return ROLLED_FORWARD, target.sha
    elif op.mode is None and phase == "starting" and target is not None:
        # A journal from before slots: its one program served the new build already?
        pair = public_pair(state)
        if (
            pair is not None
            and ctx.backend.status(ctx.name).running
            and check_once(ctx.local_url(pair), timeout=5).ok
        ):
            state.previous_build, state.build = state.build, target.sha
            state.build_info = target.summary()
            state.deployed_at = now_iso()
            state.status = state.desired = "running"
            actions.append(f"found the new build {target.short} serving users")
            return ROLLED_FORWARD, target.sha
    if op.mode is None:
        stop_process(ctx)
    undone = undo_to_previous(
        ctx,
        state,
        server,
        previous,
        new_slot=op.slot,
        old_slot=op.previous_slot,
        mode=op.mode or MAINTENANCE,
        phase=phase,
        snapshot=op.snapshot,
        health_timeout=health_timeout,
        start=state.desired == "running",
    )
    actions += undone.actions
    if undone.serving_build:
        state.status = "running"
    else:
        state.status = "stopped" if previous is not None else "failed"
    return ROLLED_BACK, undone.serving_build


def _recover_other(
    ctx: EnvContext,
    state: EnvState,
    server: DatabaseServer,
    op: Operation,
    *,
    health_timeout: float,
    actions: list[str],
) -> tuple[str, str | None]:
    """An interrupted start (or any command but deploy and create): serve the recorded
    build again when the environment should run."""
    if state.desired != "running" and op.op != "start":
        actions.append(f"the interrupted `{op.op}` left nothing to undo")
        return "nothing", None
    b = load_build(ctx.project, state.build) if state.build else None
    if b is None:
        actions.append("no build to start")
        return "nothing", None
    allocate_ports(ctx, state)
    slot = slots.slot(ctx, state, op.slot or state.slot or slots.FIRST)
    if not ctx.backend.check_health(slot.program, slot.local_url, timeout=5).ok:
        launch(ctx, state, b, slot, server, None, health_timeout=health_timeout)
        actions.append(f"started {b.short} ({slot.name} slot)")
    serve(ctx, state, slot, b)
    state.status = state.desired = "running"
    return "restarted", b.sha


def recover(
    ctx: EnvContext, state: EnvState, *, health_timeout: float, progress: Progress | None
) -> Recovery | None:
    """Finish or undo what a command killed mid-way left behind (called under the lock)."""
    op = interrupted_operation(state)
    if op is None:
        return None
    say(progress, f"recovering from an interrupted `{op.command}` (phase {op.phase})...")
    actions: list[str] = []
    if _kill_child(op):
        actions.append(f"killed the orphaned Odoo process {op.child_pid}")
    if op.child_handle and ctx.backend.discard(op.child_handle):
        # A container outlives its killed client: end it before touching its database.
        actions.append(f"ended the orphaned Odoo command {op.child_handle}")
    server = ctx.server()
    decision, serving = "nothing", None
    try:
        if op.op == "deploy":
            decision, serving = _recover_deploy(
                ctx, state, server, op, health_timeout=health_timeout, actions=actions
            )
        elif op.op == "create":
            state.status = "failed"
            actions.append("the creation was interrupted: `env create` starts it over")
        else:
            decision, serving = _recover_other(
                ctx, state, server, op, health_timeout=health_timeout, actions=actions
            )
    except OdooplaneError as exc:
        state.status = "failed"
        actions.append(f"recovery could not finish: {exc.message}")
    record = Recovery(
        action=op.op,
        phase=op.phase,
        command=op.command,
        started_at=op.started_at,
        recovered_at=now_iso(),
        target_build=op.target_build,
        actions=actions,
        deployment_id=op.deployment_id,
        decision=decision,
        serving_build=serving,
        step=op.step,
    )
    record = _record(ctx, op, record)
    state.add_history(record.to_dict())
    state.operation = None
    ctx.store.save(state)
    return record


def _record(ctx: EnvContext, op: Operation, record: Recovery) -> Recovery:
    """The ``recover`` record, and the interrupted deployment closed with its outcome.
    Never fails the recovery: what cannot be written is a warning."""
    sha = record.serving_build or op.target_build or op.previous_build
    if not sha:
        return record
    warnings: list[str] = []
    recovery_id: str | None = None
    try:
        with open_evidence(ctx.project) as store:
            undone = (
                uuid.UUID(op.deployment_id)
                if record.decision == ROLLED_BACK and op.deployment_id
                else None
            )
            recorder = store.start_deployment(
                ctx.name, git_sha=sha, kind="recover", rollback_of=undone
            )
            recovery_id = str(recorder.id)
            recorder.note(
                f"recovered the interrupted `{op.command}` (phase {op.phase}): {record.decision}",
                actions=record.actions,
                interrupted_deployment=op.deployment_id,
                decision=record.decision,
                serving_build=record.serving_build,
            )
            if op.deployment_id:
                store.close_interrupted(
                    op.deployment_id,
                    outcome="succeeded" if record.decision == ROLLED_FORWARD else "interrupted",
                    phase=op.phase,
                    step=op.step,
                    recovered_by=recorder.id,
                    data={"recovery": record.decision, "serving_build": record.serving_build},
                )
            recorder.finish(
                "succeeded" if record.serving_build or record.decision == "nothing" else "failed",
                data={
                    "recovered_deployment": op.deployment_id,
                    "decision": record.decision,
                    "serving_build": record.serving_build,
                    "actions": record.actions,
                },
            )
            warnings += store.warnings
    except Exception as exc:
        reason = exc.message if isinstance(exc, OdooplaneError) else f"{type(exc).__name__}: {exc}"
        warnings.append(f"The recovery could not be recorded in the evidence store: {reason}")
    return Recovery(**{**record.to_dict(), "recovery_id": recovery_id, "warnings": warnings})
