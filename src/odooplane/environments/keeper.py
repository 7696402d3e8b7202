"""The keeper: brings environments back without a person when a command dies mid-way.

A small program under the project's supervisord (``_keeper``, started by the first
command that starts an environment, restarted by supervisord if it dies). Every
:data:`INTERVAL` seconds it reads each environment's state; an operation journal whose
process is gone (a deploy killed, out of memory, its machine's terminal closed before
detached workers existed) is recovered at once under the environment's lock, as the
next command would (:func:`~odooplane.environments.recovery.recover`): the environment
serves again, the dead deployment gets its outcome and a ``recover`` record.

It never waits for a lock: an environment whose lock is held is being handled by that
command. Run it by hand with ``python -m odooplane.environments.keeper PROJECT_ROOT``.
"""

from __future__ import annotations

import sys
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from odooplane.backends.base import ProgramSpec
from odooplane.backends.supervisor import SupervisorBackend
from odooplane.environments.state import StateStore, interrupted_operation
from odooplane.errors import LockedError, OdooplaneError
from odooplane.progress import ProgressEvent
from odooplane.project import Project

PROGRAM = "_keeper"
INTERVAL = 1.0
# An environment whose recovery failed is tried again after this long, not every second.
RETRY_SECONDS = 30.0


@dataclass
class Pass:
    """What one look at the environments found and did."""

    recovered: list[str]
    failed: dict[str, str]


def _log(text: str) -> None:
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    print(f"{stamp} {text}", flush=True)


def _log_progress(event: ProgressEvent) -> None:
    # The keeper's output is its log file (supervisord keeps it): a line per event.
    _log(f"warning: {event.warning}" if event.warning else event.phase)


def look_once(project: Project, *, skip: set[str] | None = None) -> Pass:
    """Recover every environment whose operation's process is gone (not waiting for
    any lock)."""
    from odooplane.environments.context import EnvContext
    from odooplane.environments.locks import environment_lock
    from odooplane.environments.recovery import recover
    from odooplane.environments.steps import DEFAULT_HEALTH_TIMEOUT

    found = Pass(recovered=[], failed={})
    store = StateStore(project.state_dir)
    for name in store.names():
        if skip and name in skip:
            continue
        state = store.load(name)
        if state is None or interrupted_operation(state) is None:
            continue
        if name not in project.config.environments:
            continue
        try:
            with environment_lock(project.state_dir, name, timeout=0, command="keeper"):
                ctx = EnvContext(project, name)
                state = ctx.store.load(name)
                if state is None:
                    continue
                record = recover(
                    ctx, state, health_timeout=DEFAULT_HEALTH_TIMEOUT, progress=_log_progress
                )
            if record is not None:
                _log(f"{name}: recovered ({record.decision}): {'; '.join(record.actions)}")
                found.recovered.append(name)
        except LockedError:
            continue
        except OdooplaneError as exc:
            found.failed[name] = exc.message
        except Exception as exc:  # the keeper keeps going whatever one environment does
            found.failed[name] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
    return found


def run(root: Path, *, interval: float = INTERVAL) -> None:
    """Look every ``interval`` seconds, for ever."""
    from odooplane.project import load_project

    _log(f"keeper of {root} started (every {interval:g} s)")
    retry_at: dict[str, float] = {}
    while True:
        now = time.monotonic()
        waiting = {name for name, at in retry_at.items() if at > now}
        try:
            project = load_project(root)
            result = look_once(project, skip=waiting)
        except OdooplaneError as exc:
            _log(f"cannot read the project: {exc.message}")
        else:
            for name, why in result.failed.items():
                _log(f"{name}: recovery failed ({why}); trying again in {RETRY_SECONDS:g} s")
                retry_at[name] = now + RETRY_SECONDS
            for name in result.recovered:
                retry_at.pop(name, None)
        time.sleep(interval)


def spec(project: Project) -> ProgramSpec:
    import os

    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
    }
    # Where runtimes, Caddy and ports come from (and tests' overrides) stay the same.
    env.update({k: v for k, v in os.environ.items() if k.startswith("ODOOPLANE_")})
    env.pop("ODOOPLANE_COMMAND", None)
    return ProgramSpec(
        name=PROGRAM,
        argv=[sys.executable, "-m", "odooplane.environments.keeper", str(project.root)],
        cwd=project.state_dir,
        env=env,
        log_file=project.state_dir / "keeper.log",
        stop_wait_seconds=10,
        start_seconds=1,
        log_max_bytes="5MB",
    )


def ensure(project: Project) -> None:
    """The keeper runs under the project's supervisord (idempotent, cheap when it does)."""
    backend = SupervisorBackend(project.state_dir)
    if backend.status(PROGRAM).running:
        return
    backend.define(spec(project))
    backend.start(PROGRAM)


if __name__ == "__main__":
    run(Path(sys.argv[1]))
