"""``env create``: a new environment following its data policy (fresh, demo, a copy of
another environment, or an imported dump), with a build deployed and started."""

from __future__ import annotations

import contextlib
import time
import uuid
from pathlib import Path

from odooplane.config import EnvironmentKind
from odooplane.environments import ports, slots, spares
from odooplane.environments.builds import Build, build, record_build
from odooplane.environments.context import EnvContext, write_odoo_conf
from odooplane.environments.launch import launch, serve, stop_process
from odooplane.environments.locks import current_command, environment_lock
from odooplane.environments.neutralize_step import identity_step, neutralize_step
from odooplane.environments.odoo_run import apply_plan, store_checksums, update_plan
from odooplane.environments.state import EnvState, interrupted_operation, now_iso
from odooplane.environments.steps import (
    DEFAULT_HEALTH_TIMEOUT,
    DeploymentFailed,
    NeutralizationRefused,
    Outcome,
    RecordedRun,
    StepFailed,
    allocate_ports,
    check_ports_free,
    history_entry,
    mail_catcher,
    open_evidence,
    require_database,
    say,
)
from odooplane.errors import NotFoundError, OdooplaneError, RefusedError
from odooplane.postgres import databases as dbs
from odooplane.postgres.filestore import copy_filestore, filestore_of
from odooplane.postgres.server import DatabaseServer
from odooplane.progress import Progress
from odooplane.project import Project


