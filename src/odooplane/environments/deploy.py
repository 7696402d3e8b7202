"""``env deploy``: a new build in the other slot, switched in behind the front door.

First the build and its update plan (which modules to install or update). Then one of
two paths:

- **switch** (nothing to install or update): the new build starts in the other slot
  while the old one keeps serving; once healthy, the front door switches to it
  atomically (requests in flight finish on the old build) and the old build stops
  gracefully. No request fails. No snapshot is taken: nothing changes the database
  (no module is installed or updated), and undoing the deploy is switching back.
- **maintenance** (modules change): the front door answers with a maintenance page
  (503 with ``Retry-After``), the old build stops, the snapshot is taken (the database
  must be idle for a ``CREATE DATABASE ... TEMPLATE`` copy), modules are installed and
  updated, a neutralized copy is neutralized again, the new build starts in the other
  slot, and once healthy the front door switches to it.

Before the switch, any failure undoes the deploy: the new build stops; on the
maintenance path the snapshot is put back (keeping the updated database as a snapshot)
and the old build starts again; then :class:`DeploymentFailed`. From the switch on, the
new build serves users and is never rolled back by the deploy: what fails afterwards
(stopping the old build, writing evidence to a full disk) becomes a warning of a
successful deploy. Each phase is journaled before it is entered, so the recovery that
follows a crash knows where the deploy stood (:mod:`~odooplane.environments.recovery`).

The steps are functions of their own (:func:`prepare`, :func:`apply`, :func:`commit`),
for promotion to reuse.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from odooplane.environments import front, slots, snapshots
from odooplane.environments.builds import Build, build, load_build, record_build
from odooplane.environments.checksums import UpdatePlan
from odooplane.environments.context import EnvContext, write_odoo_conf
from odooplane.environments.launch import launch, retire_unslotted, serve
from odooplane.environments.locks import current_command, environment_lock
from odooplane.environments.neutralize_step import neutralize_step
from odooplane.environments.odoo_run import apply_plan, store_checksums, update_plan
from odooplane.environments.ports import PortPair
from odooplane.environments.recovery import (
    MAINTENANCE,
    SERVING,
    SWITCH,
    recover,
    undo_to_previous,
)
from odooplane.environments.slots import Slot
from odooplane.environments.state import EnvState, now_iso
from odooplane.environments.steps import (
    DEFAULT_HEALTH_TIMEOUT,
    DeploymentFailed,
    NeutralizationRefused,
    Outcome,
    RecordedRun,
    allocate_ports,
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
from odooplane.progress import Progress
from odooplane.project import Project

if TYPE_CHECKING:
    from odooplane.containers.images import BuildImage


@dataclass
class Plan:
    """What a deploy will do, decided before anything changes."""

    build: Build
    previous: Build | None
    update: UpdatePlan
    mode: str  # SWITCH or MAINTENANCE
    neutralize: bool
    snapshot: bool
    new: Slot
    old: Slot | None
    public: PortPair
    # The image the build runs from (Docker backend), made before anything changed.
    image: BuildImage | None = None


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

    ``snapshot`` (default on; production always) applies to deploys that change modules.
    """
    t0 = time.monotonic()
    ctx = EnvContext(project, name)
    with environment_lock(project.state_dir, name, timeout=lock_timeout):
        state = require_state(ctx)
        recovered = recover(ctx, state, health_timeout=health_timeout, progress=progress)
        server = ctx.server()
        plan = prepare(ctx, state, server, ref, snapshot=snapshot, progress=progress)
        outcome = Outcome(
            environment=name,
            action="deploy",
            status="failed",
            build=plan.build.summary(),
            previous_build=state.build,
            url=ctx.url(plan.public),
            recovered=recovered,
            plan=plan.update,
        )
        ctx.store.begin(
            state,
            "deploy",
            current_command(),
            target_build=plan.build.sha,
            previous_build=state.build,
            mode=plan.mode,
            slot=plan.new.name,
            previous_slot=plan.old.name if plan.old else None,
        )
        with open_evidence(project) as store:
            build_id = uuid.UUID(record_build(store, plan.build, image=plan.image))
            recorder = store.start_deployment(
                name, git_sha=plan.build.sha, build_id=build_id, approved_by=approved_by
            )
            outcome.deployment_id = str(recorder.id)
            ctx.store.phase(state, "begun", deployment_id=str(recorder.id))
            run = RecordedRun(
                recorder, progress, journal=lambda step: ctx.store.mark(state, step=step)
            )
            neutralization_before = dict(state.neutralization) if state.neutralization else None
            try:
                apply(ctx, state, server, plan, run, outcome, health_timeout=health_timeout)
            except BaseException as exc:
                _undo(
                    ctx,
                    state,
                    server,
                    plan,
                    run,
                    outcome,
                    exc,
                    health_timeout=health_timeout,
                    neutralization_before=neutralization_before,
                )
            commit(ctx, state, server, plan, run, outcome, started=t0)
            outcome.warnings += [w for w in store.warnings if w not in outcome.warnings]
        return outcome


