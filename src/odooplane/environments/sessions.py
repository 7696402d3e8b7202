"""Environments served in the foreground (``odooplane dev``), in the state like any other.

The development environment's database is recorded as soon as it exists
(:func:`record_environment`), so ``env list``, ``status``, ``diff``, ``psql`` and
``destroy`` know it. While ``odooplane dev`` serves it, the state holds a
:class:`~odooplane.environments.state.Serving` record (pid, URL, generation): ``status``
shows it running only while that process lives, so a session killed without cleaning
up shows as stopped. ``env stop`` and ``env destroy`` end a session serving the
environment: in this process by calling its stop, in another by SIGTERM (Ctrl-C's path).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psutil  # type: ignore[import-untyped, unused-ignore]

from odooplane.environments import slots
from odooplane.environments.locks import current_command, environment_lock
from odooplane.environments.state import EnvState, Serving, StateStore, now_iso
from odooplane.errors import LockedError, RefusedError

if TYPE_CHECKING:
    from odooplane.environments.prepare import PreparedEnvironment
    from odooplane.project import Project

# Sessions of this process: environment state folder + name -> their stop.
_LOCAL: dict[tuple[str, str], Callable[[], None]] = {}
_LOCAL_LOCK = threading.Lock()
# Writing a new generation must never hold up serving: a command holding the lock
# (destroy, a deploy) is left alone, its state wins.
_UPDATE_WAIT = 2.0


def working_tree_build(prepared: PreparedEnvironment) -> dict[str, Any]:
    """What ``build_info`` says of an environment served from the working tree."""
    from odooplane import gitrepo

    root = prepared.project.root
    info: dict[str, Any] = {
        "sha": None,
        "branch": None,
        "subject": "working tree",
        "working_tree": str(root),
        "odoo_series": prepared.source.series,
        "odoo_revision": prepared.source.revision,
        "deps_hash": prepared.runtime.deps_hash,
    }
    if gitrepo.is_repository(root):
        with contextlib.suppress(Exception):
            info["sha"] = gitrepo.head_sha(root)
            info["branch"] = gitrepo.current_branch(root)
    return info


def record_environment(prepared: PreparedEnvironment) -> EnvState:
    """Record the environment served from the working tree (created when missing; the
    build of an environment made by ``env create`` is kept)."""
    project, name = prepared.project, prepared.environment
    store = StateStore(project.state_dir)
    with environment_lock(project.state_dir, name):
        state = store.load(name)
        if state is None:
            state = EnvState(
                name=name, kind=prepared.kind, database=prepared.database, status="stopped"
            )
            state.add_history(
                {
                    "action": "create",
                    "status": "succeeded",
                    "build": None,
                    "at": now_iso(),
                    "by": "odooplane dev",
                    "database": "new" if prepared.created_database else "existing",
                }
            )
        if state.build is None:
            state.build_info = working_tree_build(prepared)
        store.env_dir(name).mkdir(parents=True, exist_ok=True)
        store.save(state)
        return state


def begin(
    prepared: PreparedEnvironment,
    *,
    url: str,
    http_port: int,
    generation: int,
    log: str,
    livereload_url: str | None,
    stop: Callable[[], None],
) -> list[str]:
    """Record that this process serves the environment; returns notes (a supervised
    process of the same environment was stopped: one Odoo serves a database)."""
    from odooplane.backends import backend_for

    project, name = prepared.project, prepared.environment
    store = StateStore(project.state_dir)
    notes: list[str] = []
    with environment_lock(project.state_dir, name):
        state = store.load(name)
        if state is None:
            raise RefusedError(f"Environment '{name}' is not recorded; prepare it first.")
        other = state.serving
        if other is not None and other.alive and other.pid != os.getpid():
            raise RefusedError(
                f"Environment '{name}' is already served by `{other.command}` "
                f"(pid {other.pid}) at {other.url}.",
                hint="Use that session, or stop it (Ctrl-C there, or "
                f"`odooplane env stop {name}`) first.",
            )
        backend = backend_for(project, name)
        running = [p for p in slots.programs(name) if backend.status(p).running]
        for program in running:
            backend.stop(program)
        if running:
            state.desired = "stopped"
            notes.append(f"stopped the supervised Odoo of '{name}': odooplane dev serves it now")
        me = psutil.Process(os.getpid())
        state.serving = Serving(
            pid=me.pid,
            pid_started=me.create_time(),
            command=current_command(),
            url=url,
            http_port=http_port,
            generation=generation,
            started_at=now_iso(),
            log=log,
            livereload_url=livereload_url,
        )
        state.status = "running"
        store.save(state)
    with _LOCAL_LOCK:
        _LOCAL[(str(project.state_dir), name)] = stop
    return notes


def _mine(project: Project, name: str, change: Callable[[EnvState], None]) -> None:
    store = StateStore(project.state_dir)
    try:
        with environment_lock(project.state_dir, name, timeout=_UPDATE_WAIT):
            state = store.load(name)
            if state is None or state.serving is None or state.serving.pid != os.getpid():
                return  # destroyed, or taken over: nothing of ours to write
            change(state)
            store.save(state)
    except LockedError:
        return


def update(project: Project, name: str, generation: int) -> None:
    """The session now serves ``generation``."""

    def change(state: EnvState) -> None:
        assert state.serving is not None
        state.serving.generation = generation

    _mine(project, name, change)


def end(project: Project, name: str) -> None:
    """The session stopped: the environment is stopped."""
    with _LOCAL_LOCK:
        registered = _LOCAL.pop((str(project.state_dir), name), None) is not None
    if not registered:
        return  # ended by :func:`stop_session`, whose caller writes the state

    def change(state: EnvState) -> None:
        state.serving = None
        state.status = "stopped"

    _mine(project, name, change)


def live_session(state: EnvState) -> Serving | None:
    """The session serving ``state``'s environment now, or None (none, or it died)."""
    serving = state.serving
    return serving if serving is not None and serving.alive else None


def stop_session(project: Project, state: EnvState, *, timeout: float = 60.0) -> str | None:
    """End the session serving the environment, if any; returns what was done. Called
    under the environment's lock: the session then leaves the state to the caller."""
    serving = live_session(state)
    if serving is None:
        return None
    if serving.pid == os.getpid():
        with _LOCAL_LOCK:
            stop = _LOCAL.pop((str(project.state_dir), state.name), None)
        if stop is not None:
            stop()
        return f"stopped the odooplane dev session serving {serving.url}"
    with contextlib.suppress(ProcessLookupError):
        os.kill(serving.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while serving.alive and time.monotonic() < deadline:
        time.sleep(0.2)
    if serving.alive:
        raise RefusedError(
            f"The odooplane dev session (pid {serving.pid}) serving '{state.name}' did not "
            f"stop within {timeout:.0f} s.",
            hint="Stop it in its terminal (Ctrl-C), then run this command again.",
        )
    return f"stopped the odooplane dev session (pid {serving.pid}) serving {serving.url}"
