"""Preview environments: up, down, list, pin, close, wake, idle stop, gc.

A preview is an ordinary environment (kind ``preview``) created, deployed, started,
stopped and destroyed by :mod:`odooplane.environments`, so it gets everything other
environments get (locks, journal, evidence, snapshots and rollback, verification before
every start). This module adds what is particular to pull requests: a stable name per
pull request, its URL and route, the preview base, scale to zero and garbage collection.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import filelock

from odooplane.backends.supervisor import SupervisorBackend
from odooplane.environments import api as envs
from odooplane.environments import ports, slots, spares
from odooplane.environments.branches import preview_name
from odooplane.environments.builds import build
from odooplane.environments.context import EnvContext
from odooplane.environments.launch import serving_program
from odooplane.environments.neutralize_step import LOGIN_FILE
from odooplane.environments.state import StateStore, now_iso
from odooplane.environments.steps import open_evidence
from odooplane.errors import NotFoundError, OdooplaneError, RefusedError, UsageError
from odooplane.fsutil import read_json, write_atomic
from odooplane.odoo.series import for_series
from odooplane.previews.records import (
    BASE_NAME,
    PreviewRecord,
    PreviewStore,
    data_mode,
    staging_source,
)
from odooplane.progress import Progress, report
from odooplane.project import Project
from odooplane.routing import Router, Upstream, router_for
from odooplane.routing.hosts import url_for

NO_BUILD_SHA = "0000000"


def _say(progress: Progress | None, text: str) -> None:
    report(progress, text)


def _parse(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        parsed = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class PreviewInfo:
    """One preview as ``preview up``/``list`` report it (stable JSON, docs/previews.md)."""

    environment: str
    pr: int
    branch: str
    title: str | None
    url: str
    status: str  # running | stopped | failed | refused | creating | missing
    build: str | None
    data: str
    pinned: bool
    created_at: str
    age_hours: float
    last_request: str | None
    closed_at: str | None
    login: str | None = None
    password: str | None = None
    action: str | None = None  # up only: created | updated | unchanged | rebuilt | woken
    seconds: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GcAction:
    environment: str
    action: str  # removed | stopped
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GcReport:
    actions: list[GcAction] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    # The base's spare copy, made when missing (odooplane.environments.spares), or why
    # it could not be.
    spare: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "actions": [a.to_dict() for a in self.actions],
            "kept": self.kept,
            "spare": self.spare,
        }


# -- plumbing ---------------------------------------------------------------------------------


def _require_enabled(project: Project) -> None:
    if not project.config.previews.enabled:
        raise RefusedError(
            f"Previews are not enabled in {project.config_path}.",
            hint="Set previews.enabled: true (see docs/previews.md).",
        )


@contextlib.contextmanager
def _previews_lock(project: Project) -> Iterator[None]:
    """Decisions over several previews (capacity, gc, naming) are taken one at a time."""
    folder = PreviewStore(project.state_dir).dir
    folder.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(folder / ".lock"))
    try:
        lock.acquire(timeout=900)
    except filelock.Timeout:
        raise RefusedError("Another preview command has been running for 15 minutes.") from None
    try:
        yield
    finally:
        lock.release()


def wake_command(project: Project, name: str) -> list[str]:
    return [sys.executable, "-m", "odooplane", "-C", str(project.root), "preview", "wake", name]


def _login(project: Project, name: str) -> dict[str, str]:
    data = read_json(StateStore(project.state_dir).env_dir(name) / LOGIN_FILE, default=None)
    return data if isinstance(data, dict) else {}


def _save(project: Project, record: PreviewRecord) -> None:
    """Save the preview's record here, and where it runs when its backend keeps records
    (a cluster), so ``gc`` and ``list`` find it again after the state folder is lost."""
    PreviewStore(project.state_dir).save(record)
    with contextlib.suppress(OdooplaneError):
        EnvContext(project, record.name).backend.keep_record(
            record.name, "preview", record.to_dict()
        )


def adopt_kept_records(project: Project) -> list[str]:
    """Records of previews the previews' backend keeps but this state folder lost; the
    names adopted."""
    from odooplane.backends.factory import backend_named

    store = PreviewStore(project.state_dir)
    adopted = []
    try:
        kept = backend_named(project, project.config.previews.backend).kept_records("preview")
    except OdooplaneError:
        return []
    for name, data in sorted(kept.items()):
        if store.load(name) is None:
            with contextlib.suppress(TypeError, ValueError):
                store.save(PreviewRecord.from_dict(data))
                adopted.append(name)
    return adopted


def _route(project: Project, router: Router, record: PreviewRecord) -> None:
    """Route the preview's hostname and port to its running Odoo, with its wake command
    (on a cluster, its Ingress serves it)."""
    if not EnvContext(project, record.name).backend.serves_here:
        return
    state = StateStore(project.state_dir).load(record.name)
    if state is None or not state.http_port:
        raise NotFoundError(f"Preview '{record.name}' has no environment state.")
    hostnames = [record.hostname] if record.hostname else []
    wake = wake_command(project, record.name)
    current = router.get(record.name)
    if (
        current is not None
        and current.upstream is not None
        and (current.listen_port == state.http_port)
    ):
        # The lifecycle's front door serves the environment at its own port (Odoo on
        # internal ports): keep its upstream, add what is the preview's own.
        router.route(
            record.name,
            listen_port=current.listen_port,
            hostnames=hostnames,
            upstream=current.upstream,
            wake_command=wake,
        )
        if record.hostname is None and record.public_port != state.http_port:
            ports.release(project.root, f"{record.name}.public")
            record.public_port = state.http_port
            record.url = url_for(router.settings.public_host, https=False, port=state.http_port)
            PreviewStore(project.state_dir).save(record)
        return
    # No lifecycle route yet: the slot serving (Odoo's internal ports), if any.
    serving = slots.serving(EnvContext(project, record.name), state)
    series = project.config.odoo.series
    workers = project.config.previews.workers
    router.route(
        record.name,
        listen_port=record.public_port,
        hostnames=hostnames,
        upstream=Upstream(
            serving.http,
            serving.gevent if workers else None,
            websocket_paths=for_series(series).gevent_paths,
        )
        if serving is not None
        else None,
        wake_command=wake,
    )


def _is_running(project: Project, name: str) -> bool:
    """The preview's Odoo runs (whichever slot serves)."""
    ctx = EnvContext(project, name)
    state = ctx.store.load(name)
    if state is None:
        return False
    return ctx.backend.status(serving_program(ctx, state)).running