def prepare(
    ctx: EnvContext,
    state: EnvState,
    server: DatabaseServer,
    ref: str,
    *,
    snapshot: bool | None,
    progress: Progress | None,
) -> Plan:
    """Build ``ref`` and decide the path; nothing changes yet."""
    if state.build is None:
        raise RefusedError(
            f"Environment '{ctx.name}' has no working build (status {state.status}).",
            hint=f"Remove it with `odooplane env destroy {ctx.name}` and create it again.",
        )
    require_database(ctx, server)
    say(progress, f"building {ref}...")
    b = build(ctx.project, ref, progress=progress, record=False)
    image = ctx.backend.prepare_build(b.sha, progress)
    update = update_plan(ctx, server, b)
    neutralize = bool(
        ctx.config.neutralized
        and ctx.copy_source
        and (not update.empty or not state.neutralization_ok)
    )
    mode = SWITCH if update.empty and not neutralize else MAINTENANCE
    take = mode == MAINTENANCE and (
        ctx.is_production or (snapshot if snapshot is not None else True)
    )
    public = allocate_ports(ctx, state)
    old = slots.serving(ctx, state)
    new = slots.slot(ctx, state, slots.other(state.slot))
    return Plan(
        build=b,
        previous=load_build(ctx.project, state.build),
        update=update,
        mode=mode,
        neutralize=neutralize,
        snapshot=take,
        new=new,
        old=old,
        public=public,
        image=image,
    )


def apply(
    ctx: EnvContext,
    state: EnvState,
    server: DatabaseServer,
    plan: Plan,
    run: RecordedRun,
    outcome: Outcome,
    *,
    health_timeout: float,
) -> None:
    """Everything up to and including the switch (the point of no return)."""
    b = plan.build
    if plan.mode == MAINTENANCE:
        _maintenance_steps(ctx, state, server, plan, run, outcome)
    ctx.store.phase(state, "starting")
    health = launch(ctx, state, b, plan.new, server, run, health_timeout=health_timeout)
    outcome.health = health
    ctx.store.phase(state, "healthy")
    with run.step("switch") as capture:
        ctx.store.phase(state, "switching")
        if plan.old is None and retire_unslotted(ctx, state):
            capture.line("the environment's address moves to the front door")
        if front.serving(ctx) is None:
            serve(ctx, state, plan.new, b)
        else:
            front.switch(ctx, plan.new, b)
            state.slot = plan.new.name
        ctx.store.phase(state, "switched")
        capture.line(f"{ctx.url(plan.public)} now served by {b.short} ({plan.new.name} slot)")


def _maintenance_steps(
    ctx: EnvContext,
    state: EnvState,
    server: DatabaseServer,
    plan: Plan,
    run: RecordedRun,
    outcome: Outcome,
) -> None:
    b = plan.build
    with run.step("maintenance page") as capture:
        ctx.store.phase(state, "maintenance")
        if plan.old is None:
            # An environment from before slots: its own program holds the address.
            retire_unslotted(ctx, state)
            front.route(ctx, state, plan.new, b)
        front.maintenance(ctx, f"Deploying {b.short}: back in a few minutes.")
        capture.line(f"{ctx.url(plan.public)} answers 503 with Retry-After")
    with run.step("stop"):
        ctx.store.phase(state, "stopping")
        for program in slots.programs(ctx.name):
            ctx.backend.stop(program)
        ctx.store.phase(state, "stopped")
    if plan.snapshot:
        with run.step("snapshot") as capture:
            name = snapshots.stamp(snapshots.PRE_DEPLOY)
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
    write_odoo_conf(ctx, b, plan.new.pair, server, catcher=mail_catcher(ctx))
    with run.step("update modules") as capture:
        ctx.store.phase(state, "updating")
        update = plan.update
        capture.line(
            f"install: {update.install or '-'}; update: "
            f"{['all'] if update.update_all else update.update or '-'}"
        )
        for module, why in sorted(update.reasons.items()):
            capture.line(f"  {module}: {why}")
        if update.empty:
            capture.skip("nothing to install or update")
        else:
            apply_plan(ctx, state, server, b, update, capture, run.recorder)
        store_checksums(ctx, server, b)
    # Module data loaded by an update may switch crons or mail servers back on; a copy
    # whose last verification failed gets another chance to verify.
    if plan.neutralize:
        ctx.store.phase(state, "neutralizing")
        state.neutralization = neutralize_step(
            ctx, server, b, plan.public, run, source_database=None
        )
        outcome.neutralization = state.neutralization


