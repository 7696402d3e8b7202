"""Running ``odoo-bin`` once for an environment (install, update, shell scripts) and the
update plan: which modules to install or update, decided by checksums."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from odooplane.environments import checksums
from odooplane.environments.builds import Build, build_project, runtime_of, source_of
from odooplane.environments.context import EnvContext
from odooplane.environments.state import EnvState
from odooplane.environments.steps import StepFailed, explain, wanted_modules
from odooplane.odoo.addons import project_addons
from odooplane.odoo.series import for_series
from odooplane.postgres.server import DatabaseServer
from odooplane.runner import RunResult, run_logged

if TYPE_CHECKING:
    # The evidence store pulls in SQLAlchemy: imported only by commands that record.
    from odooplane.evidence.api import DeploymentRecorder


UPDATE_TIMEOUT = 6 * 3600.0


def run_odoo(
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

    backend = ctx.backend
    once = backend.one_off(ctx.name, argv, process_env(ctx, b), build=b.sha)

    def on_spawn(pid: int, started: float) -> None:
        if state.operation is not None:
            ctx.store.phase(
                state,
                state.operation.phase,
                child_pid=pid,
                child_started=started,
                child_handle=once.handle,
            )

    def sink(line: str) -> None:
        if capture is not None:
            capture.write(line)

    result = run_logged(
        once.argv,
        env=once.env,
        cwd=ctx.dir,
        log_path=ctx.dir / "logs" / log_name,
        timeout=timeout,
        on_spawn=on_spawn,
        sink=sink,
        stdin_text=stdin_text,
    )
    if result.timed_out:
        backend.discard(once.handle)
    return result


def module_rows(server: DatabaseServer, database: str) -> dict[str, checksums.ModuleRow]:
    """The module rows of ``database``; none when Odoo never initialized it (an empty
    database is what an init that stopped early leaves)."""
    with server.connect(database) as conn:
        if conn.execute("SELECT to_regclass('ir_module_module')").fetchone() == (None,):
            return {}
        return checksums.installed_modules(conn)


def update_plan(ctx: EnvContext, server: DatabaseServer, b: Build) -> checksums.UpdatePlan:
    addons = project_addons(build_project(ctx.project, b))
    with ctx.odoo_server(server).connect(ctx.database) as conn:
        rows = checksums.installed_modules(conn)
        stored = checksums.stored_checksums(conn)
        revision = checksums.stored_revision(conn)
    return checksums.plan_update(
        addons.values(),
        rows,
        stored,
        wanted=wanted_modules(ctx, b),
        series=b.odoo_series,
        odoo_revision=b.odoo_revision,
        previous_revision=revision,
    )


def store_checksums(ctx: EnvContext, server: DatabaseServer, b: Build) -> None:
    addons = project_addons(build_project(ctx.project, b))
    with ctx.odoo_server(server).connect(ctx.database) as conn:
        checksums.store_checksums(conn, checksums.checksums_of(addons.values()), b.odoo_revision)


def apply_plan(
    ctx: EnvContext,
    state: EnvState,
    server: DatabaseServer,
    b: Build,
    plan: checksums.UpdatePlan,
    capture: Any,
    recorder: DeploymentRecorder,
) -> None:
    """Run ``odoo-bin -i ... -u ...`` for ``plan`` and check the database afterwards."""
    before = module_rows(ctx.odoo_server(server), ctx.database)
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
    result = run_odoo(ctx, state, argv, b, log_name="update.log", capture=capture)
    after = module_rows(ctx.odoo_server(server), ctx.database)
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
        raise StepFailed(
            f"Installing/updating modules failed: {'; '.join(problems)}.",
            excerpt=explain(result.output),
        )