def _random_admin_password(project: Project, name: str) -> None:
    """A fresh database's admin/admin is not what a preview reachable from outside
    accepts: a random password, kept beside the preview's state (0600)."""
    from odooplane.neutralize.identity import reset_admin_password

    # As the preview's own role: code from the pull request ran in that database, and
    # its triggers must never run with odooplane's rights.
    server = EnvContext(project, name).odoo_server()
    login, password = reset_admin_password(server, project.config.database_name(name))
    write_atomic(
        StateStore(project.state_dir).env_dir(name) / LOGIN_FILE,
        json.dumps({"login": login, "password": password}) + "\n",
        mode=0o600,
    )


def _info(
    project: Project, record: PreviewRecord, router: Router, *, with_password: bool = False
) -> PreviewInfo:
    state = StateStore(project.state_dir).load(record.name)
    if state is None:
        status = "missing"
    elif state.operation is not None and state.operation.op == "create":
        status = "creating"
    elif state.status in ("failed", "refused"):
        status = state.status
    else:
        status = "running" if _is_running(project, record.name) else "stopped"
    created = _parse(record.created_at) or _now()
    last = router.last_request(record.name)
    login = _login(project, record.name)
    return PreviewInfo(
        environment=record.name,
        pr=record.pr,
        branch=record.branch,
        title=record.title,
        url=record.url,
        status=status,
        build=state.build if state else record.build,
        data=record.data,
        pinned=record.pinned,
        created_at=record.created_at,
        age_hours=round((_now() - created).total_seconds() / 3600, 2),
        last_request=last.isoformat(timespec="seconds") if last else None,
        closed_at=record.closed_at,
        login=login.get("login"),
        password=login.get("password") if with_password else None,
    )


def _find(project: Project, pr: int | None = None, name: str | None = None) -> PreviewRecord:
    store = PreviewStore(project.state_dir)
    record = store.by_pr(pr) if pr is not None else store.load(name or "")
    if record is None:
        what = f"pull request #{pr}" if pr is not None else f"'{name}'"
        raise NotFoundError(
            f"No preview for {what}.", hint="`odooplane preview list` shows the previews."
        )
    return record


