"""Starting an environment's process through its backend and waiting until it is healthy."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from odooplane.environments import ports
from odooplane.environments.builds import Build
from odooplane.environments.context import EnvContext, program_spec, write_odoo_conf
from odooplane.environments.health import HealthResult, wait_healthy
from odooplane.environments.neutralize_step import verify_before_start
from odooplane.environments.state import EnvState
from odooplane.environments.steps import (
    RecordedRun,
    StepFailed,
    check_secrets,
    explain,
    mail_catcher,
)
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


def _process_gave_up(ctx: EnvContext) -> Callable[[], str | None]:
    def check() -> str | None:
        status = ctx.backend.status(ctx.name)
        if status.state in ("FATAL", "EXITED", "STOPPED", "NOT_RUNNING", "ABSENT"):
            detail = status.description or status.state
            return f"the Odoo process is {status.state} ({detail})"
        return None

    return check


def launch(
    ctx: EnvContext,
    state: EnvState,
    b: Build,
    pair: ports.PortPair,
    server: DatabaseServer,
    run: RecordedRun | None,
    *,
    health_timeout: float,
) -> HealthResult:
    """Write odoo.conf, define the program for ``b``, start it and wait until healthy.

    Raises StepFailed (with the log lines of this start) when it does not come up.
    """
    catcher = mail_catcher(ctx)
    write_odoo_conf(ctx, b, pair, server, catcher=catcher)
    if ctx.config.neutralized and (ctx.copy_source or state.neutralization is not None):
        verify_before_start(ctx, state, server, pair)
    check_secrets(ctx, b)
    offset = log_size(ctx.log_path)
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
            excerpt = explain(log_since(ctx.log_path, offset))
            if capture is not None:
                capture.line(f"unhealthy: {result.reason}\n{excerpt}")
            raise StepFailed(
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
            raise StepFailed(
                f"The Odoo process stopped right after answering ({live.state}).",
                excerpt=explain(log_since(ctx.log_path, log_offset)),
            )
        time.sleep(0.3)


def stop_process(ctx: EnvContext) -> None:
    ctx.backend.stop(ctx.name)
