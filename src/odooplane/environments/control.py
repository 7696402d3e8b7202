"""``env start``, ``stop``, ``restart`` and ``destroy``."""

from __future__ import annotations

from dataclasses import dataclass

from odooplane.environments import front, ports, sessions, slots
from odooplane.environments.builds import require_build
from odooplane.environments.context import EnvContext
from odooplane.environments.health import HealthResult
from odooplane.environments.launch import launch, retire_unslotted, serve, stop_process
from odooplane.environments.locks import current_command, environment_lock
from odooplane.environments.recovery import recover
from odooplane.environments.state import EnvState, interrupted_operation
from odooplane.environments.steps import (
    DEFAULT_HEALTH_TIMEOUT,
    NeutralizationRefused,
    StepFailed,
    allocate_ports,
    check_ports_free,
    open_evidence,
    require_database,
    require_state,
    say,
)
from odooplane.errors import CheckFailedError, NotFoundError, RefusedError
from odooplane.postgres import databases as dbs
from odooplane.postgres import roles
from odooplane.postgres.filestore import filestore_of
from odooplane.progress import Progress
from odooplane.project import Project
from odooplane.results import Result
from odooplane.routing.router import router_for


@dataclass(frozen=True)
class StartResult(Result):
    """An environment started (or found running and healthy: ``already``)."""

    environment: str
    status: str
    already: bool
    url: str
    pid: int | None
    health: HealthResult | None = None


@dataclass(frozen=True)
class StopResult(Result):
    environment: str
    status: str


@dataclass(frozen=True)
class DestroyResult(Result):
    """What ``destroy`` removed: process, snapshots, database, filestore, state."""

    environment: str
    status: str
    removed: list[str]


def start(
    project: Project,
    name: str,
    *,
    health_timeout: float = DEFAULT_HEALTH_TIMEOUT,
    lock_timeout: float | None = None,
    progress: Progress | None = None,
) -> StartResult:
    ctx = EnvContext(project, name)
    with environment_lock(project.state_dir, name, timeout=lock_timeout):
        state = require_state(ctx)
        recover(ctx, state, health_timeout=health_timeout, progress=progress)
        return _start_locked(ctx, state, health_timeout=health_timeout, progress=progress)


def _start_locked(
    ctx: EnvContext, state: EnvState, *, health_timeout: float, progress: Progress | None
) -> StartResult:
    if state.build is None:
        if (state.build_info or {}).get("working_tree"):
            raise RefusedError(
                f"Environment '{ctx.name}' is served from the working tree by `odooplane dev`.",
                hint=f"Run `odooplane dev {ctx.name}`; to run a build of it under supervision "
                f"instead, `odooplane env destroy {ctx.name}` then `odooplane env create "
                f"{ctx.name}`.",
            )
        raise RefusedError(
            f"Environment '{ctx.name}' has no build to start.",
            hint=f"Deploy one: `odooplane env deploy {ctx.name} REF`.",
        )
    b = require_build(ctx.project, state.build)
    server = ctx.server()
    require_database(ctx, server)
    pair = allocate_ports(ctx, state)
    if retire_unslotted(ctx, state):
        say(progress, f"moving {ctx.name} behind the front door (its address goes to Caddy)...")
    slot = slots.serving(ctx, state) or slots.slot(ctx, state, slots.FIRST)
    live = ctx.backend.status(slot.program)
    if live.running and ctx.backend.check_health(slot.program, slot.local_url).ok:
        serve(ctx, state, slot, b)
        state.status, state.desired = "running", "running"
        ctx.store.save(state)
        return StartResult(ctx.name, "running", already=True, url=ctx.url(pair), pid=live.pid)
    stop_process(ctx)
    if front.serving(ctx) is None:
        # The front door will take the environment's address: nothing else may hold it.
        check_ports_free(ctx, pair)
    say(progress, f"starting {ctx.name} ({b.short})...")
    ctx.store.begin(state, "start", current_command(), target_build=b.sha, slot=slot.name)
    try:
        health = launch(ctx, state, b, slot, server, None, health_timeout=health_timeout)
        serve(ctx, state, slot, b)
    except StepFailed as exc:
        stop_process(ctx)
        state.status, state.desired = "failed", "stopped"
        ctx.store.end(state)
        raise CheckFailedError(
            f"Environment '{ctx.name}' did not start: {exc.message}",
            hint=f"Log excerpt:\n{exc.excerpt}",
        ) from None
    except NeutralizationRefused:
        state.status, state.desired = "refused", "stopped"
        ctx.store.end(state)
        raise
    except BaseException:
        state.status, state.desired = "stopped", "stopped"
        ctx.store.end(state)
        raise
    state.status, state.desired = "running", "running"
    ctx.store.end(state)
    return StartResult(
        ctx.name,
        "running",
        already=False,
        url=ctx.url(pair),
        pid=ctx.backend.status(slot.program).pid,
        health=health,
    )


