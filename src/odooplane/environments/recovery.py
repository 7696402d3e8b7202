"""Recovery after a crash: undo what a command killed mid-way left behind."""

from __future__ import annotations

import contextlib
from typing import Any

import psutil  # type: ignore[import-untyped, unused-ignore]

from odooplane.environments.builds import load_build
from odooplane.environments.context import EnvContext
from odooplane.environments.launch import launch, stop_process
from odooplane.environments.state import (
    EnvState,
    Operation,
    interrupted_operation,
    now_iso,
    process_alive,
)
from odooplane.environments.steps import Progress, allocate_ports, open_evidence, say
from odooplane.errors import OdooplaneError
from odooplane.postgres import databases as dbs


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
    say(progress, f"recovering from an interrupted `{op.command}` (phase {op.phase})...")
    actions: list[str] = []
    if _kill_child(op):
        actions.append(f"killed the orphaned Odoo process {op.child_pid}")
    server = ctx.server()
    if op.op == "deploy":
        stop_process(ctx)
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
            pair = allocate_ports(ctx, state)
            try:
                launch(ctx, state, previous, pair, server, None, health_timeout=health_timeout)
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
            open_evidence(ctx.project) as store,
            store.start_deployment(ctx.name, git_sha=sha, kind="recover") as recorder,
        ):
            recorder.note(
                f"recovered the interrupted `{op.command}` (phase {op.phase})",
                actions=actions,
                interrupted_deployment=op.deployment_id,
            )
    return record
