"""One lock per environment, so two commands never change the same one at once.

The lock is an ``flock`` on ``<state>/locks/<name>.lock`` (the kernel releases it when
the holder dies, even by SIGKILL, so a crash never leaves a stale lock). Beside it,
``<name>.holder.json`` says who holds it: pid, command line, since when. A second
command waits up to its timeout, then fails with a sentence naming the holder.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import filelock

from odooplane.environments.state import now_iso, process_alive
from odooplane.errors import LockedError
from odooplane.fsutil import read_json, write_json_atomic

if TYPE_CHECKING:
    from odooplane.project import Project

DEFAULT_TIMEOUT = 60.0
TIMEOUT_ENV = "ODOOPLANE_LOCK_TIMEOUT"
# The command line a detached worker runs on behalf of (shown as the lock's holder).
COMMAND_ENV = "ODOOPLANE_COMMAND"


def default_timeout() -> float:
    raw = os.environ.get(TIMEOUT_ENV)
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
    return DEFAULT_TIMEOUT


def locks_dir(state_dir: Path) -> Path:
    return state_dir / "locks"


def current_command() -> str:
    given = os.environ.get(COMMAND_ENV)
    if given:
        return given
    argv = list(sys.argv)
    if argv and argv[0].endswith(("odooplane", "__main__.py")):
        argv[0] = "odooplane"
    return shlex.join(argv)


def read_holder(state_dir: Path, name: str) -> dict[str, Any] | None:
    try:
        data = read_json(locks_dir(state_dir) / f"{name}.holder.json")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def describe_holder(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "another odooplane command (its description is missing)"
    return (
        f"pid {holder.get('pid')} running `{holder.get('command', '?')}` "
        f"since {holder.get('since', '?')}"
    )


@contextmanager
def environment_lock(
    state_dir: Path,
    name: str,
    *,
    command: str | None = None,
    timeout: float | None = None,
) -> Iterator[None]:
    """Hold the lock of environment ``name``; raise LockedError after ``timeout``."""
    folder = locks_dir(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    wait = default_timeout() if timeout is None else timeout
    lock = filelock.FileLock(str(folder / f"{name}.lock"), timeout=wait)
    try:
        lock.acquire(poll_interval=0.1)
    except filelock.Timeout:
        holder = read_holder(state_dir, name)
        raise LockedError(
            f"Environment '{name}' is busy: {describe_holder(holder)}; waited {wait:g} s for it.",
            hint="Wait for that command to finish, or raise the wait with "
            f"--wait SECONDS (or {TIMEOUT_ENV}).",
        ) from None
    holder_path = folder / f"{name}.holder.json"
    me = os.getpid()
    try:
        write_json_atomic(
            holder_path,
            {"pid": me, "command": command or current_command(), "since": now_iso()},
        )
        yield
    finally:
        # Only remove the description we wrote: a later holder may have replaced it.
        current = read_holder(state_dir, name)
        if current and current.get("pid") == me:
            holder_path.unlink(missing_ok=True)
        lock.release()


def lock_holder(state_dir: Path, name: str) -> dict[str, Any] | None:
    """Who holds environment ``name``'s lock right now, or None when it is free."""
    holder = read_holder(state_dir, name)
    if holder is None:
        return None
    pid = holder.get("pid")
    if not isinstance(pid, int) or not process_alive(pid, None):
        return None
    probe = filelock.FileLock(str(locks_dir(state_dir) / f"{name}.lock"), timeout=0)
    try:
        probe.acquire(poll_interval=0.05)
    except filelock.Timeout:
        return holder
    probe.release()
    return None


def owners_of(project: Project, databases: Iterable[str]) -> list[str]:
    """The environments whose database (or one of its snapshots) is among ``databases``."""
    from odooplane.postgres.protection import SNAPSHOT_SEPARATOR

    config = project.config
    by_database = {config.database_name(name): name for name in config.environments}
    found = set()
    for database in databases:
        base = database.split(SNAPSHOT_SEPARATOR, 1)[0]
        if base in by_database:
            found.add(by_database[base])
    return sorted(found)


@contextmanager
def databases_lock(
    project: Project,
    databases: Iterable[str],
    *,
    timeout: float | None = None,
    command: str | None = None,
) -> Iterator[list[str]]:
    """Hold the lock of every environment owning one of ``databases`` (a database
    command must not drop, replace or end the sessions of a database a deploy is
    changing). Locks are taken in name order, so two such commands never deadlock."""
    names = owners_of(project, databases)
    with ExitStack() as stack:
        for name in names:
            stack.enter_context(
                environment_lock(project.state_dir, name, command=command, timeout=timeout)
            )
        yield names