def stop(project: Project, name: str, *, lock_timeout: float | None = None) -> StopResult:
    ctx = EnvContext(project, name)
    with environment_lock(project.state_dir, name, timeout=lock_timeout):
        state = require_state(ctx)
        if interrupted_operation(state) is not None:
            recover(ctx, state, health_timeout=DEFAULT_HEALTH_TIMEOUT, progress=None)
        sessions.stop_session(project, state)
        state.serving = None
        stop_process(ctx)
        state.status, state.desired = "stopped", "stopped"
        ctx.store.save(state)
        return StopResult(name, "stopped")


def restart(
    project: Project,
    name: str,
    *,
    health_timeout: float = DEFAULT_HEALTH_TIMEOUT,
    lock_timeout: float | None = None,
    progress: Progress | None = None,
) -> StartResult:
    ctx = EnvContext(project, name)
    with environment_lock(project.state_dir, name, timeout=lock_timeout):
        state = require_state(ctx)
        recover(ctx, state, health_timeout=health_timeout, progress=progress)
        stop_process(ctx)
        return _start_locked(ctx, state, health_timeout=health_timeout, progress=progress)


def destroy(
    project: Project,
    name: str,
    *,
    force: bool = False,
    lock_timeout: float | None = None,
) -> DestroyResult:
    """Remove the environment's process, database (and snapshots), filestore and state.

    An environment no longer in odooplane.yaml but left in the state folder (``list``
    shows it as orphaned) can be destroyed too.
    """
    from odooplane.backends import backend_for
    from odooplane.backends.factory import project_backends
    from odooplane.environments.state import StateStore
    from odooplane.postgres.project_server import server_for

    store = StateStore(project.state_dir)
    backend = backend_for(project, name)
    filestore_root = project.odoo_data_dir / "filestore"
    if name in project.config.environments:
        ctx = EnvContext(project, name)
        is_production, default_db = ctx.is_production, ctx.database
    else:
        orphan = store.load(name)
        if orphan is None:
            # A preview's state may be kept where it runs (a cluster) only; otherwise
            # this raises the "no environment named" sentence.
            orphan = EnvContext(project, name).load_state()
        if orphan is None:
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
        if state is not None and sessions.stop_session(project, state):
            removed.append("odooplane dev session")
        for program in slots.programs(name):
            if backend.defined(program):
                backend.remove(program)
                if "process" not in removed:
                    removed.append("process")
        backend.forget_environment(name)
        server = server_for(project)
        from odooplane.environments import spares

        if spares.discard(project, name, database, filestore_root, server):
            removed.append("spare copy")
        for snap in dbs.list_snapshots(server, database):
            dbs.drop_database(
                server,
                snap.snapshot_db,
                filestore_root=filestore_root,
                terminate=True,
                missing_ok=True,
                force=force,
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
        if roles.retire_role(server, roles.role_for(database)):
            removed.append(f"role {database}")
        leftover = filestore_of(filestore_root, database)
        if leftover is not None and leftover.exists():
            import shutil

            shutil.rmtree(leftover)
        removed.append("filestore")
        router = router_for(project)
        if router.remove(name):
            removed.append("route")
        ports.release(project.root, name)
        if state is not None or store.env_dir(name).exists():
            store.delete(name)
            removed.append("state")
        # Programs named "_..." are the project's services (Caddy, the wake handler, the
        # keeper); environments may run on other backends than this one's.
        backends = project_backends(project)
        environments_left = [
            p for each in backends for p in each.programs() if not p.startswith("_")
        ]
        if not environments_left and not router.routes():
            # Nothing left to supervise, route or catch mail for: stop the project's daemons.
            from odooplane.mailcatcher import stop_catcher

            router.stop()
            for each in backends:
                each.shutdown()
            stop_catcher(project.state_dir)
        if state is not None and state.build:
            with (
                open_evidence(project) as evidence,
                evidence.start_deployment(name, git_sha=state.build, kind="destroy") as recorder,
            ):
                recorder.note(f"environment '{name}' destroyed", removed=removed)
        return DestroyResult(name, "destroyed", removed)