def _new_record(
    project: Project, router: Router, pr: int, branch: str, title: str | None, ref: str
) -> PreviewRecord:
    name = preview_name(pr, branch)
    domain = project.config.previews.domain
    hostname = f"{name}.{domain}".lower() if domain else None
    public = ports.allocate(project.root, f"{name}.public")
    settings = router.settings
    url = (
        url_for(hostname, https=settings.front_https, port=settings.front_port)
        if hostname
        else url_for(settings.public_host, https=False, port=public.http)
    )
    stamp = now_iso()
    return PreviewRecord(
        name=name,
        pr=pr,
        branch=branch,
        title=title,
        ref=ref,
        data=data_mode(project.config),
        url=url,
        hostname=hostname,
        public_port=public.http,
        created_at=stamp,
        updated_at=stamp,
    )


# -- the base ---------------------------------------------------------------------------------


def ensure_base(
    project: Project,
    *,
    refresh: bool = False,
    progress: Progress | None = None,
    spare: bool = True,
) -> dict[str, Any]:
    """The neutralized base snapshot of staging previews are cloned from: made (cloned,
    neutralized, verified) when missing or when ``refresh`` asks, else reused. A base
    made here gets its spare copy made in the background unless ``spare`` is false (the
    caller does it)."""
    source = staging_source(project.config)
    if source is None:
        raise RefusedError(
            "Previews are not copies of staging here (previews.data), so there is no base.",
        )
    store = PreviewStore(project.state_dir)
    states = StateStore(project.state_dir)
    source_state = states.load(source)
    if source_state is None or source_state.build is None:
        raise RefusedError(
            f"Previews copy '{source}', which has not been created yet.",
            hint=f"Create it first: `odooplane env create {source}`.",
        )
    current = states.load(BASE_NAME)
    info = store.base_info()
    fresh = (
        current is not None
        and info is not None
        and current.neutralization is not None
        and current.neutralization.get("status") == "verified"
        and current.status in ("ready", "stopped")
    )
    if fresh and not refresh:
        return {**(info or {}), "reused": True}
    if current is not None:
        _say(progress, "removing the previous preview base...")
        envs.destroy(project, BASE_NAME)  # its spare copy too
    info = {"source": source, "source_build": source_state.build, "created_at": now_iso()}
    store.save_base_info(info)
    _say(progress, f"making the preview base: a neutralized copy of {source}...")
    try:
        outcome = envs.create(project, BASE_NAME, start=False, progress=progress)
    except OdooplaneError:
        with contextlib.suppress(OdooplaneError):
            envs.destroy(project, BASE_NAME)
        store.delete_base_info()
        raise
    info["neutralization"] = outcome.neutralization
    info["seconds"] = outcome.seconds
    store.save_base_info(info)
    _warm_up(project)
    if spare and _spares_here(project):
        spares.make_later(project, BASE_NAME)
    return {**info, "reused": False}


def _warm_up(project: Project) -> None:
    """Start the warm Odoo previews of the base are forked from now, while the first
    preview is still being made (it imports Odoo for a few seconds)."""
    from odooplane.environments import zygotes
    from odooplane.environments.builds import require_build

    ctx = EnvContext(project, BASE_NAME)
    state = ctx.store.load(BASE_NAME)
    if state is None or state.build is None:
        return
    with contextlib.suppress(OdooplaneError):
        zygotes.warm_parent(ctx, require_build(project, state.build), ctx.server())


# -- up, down -----------------------------------------------------------------------------