def default_ref(ctx: EnvContext) -> str:
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
    for program in slots.programs(ctx.name):
        ctx.backend.remove(program)
    ctx.backend.forget_environment(ctx.name)
    dbs.drop_database(
        server,
        state.database,
        filestore_root=ctx.filestore_root,
        terminate=True,
        missing_ok=True,
        # Its own half-made database, production's included.
        force=True,
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
        state = ctx.load_state()
        if state is not None:
            op = interrupted_operation(state)
            if (op is not None and op.op == "create") or (
                state.status == "failed" and state.build is None
            ):
                say(progress, "removing what an earlier, unfinished creation left...")
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
            source_state = source_ctx.load_state()
            if source_state is None or source_state.build is None:
                raise RefusedError(
                    f"Environment '{name}' is a copy of '{ctx.copy_source}', which has not "
                    "been created yet.",
                    hint=f"Create it first: `odooplane env create {ctx.copy_source}`.",
                )
            require_database(source_ctx, server)
        wanted_ref = ref or (source_state.build if source_state else None) or default_ref(ctx)
        say(progress, f"building {wanted_ref}...")
        b = build(project, wanted_ref, progress=progress, record=False)
        image = ctx.backend.prepare_build(b.sha, progress)
        state = EnvState(name=name, kind=ctx.kind.value, database=ctx.database, status="new")
        ctx.dir.mkdir(parents=True, exist_ok=True)
        pair = allocate_ports(ctx, state)
        check_ports_free(ctx, pair)
        ctx.store.begin(state, "create", current_command(), target_build=b.sha)
        outcome = Outcome(
            environment=name, action="create", status="failed", build=b.summary(), url=ctx.url(pair)
        )
        with open_evidence(project) as store:
            build_id = uuid.UUID(record_build(store, b, image=image))
            recorder = store.start_deployment(name, git_sha=b.sha, build_id=build_id, kind="create")
            outcome.deployment_id = str(recorder.id)
            ctx.store.phase(state, "provisioning", deployment_id=str(recorder.id))
            run = RecordedRun(recorder, progress)
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
                        slot = slots.slot(ctx, state, slots.FIRST)
                        ctx.store.phase(state, "starting", slot=slot.name)
                        health = launch(
                            ctx, state, b, slot, server, run, health_timeout=health_timeout
                        )
                        serve(ctx, state, slot, b)
                        outcome.health = health
                        state.status = "running"
                        state.desired = "running"
            except NeutralizationRefused as exc:
                state.neutralization = exc.record
                state.status = "refused"
                state.build = b.sha
                state.build_info = b.summary()
                _finish_failed(ctx, state, outcome, run, exc.message, None)
                raise
            except StepFailed as exc:
                stop_process(ctx)
                _finish_failed(ctx, state, outcome, run, exc.message, exc.excerpt)
                raise DeploymentFailed(
                    f"Creating environment '{name}' failed: {exc.message}",
                    result=outcome.to_dict(),
                    hint=f"Log excerpt:\n{exc.excerpt}" if exc.excerpt else None,
                ) from None
            except BaseException as exc:
                with contextlib.suppress(OdooplaneError):
                    stop_process(ctx)
                message = exc.message if isinstance(exc, OdooplaneError) else repr(exc)
                _finish_failed(ctx, state, outcome, run, message, None)
                raise
        outcome.status = state.status
        outcome.steps = run.steps
        outcome.seconds = round(time.monotonic() - t0, 2)
        state.add_history(history_entry("create", outcome))
        state.operation = None
        ctx.store.save(state)
        return outcome


def _finish_failed(
    ctx: EnvContext,
    state: EnvState,
    outcome: Outcome,
    run: RecordedRun,
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
    state.add_history(history_entry(outcome.action, outcome))
    state.operation = None
    ctx.store.save(state)


def _create_fresh(
    ctx: EnvContext,
    state: EnvState,
    server: DatabaseServer,
    b: Build,
    pair: ports.PortPair,
    run: RecordedRun,
) -> None:
    """A new database the way ``dev`` makes one: the start-up path, from templates."""
    from odooplane.environments.prepare import prepare_environment

    write_odoo_conf(ctx, b, pair, server, catcher=mail_catcher(ctx))
    if not ctx.backend.serves_here:
        _init_where_it_runs(ctx, state, server, b, run)
        return
    with run.step("initialize database") as capture:
        ctx.store.phase(state, "initializing")
        try:
            prepared = prepare_environment(
                ctx.project, ctx.name, build=b, mail=ctx.config.neutralized, progress=run.progress
            )
        except OdooplaneError as exc:
            raise StepFailed(
                f"Initializing the database failed: {exc.message}", excerpt=exc.hint or ""
            ) from None
        made = prepared.new_database
        if made is not None:
            layers = ", ".join(f"{u.template.layer} layer {u.outcome}" for u in made.layers)
            capture.line(
                f"{ctx.database}: {', '.join(made.modules)} ({'demo' if made.demo else 'no demo'})"
                f" cloned from {made.clone.template} in {made.clone.seconds:.2f} s ({layers})"
            )
        store_checksums(ctx, server, b)


def _init_where_it_runs(
    ctx: EnvContext, state: EnvState, server: DatabaseServer, b: Build, run: RecordedRun
) -> None:
    """Initialize the database with the build's image where the environment runs (a
    cluster's Job): its filestore is there, not on this machine, and its login is the
    environment's own role."""
    from odooplane.environments.builds import runtime_of, source_of
    from odooplane.environments.odoo_run import module_rows, run_odoo
    from odooplane.environments.steps import explain, wanted_modules
    from odooplane.odoo.series import for_series

    modules = wanted_modules(ctx, b)
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
        result = run_odoo(ctx, state, argv, b, log_name="init.log", capture=capture)
        if result.code != 0:
            # Checked first: a failed init may leave the database without Odoo's tables.
            raise StepFailed(
                f"Initializing the database failed: odoo-bin exited with code {result.code}.",
                excerpt=explain(result.output),
            )
        exists = dbs.database_exists(server, ctx.database)
        rows = module_rows(server, ctx.database) if exists else {}
        missing = [m for m in modules if rows.get(m) is None or rows[m].state != "installed"]
        if missing:
            raise StepFailed(
                f"Initializing the database failed: {', '.join(missing)} not installed.",
                excerpt=explain(result.output),
            )
        store_checksums(ctx, server, b)


def _create_import(
    ctx: EnvContext,
    state: EnvState,
    path: Path,
    server: DatabaseServer,
    b: Build,
    pair: ports.PortPair,
    run: RecordedRun,
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
        state.neutralization = neutralize_step(ctx, server, b, pair, run, source_database=None)
        outcome.neutralization = state.neutralization
    _update_copied(ctx, state, server, b, pair, run, outcome, source_database=None)


def _update_copied(
    ctx: EnvContext,
    state: EnvState,
    server: DatabaseServer,
    b: Build,
    pair: ports.PortPair,
    run: RecordedRun,
    outcome: Outcome,
    *,
    source_database: str | None,
) -> None:
    """Bring a database that came from elsewhere to build ``b`` (checksums decide)."""
    write_odoo_conf(ctx, b, pair, server, catcher=mail_catcher(ctx))
    with run.step("update modules") as capture:
        ctx.store.phase(state, "updating")
        plan = update_plan(ctx, server, b)
        outcome.plan = plan
        if plan.empty:
            capture.skip("nothing to install or update")
        else:
            apply_plan(ctx, state, server, b, plan, capture, run.recorder)
        store_checksums(ctx, server, b)
    if ctx.config.neutralized and not plan.empty:
        # Module data loaded by the update may switch crons or servers back on.
        state.neutralization = neutralize_step(
            ctx, server, b, pair, run, source_database=source_database
        )
        outcome.neutralization = state.neutralization


def _verified_neutral_copy(source: EnvContext) -> bool:
    """``source`` is itself a neutralized copy whose last verification passed and which
    no module update touched since (the preview base: never started, never deployed)."""
    if source.kind is not EnvironmentKind.preview or not source.config.neutralized:
        return False
    state = source.store.load(source.name)
    return bool(
        state is not None
        and state.neutralization is not None
        and state.neutralization.get("status") == "verified"
        and state.status in ("ready", "stopped")
        and state.desired == "stopped"
    )


def _create_copy(
    ctx: EnvContext,
    state: EnvState,
    source: EnvContext,
    server: DatabaseServer,
    b: Build,
    pair: ports.PortPair,
    run: RecordedRun,
    outcome: Outcome,
) -> None:
    with run.step("clone database") as capture:
        ctx.store.phase(state, "cloning")
        # A spare made ahead of time (the preview base has one) is claimed by a rename,
        # database and filestore at once.
        spare = spares.claim(ctx, source, server)
        if spare is not None:
            made = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(spare.made_at))
            capture.line(
                f"claimed {spare.database} -> {ctx.database}: the spare copy of "
                f"{source.database} made at {made} (in {spare.seconds:.2f} s)"
            )
        else:
            # The copy ends the source's sessions: never in the middle of its own
            # deploy. The target is this environment's own new database (production's
            # too).
            with environment_lock(ctx.project.state_dir, source.name):
                cloned = dbs.clone_database(
                    server, source.database, ctx.database, terminate=True, force=True
                )
            capture.line(
                f"cloned {source.database} -> {ctx.database} ({cloned.strategy}, "
                f"{cloned.seconds:.2f} s)"
            )
    if spare is None:
        with run.step("copy filestore") as capture:
            copied = copy_filestore(
                filestore_of(source.filestore_root, source.database),
                filestore_of(ctx.filestore_root, ctx.database),
            )
            capture.line(f"filestore: {copied.method}, {copied.files} files, {copied.bytes} bytes")
    if ctx.config.neutralized and _verified_neutral_copy(source):
        # A clone of a verified neutralized copy (a preview of the preview base) only
        # needs its own identity, then the same verification.
        ctx.store.phase(state, "neutralizing")
        state.neutralization = identity_step(
            ctx, server, pair, run, source_database=source.database
        )
        outcome.neutralization = state.neutralization
    elif ctx.config.neutralized:
        ctx.store.phase(state, "neutralizing")
        state.neutralization = neutralize_step(
            ctx, server, b, pair, run, source_database=source.database
        )
        outcome.neutralization = state.neutralization
    # The copy carries the source's checksums: only what differs in this build updates.
    _update_copied(ctx, state, server, b, pair, run, outcome, source_database=source.database)
