"""``odooplane rollback ENV``: back to the previous successful deployment, or a named one.

The code goes back to that deployment's build. The database goes back by *renaming*
the pre-deploy snapshot of the first deployment being undone into place (instant,
whatever its size); the database it replaces is kept as the snapshot
``rolledback-<time>``, never dropped. Before that, the rollback says what will be lost:
the moment the data returns to, and the rows written since the undone deployment began
serving (by ``write_date``); it refuses without ``force`` when anything was written.

``code_only`` keeps the data and only changes the build; it refuses when a deployment
being undone ran migrations (old code on a migrated schema is not a state anyone
tested). Every rollback is recorded as a deployment of kind ``rollback`` naming the
deployment it undoes.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from odooplane.errors import NotFoundError, OdooplaneError, RefusedError
from odooplane.project import Project
from odooplane.promotion.loss import WrittenSince, written_since

if TYPE_CHECKING:
    from odooplane.environments.context import EnvContext
    from odooplane.evidence.api import DeploymentSummary, EvidenceStore

SERVING_KINDS = ("create", "deploy", "rollback")
KEPT_PREFIX = "rolledback-"


@dataclass
class RollbackPlan:
    environment: str
    current_sha: str
    current_deployment: str
    target_sha: str
    target_deployment: str
    undone: list[str]
    code_only: bool
    migrations: dict[str, list[str]] = field(default_factory=dict)
    snapshot: str | None = None
    snapshot_taken_at: str | None = None
    loss: WrittenSince | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["loss"] = self.loss.to_dict() if self.loss else None
        return data


@dataclass
class RollbackResult:
    plan: RollbackPlan
    deployment_id: str
    kept_snapshot: str | None
    seconds: float
    health: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan.to_dict(),
            "deployment_id": self.deployment_id,
            "kept_snapshot": self.kept_snapshot,
            "seconds": round(self.seconds, 2),
            "health": self.health,
        }


def _serving(store: EvidenceStore, environment: str) -> list[DeploymentSummary]:
    """Successful deployments that left a build serving, newest first (none from before
    the environment was last destroyed: that database is gone)."""
    found = []
    for d in store.history(environment, limit=500):
        if d.kind == "destroy":
            break
        if d.outcome == "succeeded" and d.kind in SERVING_KINDS:
            found.append(d)
    return found


def _pre_deploy_snapshot(ctx: EnvContext, deployment: DeploymentSummary) -> tuple[str, str] | None:
    """The snapshot a deployment took before changing the database: the ``pre-``
    snapshot made while it ran."""
    from odooplane.environments.snapshots import PRE_DEPLOY
    from odooplane.postgres import databases as dbs

    start = deployment.started_at - timedelta(seconds=1)
    end = deployment.finished_at or datetime.now(timezone.utc)
    found = []
    for snap in dbs.list_snapshots(ctx.server(), ctx.database):
        if not snap.name.startswith(PRE_DEPLOY) or not snap.created_at:
            continue
        taken = datetime.fromisoformat(snap.created_at)
        if taken.tzinfo is None:
            taken = taken.replace(tzinfo=timezone.utc)
        if start <= taken <= end:
            found.append((snap.name, snap.created_at))
    return found[-1] if found else None


def plan_rollback(
    project: Project, environment: str, *, to: str | None = None, code_only: bool = False
) -> RollbackPlan:
    """What a rollback of ``environment`` would do, and what it would discard."""
    from odooplane.environments.context import EnvContext
    from odooplane.environments.steps import open_evidence, require_state

    ctx = EnvContext(project, environment)
    state = require_state(ctx)
    with open_evidence(project) as store:
        serving = _serving(store, environment)
        current = next((d for d in serving if d.git_sha == state.build), None)
        if current is None:
            raise NotFoundError(
                f"No successful deployment of '{environment}' is recorded for the build it "
                f"runs ({(state.build or 'none')[:12]}): odooplane cannot tell what to undo.",
                hint=f"`odooplane history {environment}` lists what was recorded.",
            )
        if to is not None:
            target = store.resolve(to)
            if target.environment != environment or target.outcome != "succeeded":
                raise RefusedError(
                    f"Deployment {target.short_id} is a {target.outcome} deployment of "
                    f"'{target.environment}': roll '{environment}' back to one of its own "
                    "successful deployments.",
                    hint=f"`odooplane history {environment}` lists them.",
                )
        else:
            older = [
                d
                for d in serving
                if d.started_at < current.started_at and d.git_sha != current.git_sha
            ]
            if not older:
                raise RefusedError(
                    f"'{environment}' has no earlier successful deployment to go back to.",
                )
            target = older[0]
        if target.git_sha == state.build:
            raise RefusedError(
                f"'{environment}' already runs {target.git_sha[:12]} (deployment "
                f"{target.short_id}); there is nothing to roll back.",
            )
        undone = sorted(
            (d for d in serving if target.started_at < d.started_at <= current.started_at),
            key=lambda d: d.started_at,
        )
        migrations = {
            d.short_id: [
                f"{m.module} {m.from_version or 'new'} -> {m.to_version}"
                for m in store.deployment(d.id).migrations
            ]
            for d in undone
        }
    plan = RollbackPlan(
        environment=environment,
        current_sha=current.git_sha,
        current_deployment=str(current.id),
        target_sha=target.git_sha,
        target_deployment=str(target.id),
        undone=[str(d.id) for d in undone],
        code_only=code_only,
        migrations={k: v for k, v in migrations.items() if v},
    )
    if code_only:
        return plan
    first = undone[0] if undone else current
    found = _pre_deploy_snapshot(ctx, first)
    if found is not None:
        plan.snapshot, plan.snapshot_taken_at = found
    since = first.finished_at or first.started_at
    with ctx.server().connect(ctx.database) as conn:
        plan.loss = written_since(conn, since)
    return plan


def _refusals(plan: RollbackPlan, force: bool) -> None:
    if plan.code_only:
        if plan.migrations:
            ran = "; ".join(f"{d}: {', '.join(m)}" for d, m in plan.migrations.items())
            raise RefusedError(
                f"A code-only rollback of '{plan.environment}' would run the old code on a "
                f"database its deployments migrated ({ran}).",
                hint="Roll back the data too (without --code-only).",
            )
        return
    if plan.snapshot is None:
        raise RefusedError(
            f"No pre-deploy snapshot of '{plan.environment}' is kept for the deployment being "
            "undone, so its data cannot be put back.",
            hint="Use --code-only (if it ran no migration) or restore a backup "
            "(`odooplane backup list`).",
        )
    assert plan.loss is not None
    if plan.loss.total and not force:
        raise RefusedError(
            f"Rolling '{plan.environment}' back returns its data to {plan.snapshot_taken_at}: "
            f"{plan.loss.describe()} would be set aside.",
            hint="The current database is kept as a snapshot either way; pass --force to "
            "roll back, or --code-only to keep the data.",
        )


def rollback(
    project: Project,
    environment: str,
    *,
    to: str | None = None,
    code_only: bool = False,
    force: bool = False,
    reason: str | None = None,
    health_timeout: float | None = None,
    lock_timeout: float | None = None,
    progress: Any = None,
) -> RollbackResult:
    """Roll ``environment`` back (see the module docstring); returns what was done."""
    from odooplane.environments import front, slots
    from odooplane.environments.builds import build, record_build
    from odooplane.environments.context import EnvContext
    from odooplane.environments.launch import launch, serve, stop_process
    from odooplane.environments.locks import current_command, environment_lock
    from odooplane.environments.state import now_iso
    from odooplane.environments.steps import (
        DEFAULT_HEALTH_TIMEOUT,
        RecordedRun,
        allocate_ports,
        open_evidence,
        require_state,
        say,
    )
    from odooplane.postgres import databases as dbs

    started = time.monotonic()
    ctx = EnvContext(project, environment)
    with environment_lock(project.state_dir, environment, timeout=lock_timeout):
        plan = plan_rollback(project, environment, to=to, code_only=code_only)
        _refusals(plan, force)
        state = require_state(ctx)
        server = ctx.server()
        say(progress, f"building {plan.target_sha[:12]}...")
        b = build(project, plan.target_sha, record=False)
        image = ctx.backend.prepare_build(b.sha, progress)
        kept: str | None = None
        with open_evidence(project) as store:
            build_id = uuid.UUID(record_build(store, b, image=image))
            recorder = store.start_deployment(
                environment,
                git_sha=b.sha,
                build_id=build_id,
                kind="rollback",
                rollback_of=uuid.UUID(plan.current_deployment),
            )
            recorder.note(
                reason or "rollback requested",
                plan=plan.to_dict(),
                lost=plan.loss.describe() if plan.loss else "nothing (code only)",
            )
            run = RecordedRun(recorder, progress)
            ctx.store.begin(
                state,
                "rollback",
                current_command(),
                target_build=b.sha,
                previous_build=state.build,
            )
            ctx.store.phase(state, "begun", deployment_id=str(recorder.id))
            try:
                allocate_ports(ctx, state)
                new = slots.slot(ctx, state, slots.other(state.slot))
                old = state.slot
                if not code_only:
                    # The data changes: users get the maintenance page, not errors.
                    if front.serving(ctx) is not None:
                        with run.step("maintenance page"):
                            front.maintenance(ctx, f"Rolling back to {b.short}.")
                    with run.step("stop"):
                        stop_process(ctx)
                    assert plan.snapshot is not None
                    ctx.store.phase(state, "swapping", snapshot=plan.snapshot)
                    with run.step("swap database") as capture:
                        kept = KEPT_PREFIX + datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
                        dbs.swap_in_snapshot(
                            server,
                            ctx.database,
                            plan.snapshot,
                            keep_as=kept,
                            filestore_root=ctx.filestore_root,
                            terminate=True,
                            # `odooplane rollback` is the operator's say-so, production's
                            # database included (the replaced one is kept).
                            force=True,
                        )
                        capture.line(
                            f"{plan.snapshot} is now {ctx.database}; the database it replaced "
                            f"is kept as snapshot {kept}"
                        )
                # From here the database matches the target build: so must the state.
                state.previous_build = state.build
                state.build = b.sha
                state.build_info = b.summary()
                ctx.store.phase(state, "starting", slot=new.name, previous_slot=old)
                # Code only: the old build serves until the target build answers, then
                # the front door switches (no request fails).
                health = launch(
                    ctx,
                    state,
                    b,
                    new,
                    server,
                    run,
                    health_timeout=health_timeout or DEFAULT_HEALTH_TIMEOUT,
                )
                with run.step("switch"):
                    if front.serving(ctx) is None:
                        serve(ctx, state, new, b)
                    else:
                        front.switch(ctx, new, b)
                        state.slot = new.name
                    ctx.store.phase(state, "switched")
                if old and old != new.name:
                    stop_process(ctx, slots.program_name(ctx.name, old))
            except OdooplaneError as exc:
                state.status = "failed"
                state.desired = "stopped"
                state.operation = None
                state.add_history(
                    {
                        "action": "rollback",
                        "status": "failed",
                        "at": now_iso(),
                        "error": exc.message,
                        "kept_snapshot": kept,
                        "deployment_id": str(recorder.id),
                    }
                )
                ctx.store.save(state)
                recorder.finish("failed", error=exc.message, data={"kept_snapshot": kept})
                raise
            recorder.finish(
                "succeeded",
                data={"kept_snapshot": kept, "snapshot": plan.snapshot, "plan": plan.to_dict()},
            )
        state.deployed_at = now_iso()
        state.status = "running"
        state.desired = "running"
        state.operation = None
        state.add_history(
            {
                "action": "rollback",
                "status": "rolled_back",
                "build": b.sha,
                "at": now_iso(),
                "deployment_id": str(recorder.id),
                "kept_snapshot": kept,
                "seconds": round(time.monotonic() - started, 2),
            }
        )
        ctx.store.save(state)
    return RollbackResult(
        plan=plan,
        deployment_id=str(recorder.id),
        kept_snapshot=kept,
        seconds=time.monotonic() - started,
        health=health.to_dict(),
    )