def up(
    project: Project,
    *,
    pr: int,
    branch: str,
    title: str | None = None,
    ref: str | None = None,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> PreviewInfo:
    """Create the preview of pull request ``pr``, or update it in place to ``ref``."""
    _require_enabled(project)
    if not branch or branch.startswith("-"):
        raise UsageError(f"'{branch}' is not a branch name.")
    started = time.monotonic()
    router = router_for(project)
    wanted = ref or branch
    store = PreviewStore(project.state_dir)
    with _previews_lock(project):
        record = store.by_pr(pr)
        action = "updated"
        steps: list[Any] = []
        if record is None:
            record = _new_record(project, router, pr, branch, title, wanted)
            _save(project, record)
            action = "created"
        record.ref, record.updated_at, record.closed_at = wanted, now_iso(), None
        if title:
            record.title = title
        _save(project, record)
        state = StateStore(project.state_dir).load(record.name)
        if state is not None and (
            rebuild or state.build is None or state.status in ("failed", "refused")
        ):
            _say(progress, f"starting {record.name} over from the base...")
            envs.destroy(project, record.name)
            state = None
            action = "rebuilt" if action != "created" else action
        _make_room(project, router, exclude=record.name, progress=progress)
    if state is None:
        if record.data == "staging":
            ensure_base(project, progress=progress, spare=False)
        _say(progress, f"creating {record.name} from {wanted}...")
        outcome = envs.create(project, record.name, ref=wanted, progress=progress)
        record.build = (outcome.build or {}).get("sha")
        steps = outcome.steps
        if record.data != "staging":
            _random_admin_password(project, record.name)
    else:
        b = build(project, wanted, record=False)
        if b.sha == state.build:
            action = "unchanged"
            if not _is_running(project, record.name):
                envs.start(project, record.name, progress=progress)
                action = "woken"
        else:
            # The deploy keeps the preview answering: a switch when no module changes,
            # its maintenance page while modules update.
            _say(progress, f"updating {record.name} to {b.short}...")
            steps = envs.deploy(project, record.name, wanted, progress=progress).steps
        record.build = b.sha
    record.stopped_at = record.stopped_reason = None
    _save(project, record)
    _route(project, router, record)
    if state is None and record.data == "staging" and _spares_here(project):
        # This preview took the base's spare copy (or cloned the base): the next one
        # finds a spare made meanwhile, in the background.
        spares.make_later(project, BASE_NAME)
    info = _info(project, record, router, with_password=True)
    info.action = action
    info.seconds = round(time.monotonic() - started, 2)
    info.details = {"steps": [asdict(s) for s in steps]}
    return info


def _record_removal(
    project: Project, name: str, build_sha: str | None, reason: str, removed: list[str]
) -> None:
    with (
        open_evidence(project) as evidence,
        evidence.start_deployment(
            name, git_sha=build_sha or NO_BUILD_SHA, kind="preview-removal"
        ) as recorder,
    ):
        recorder.note(f"preview '{name}' removed: {reason}", reason=reason, removed=removed)


def _remove(project: Project, router: Router, name: str, reason: str) -> list[str]:
    store = PreviewStore(project.state_dir)
    record = store.load(name)
    state = StateStore(project.state_dir).load(name)
    removed: list[str] = []
    if state is not None or record is not None:
        with contextlib.suppress(NotFoundError):
            result = envs.destroy(project, name)
            removed += result.removed
    backend = SupervisorBackend(project.state_dir)
    for program in slots.programs(name):
        if backend.defined(program):
            # A process left without state or record (an orphan) is not an environment.
            backend.remove(program)
            if "process" not in removed:
                removed.append("process")
    if router.remove(name):
        removed.append("route")
    ports.release(project.root, f"{name}.public")
    if record is not None:
        store.delete(name)
        removed.append("preview record")
    build_sha = (state.build if state else None) or (record.build if record else None)
    _record_removal(project, name, build_sha, reason, removed)
    return removed


def down(project: Project, *, pr: int, reason: str = "preview down") -> dict[str, Any]:
    """Stop the preview of ``pr`` and drop its database, filestore, route and record."""
    record = _find(project, pr=pr)
    with _previews_lock(project):
        removed = _remove(project, router_for(project), record.name, reason)
    return {
        "environment": record.name,
        "pr": pr,
        "status": "removed",
        "reason": reason,
        "removed": removed,
    }


def close(project: Project, *, prs: list[int]) -> list[dict[str, Any]]:
    """Record that pull requests closed: ``gc`` removes their previews an hour later
    (``previews.closed_grace_minutes``)."""
    store = PreviewStore(project.state_dir)
    result: list[dict[str, Any]] = []
    for number in prs:
        record = store.by_pr(number)
        if record is None:
            result.append({"pr": number, "environment": None, "closed_at": None})
            continue
        record.closed_at = record.closed_at or now_iso()
        _save(project, record)
        result.append({"pr": number, "environment": record.name, "closed_at": record.closed_at})
    return result


def pin(project: Project, *, pr: int, pinned: bool) -> PreviewInfo:
    """A pinned preview is never removed for its age or to make room (closing still does)."""
    record = _find(project, pr=pr)
    record.pinned = pinned
    _save(project, record)
    return _info(project, record, router_for(project))


def list_previews(project: Project) -> list[PreviewInfo]:
    adopt_kept_records(project)
    router = router_for(project)
    return [_info(project, r, router) for r in PreviewStore(project.state_dir).all()]


def show(project: Project, *, pr: int) -> PreviewInfo:
    """One preview with its login and password (for the pull request's comment)."""
    return _info(project, _find(project, pr=pr), router_for(project), with_password=True)


# -- scale to zero ----------------------------------------------------------------------------


def _running(project: Project, records: list[PreviewRecord]) -> list[PreviewRecord]:
    found = []
    for record in records:
        ctx_state = EnvContext(project, record.name).load_state()
        if ctx_state is None:
            continue
        if _is_running(project, record.name):
            found.append(record)
    return found


def _last_activity(router: Router, record: PreviewRecord) -> datetime:
    stamps = [
        router.last_request(record.name),
        _parse(record.woken_at),
        _parse(record.updated_at),
        _parse(record.created_at),
    ]
    return max(s for s in stamps if s is not None)


def stop_idle(project: Project, router: Router, record: PreviewRecord, reason: str) -> None:
    """Stop the preview's Odoo (its database stays); its next request wakes it.

    The route keeps pointing at the preview's Odoo: while it is down, Caddy hands each
    request to the wake handler (the route's error handling), and the first request
    after Odoo listens again reaches it directly, with no route change to wait for.
    """
    _route(project, router, record)
    envs.stop(project, record.name)
    record.stopped_at, record.stopped_reason = now_iso(), reason
    _save(project, record)


def _make_room(
    project: Project, router: Router, *, exclude: str, progress: Progress | None
) -> list[GcAction]:
    """At most ``max_running`` previews run: stop the longest idle to make room for one."""
    limit = project.config.previews.max_running
    others = [r for r in PreviewStore(project.state_dir).all() if r.name != exclude]
    running = sorted(_running(project, others), key=lambda r: _last_activity(router, r))
    actions = []
    while len(running) >= limit:
        victim = running.pop(0)
        reason = f"at most {limit} previews run at once; it was the longest idle"
        _say(progress, f"stopping {victim.name}: {reason}")
        stop_idle(project, router, victim, reason)
        actions.append(GcAction(victim.name, "stopped", reason))
    return actions


def wake(project: Project, name: str, *, progress: Progress | None = None) -> PreviewInfo:
    """Start a stopped preview (the wake handler runs this) and route to it again."""
    router = router_for(project)
    record = _find(project, name=name)
    with _previews_lock(project):
        _make_room(project, router, exclude=name, progress=progress)
    started = time.monotonic()
    envs.start(project, name, progress=progress)
    record.woken_at, record.stopped_at, record.stopped_reason = now_iso(), None, None
    _save(project, record)
    _route(project, router, record)
    info = _info(project, record, router)
    info.action, info.seconds = "woken", round(time.monotonic() - started, 2)
    return info


# -- garbage collection ------------------------------------------------------------------------


def gc(
    project: Project,
    *,
    closed: list[int] | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> GcReport:
    """Remove what should go, stop what is idle; idempotent, safe to run every minute.

    Removed: previews whose pull request closed more than ``closed_grace_minutes`` ago,
    unpinned previews older than ``ttl_hours``, orphans (a database, route, process or
    state of a ``pr-*`` environment with no preview record), and the oldest unpinned
    beyond ``max_deployed``. Stopped: previews idle for ``idle_minutes``, and the longest
    idle beyond ``max_running``. Every removal is recorded with its reason.
    """
    adopt_kept_records(project)
    if closed:
        close(project, prs=closed)
    config = project.config.previews
    moment = now or _now()
    router = router_for(project)
    store = PreviewStore(project.state_dir)
    report = GcReport()

    def remove(name: str, reason: str) -> None:
        _say(progress, f"removing {name}: {reason}")
        _remove(project, router, name, reason)
        report.actions.append(GcAction(name, "removed", reason))

    with _previews_lock(project):
        for record in store.all():
            closed_at = _parse(record.closed_at)
            created = _parse(record.created_at) or moment
            if closed_at and moment - closed_at >= timedelta(minutes=config.closed_grace_minutes):
                remove(record.name, f"its pull request #{record.pr} closed at {record.closed_at}")
            elif not record.pinned and moment - created >= timedelta(hours=config.ttl_hours):
                remove(record.name, f"older than previews.ttl_hours ({config.ttl_hours} h)")
        for name in _orphans(project, router):
            remove(name, "orphan: a database, route, process or state with no preview record")
        deployed = sorted(store.all(), key=lambda r: r.created_at)
        unpinned = [r for r in deployed if not r.pinned]
        while len(deployed) > config.max_deployed and unpinned:
            victim = unpinned.pop(0)
            deployed.remove(victim)
            remove(
                victim.name,
                f"more than previews.max_deployed ({config.max_deployed}); "
                "it was the oldest unpinned",
            )
        records = store.all()
        running = _running(project, records)
        if config.idle_minutes:
            for record in list(running):
                idle = moment - _last_activity(router, record)
                if idle >= timedelta(minutes=config.idle_minutes):
                    reason = f"no request for {int(idle.total_seconds() // 60)} min"
                    _say(progress, f"stopping {record.name}: {reason}")
                    stop_idle(project, router, record, reason)
                    report.actions.append(GcAction(record.name, "stopped", reason))
                    running.remove(record)
        running.sort(key=lambda r: _last_activity(router, r))
        while len(running) > config.max_running:
            victim = running.pop(0)
            reason = f"more than previews.max_running ({config.max_running}) ran"
            stop_idle(project, router, victim, reason)
            report.actions.append(GcAction(victim.name, "stopped", reason))
        report.kept = [r.name for r in store.all()]
        from odooplane.environments import zygotes

        for program in zygotes.prune(project):
            _say(progress, f"stopping {program}: no preview runs through it any more")
        report.spare = _make_spare(project)
    return report


def _spares_here(project: Project) -> bool:
    """Previews run on this machine, where the base's spare copy is kept (a cluster's
    previews, and its gc CronJob, clone the base as they always did)."""
    return EnvContext(project, BASE_NAME).backend.serves_here


def _make_spare(project: Project) -> dict[str, Any] | None:
    """The base's spare copy, made now when it is missing (what a crash or a refresh of
    the base left without one)."""
    if staging_source(project.config) is None or not _spares_here(project):
        return None
    base = EnvContext(project, BASE_NAME)
    if base.store.load(BASE_NAME) is None:
        return None
    try:
        spare = spares.make(base, base.server())
    except OdooplaneError as exc:
        return {"error": str(exc)}
    return spare.to_dict() if spare is not None else None


def _orphans(project: Project, router: Router) -> list[str]:
    """``pr-*`` environments something still holds (state, route, process, database)
    although no preview record owns them."""
    from odooplane.postgres import databases as dbs
    from odooplane.postgres.project_server import server_for

    known = {r.name for r in PreviewStore(project.state_dir).all()}
    names: set[str] = set()
    names |= {n for n in StateStore(project.state_dir).names() if n.startswith("pr-")}
    names |= {r.env for r in router.routes() if r.env.startswith("pr-")}
    # A program is named after its environment and slot (pr-1-login.blue).
    names |= {
        p.split(".", 1)[0]
        for p in SupervisorBackend(project.state_dir).programs()
        if p.startswith("pr-")
    }
    prefix = f"{project.config.project}_pr_".replace("-", "_")
    orphans = sorted(names - known)
    try:
        databases = dbs.list_databases(server_for(project))
    except OdooplaneError:
        databases = []
    taken = {project.config.database_name(n) for n in known | names}
    for db in databases:
        if db.name.startswith(prefix) and db.snapshot is None and db.name not in taken:
            _drop_orphan_database(project, db.name)
    return orphans


def _drop_orphan_database(project: Project, database: str) -> None:
    from odooplane.postgres import databases as dbs
    from odooplane.postgres import roles
    from odooplane.postgres.project_server import server_for

    server = server_for(project)
    dbs.drop_database(
        server,
        database,
        filestore_root=project.odoo_data_dir / "filestore",
        terminate=True,
        missing_ok=True,
    )
    roles.retire_role(server, roles.role_for(database))
    _record_removal(
        project,
        database,
        None,
        "orphan database with no preview record",
        [f"database {database}", "filestore"],
    )


def info_json(infos: list[PreviewInfo]) -> str:
    return json.dumps([i.to_dict() for i in infos], indent=2, sort_keys=True)