def commit(
    ctx: EnvContext,
    state: EnvState,
    server: DatabaseServer,
    plan: Plan,
    run: RecordedRun,
    outcome: Outcome,
    *,
    started: float,
) -> None:
    """The new build serves: record it. Nothing here undoes the deploy; what fails
    becomes a warning of the outcome."""
    b = plan.build
    state.previous_build = state.build
    state.build = b.sha
    state.build_info = b.summary()
    state.deployed_at = now_iso()
    state.slot = plan.new.name
    state.status = "running"
    state.desired = "running"
    # Durable before anything else: whatever happens next, the state says what serves.
    ctx.store.phase(state, "committed")
    warnings: list[str] = []
    if plan.mode == SWITCH and plan.old is not None and plan.old.name != plan.new.name:
        try:
            with run.step("stop previous build"):
                # SIGTERM: Odoo finishes the requests it is serving, then exits.
                ctx.backend.stop(plan.old.program)
        except Exception as exc:  # the new build serves whatever this says
            warnings.append(f"The previous build's process did not stop cleanly: {_why(exc)}")
    try:
        if plan.mode == SWITCH and plan.previous is not None:
            run.recorder.note(
                "no snapshot: nothing was installed or updated, so the database did not "
                f"change; undoing this deploy is switching back to {plan.previous.short}"
            )
        run.recorder.finish(
            "succeeded",
            data={
                "mode": plan.mode,
                "slot": plan.new.name,
                "snapshot": outcome.snapshot,
                "previous_build": plan.previous.sha if plan.previous else None,
            },
        )
    except Exception as exc:
        warnings.append(f"The outcome could not be recorded in the evidence store: {_why(exc)}")
    outcome.status = "deployed"
    outcome.steps = run.steps
    outcome.seconds = round(time.monotonic() - started, 2)
    outcome.warnings = warnings
    state.add_history(history_entry("deploy", outcome))
    state.operation = None
    ctx.store.save(state)
    try:
        snapshots.prune(ctx, server)
    except Exception as exc:
        warnings.append(f"Old snapshots were not pruned: {_why(exc)}")


def _why(exc: BaseException) -> str:
    return exc.message if isinstance(exc, OdooplaneError) else f"{type(exc).__name__}: {exc}"


def _undo(
    ctx: EnvContext,
    state: EnvState,
    server: DatabaseServer,
    plan: Plan,
    run: RecordedRun,
    outcome: Outcome,
    exc: BaseException,
    *,
    health_timeout: float,
    neutralization_before: dict[str, Any] | None,
) -> NoReturn:
    """Undo a deploy that failed before its switch, record it, raise DeploymentFailed."""
    op = state.operation
    phase = op.phase if op is not None else "begun"
    if isinstance(exc, (KeyboardInterrupt, SystemExit)) or phase in SERVING:
        # Killed (the journal stays: the recovery that follows finishes or undoes it),
        # or already serving the new build: never undone here.
        raise exc
    reason = _why(exc)
    excerpt = getattr(exc, "excerpt", None)
    if isinstance(exc, NeutralizationRefused):
        state.neutralization = exc.record
    ctx.store.phase(state, "rolling_back")
    actions: list[str] = []
    restored_ok = True
    snapshot = op.snapshot if op is not None and phase != "snapshot" else None
    try:
        with run.step("rollback") as capture:
            undone = undo_to_previous(
                ctx,
                state,
                server,
                plan.previous,
                new_slot=plan.new.name,
                old_slot=plan.old.name if plan.old else None,
                mode=plan.mode,
                phase=phase,
                snapshot=snapshot,
                health_timeout=health_timeout,
            )
            actions.extend(undone.actions)
            if undone.snapshot_kept and neutralization_before is not None:
                state.neutralization = neutralization_before
            outcome.health = undone.health
            for action in actions:
                capture.line(action)
    except OdooplaneError as second:
        restored_ok = False
        actions.append(f"rollback failed: {second.message}")
    state.status = "running" if restored_ok and plan.previous is not None else "failed"
    state.desired = "running" if state.status == "running" else "stopped"
    outcome.status = "rolled_back" if restored_ok else "failed"
    outcome.error = reason
    outcome.log_excerpt = excerpt
    outcome.steps = run.steps
    with contextlib.suppress(Exception):
        run.recorder.finish(
            "rolled_back" if restored_ok else "failed",
            error=reason,
            rollback={
                "snapshot": snapshot,
                "restored_sha": plan.previous.sha if plan.previous else None,
                "actions": actions,
            },
        )
    state.add_history({**history_entry("deploy", outcome), "rollback": actions})
    state.operation = None
    ctx.store.save(state)
    previous = plan.previous
    what = "rolled back to " + previous.short if restored_ok and previous else "NOT rolled back"
    message = (
        f"Deploying {(outcome.build or {}).get('sha', '')[:12]} to '{ctx.name}' failed "
        f"({reason}); {what}."
    )
    hint = f"Log excerpt:\n{excerpt}" if excerpt else None
    if not restored_ok:
        hint = "; ".join(actions) + (f"\n{hint}" if hint else "")
    raise DeploymentFailed(message, result=outcome.to_dict(), hint=hint) from None
