"""Starting a build in a slot through the backend, waiting until it is healthy, and
serving it through the front door."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from odooplane.config import EnvironmentKind
from odooplane.environments import front, keeper, slots, zygotes
from odooplane.environments.builds import Build
from odooplane.environments.context import EnvContext, program_spec, write_odoo_conf
from odooplane.environments.health import HealthResult
from odooplane.environments.neutralize_step import verify_before_start
from odooplane.environments.ports import PortPair
from odooplane.environments.slots import Slot
from odooplane.environments.state import EnvState
from odooplane.environments.steps import (
    RecordedRun,
    StepFailed,
    check_secrets,
    explain,
    mail_catcher,
)
from odooplane.ports import ensure_port_free
from odooplane.postgres.server import DatabaseServer


def log_since(path: Path, offset: int, max_bytes: int = 256 * 1024) -> str:
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


def log_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def public_pair(state: EnvState) -> PortPair | None:
    """The environment's own address (the front door's port)."""
    if state.http_port and state.gevent_port:
        return PortPair(state.http_port, state.gevent_port)
    return None


def _process_gave_up(ctx: EnvContext, program: str) -> Callable[[], str | None]:
    def check() -> str | None:
        status = ctx.backend.status(program)
        if status.state in ("FATAL", "EXITED", "STOPPED", "NOT_RUNNING", "ABSENT"):
            detail = status.description or status.state
            return f"the Odoo process is {status.state} ({detail})"
        return None

    return check


def retire_unslotted(ctx: EnvContext, state: EnvState) -> bool:
    """Remove the one program of an environment created before slots (it listens on the
    environment's own address, which the front door takes over). True if there was one."""
    if state.slot is None and ctx.backend.defined(ctx.name):
        ctx.backend.remove(ctx.name)
        return True
    return False


def launch(
    ctx: EnvContext,
    state: EnvState,
    b: Build,
    slot: Slot,
    server: DatabaseServer,
    run: RecordedRun | None,
    *,
    health_timeout: float,
) -> HealthResult:
    """Start ``b`` in ``slot`` (its own ports, configuration and log) and wait until it
    answers there. The front door is not touched: see :func:`serve`.

    Raises StepFailed (with the log lines of this start) when it does not come up.
    """
    catcher = mail_catcher(ctx)
    pair = public_pair(state)
    conf = slots.conf_path(ctx, slot.name)
    log_file = slots.log_path(ctx, slot.name)
    write_odoo_conf(ctx, b, slot.pair, server, catcher=catcher, path=conf)
    # odoo.conf (shell, cron-run, updates) follows the build last started.
    write_odoo_conf(ctx, b, slot.pair, server, catcher=catcher)
    if ctx.config.neutralized and (ctx.copy_source or state.neutralization is not None):
        verify_before_start(ctx, state, server, pair or slot.pair)
    check_secrets(ctx, b)
    ctx.backend.stop(slot.program)
    ensure_port_free(slot.http, f"HTTP of environment '{ctx.name}' ({slot.name} slot)")
    if ctx.config.workers:
        ensure_port_free(slot.gevent, f"gevent of environment '{ctx.name}' ({slot.name} slot)")
    state.slots.setdefault(slot.name, {})["build"] = b.sha
    ctx.store.save(state)
    # From now on a command dying mid-way is recovered without a person.
    keeper.ensure(ctx.project)
    offset = log_size(log_file)
    via = zygotes.warm_parent(ctx, b, server)
    step = run.step("start") if run else contextlib.nullcontext()
    with step:
        ctx.backend.define(
            program_spec(ctx, b, name=slot.program, conf=conf, log_file=log_file, via=via)
        )
        ctx.backend.start(slot.program)
    hstep = run.step("health check") if run else contextlib.nullcontext()
    with hstep as capture:
        if state.operation is not None:
            ctx.store.phase(state, "health_check", step="health check")
        result = ctx.backend.wait_healthy(
            slot.program,
            slot.local_url,
            timeout=health_timeout,
            still_running=_process_gave_up(ctx, slot.program),
        )
        if run is not None:
            run.recorder.record_health_check(
                "http",
                ok=result.ok,
                detail=", ".join(f"{p} {c}" for p, c in result.checks.items()) or result.reason,
                duration_s=result.seconds,
            )
        if not result.ok:
            excerpt = explain(log_since(log_file, offset))
            if capture is not None:
                capture.line(f"unhealthy: {result.reason}\n{excerpt}")
            raise StepFailed(
                f"Odoo did not become healthy: {result.reason} "
                f"({', '.join(f'{p}: {c}' for p, c in result.checks.items())}).",
                excerpt=excerpt,
            )
        # A preview is waited for by a person and its health check just proved it
        # serves: supervisord counts it started a moment later (its one second
        # ``startsecs``) without holding the command. Others wait, so that the state
        # written next and ``status`` agree at once.
        if ctx.kind is not EnvironmentKind.preview:
            _wait_supervised(ctx, slot.program, log_file, offset)
    return result


def serve(ctx: EnvContext, state: EnvState, slot: Slot, b: Build) -> None:
    """Make ``slot`` (running ``b``) the one the environment's address reaches."""
    front.route(ctx, state, slot, b)
    state.slot = slot.name


def _wait_supervised(ctx: EnvContext, program: str, log_file: Path, log_offset: int) -> None:
    """Wait until the backend counts the start as successful (supervisord's
    ``startsecs``), so the state written next and ``status`` agree; a process dying
    meanwhile is a failure."""
    deadline = time.monotonic() + 15.0
    while time.monotonic() < deadline:
        live = ctx.backend.status(program)
        if live.state == "RUNNING":
            return
        if not live.running:
            raise StepFailed(
                f"The Odoo process stopped right after answering ({live.state}).",
                excerpt=explain(log_since(log_file, log_offset)),
            )
        # The health check often ends just before ``startsecs``: look again soon.
        time.sleep(0.05)


def stop_process(ctx: EnvContext, program: str | None = None) -> None:
    """Stop ``program``, or every program of the environment (both slots, and the one
    from before slots)."""
    for name in [program] if program else slots.programs(ctx.name):
        ctx.backend.stop(name)


def serving_program(ctx: EnvContext, state: EnvState) -> str:
    """The backend program serving the environment (its name before slots)."""
    return slots.program_name(ctx.name, state.slot) if state.slot else ctx.name


def log_of(ctx: EnvContext, state: EnvState) -> Path:
    """The log of the serving program."""
    if state.slot:
        return slots.log_path(ctx, state.slot)
    return ctx.log_path
