"""What is deployed where: one JSON file per environment, written atomically.

``<state>/environments/<name>/state.json`` holds the environment's database, ports,
current and previous build, neutralization outcome, a short deployment history and,
while a command changes the environment, the *operation journal*: which command (pid
and process start time), which phase, which snapshot and build it is working with.
A command killed mid-way leaves that journal behind; :func:`interrupted_operation`
recognises it (the pid is gone or now belongs to another process) and the next
command under the environment's lock finishes or undoes the work. Reading the file
therefore never lies about a crash: ``status`` shows the interrupted operation.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped, unused-ignore]

from odooplane.errors import ConfigError
from odooplane.fsutil import read_json, write_json_atomic
from odooplane.results import Result

STATE_VERSION = 1
HISTORY_KEEP = 20


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def environments_dir(state_dir: Path) -> Path:
    return state_dir / "environments"


def environment_dir(state_dir: Path, name: str) -> Path:
    return environments_dir(state_dir) / name


@dataclass
class Operation(Result):
    """The journal of a command changing an environment; removed when it ends."""

    op: str
    pid: int
    pid_started: float
    started_at: str
    command: str
    phase: str = "begun"
    phases: list[dict[str, Any]] = field(default_factory=list)
    target_build: str | None = None
    previous_build: str | None = None
    snapshot: str | None = None
    deployment_id: str | None = None
    # Blue/green deploys: the slot being started, and the one serving before.
    slot: str | None = None
    previous_slot: str | None = None
    # "switch" (code only: the old build serves until the new one is healthy) or
    # "maintenance" (modules change: a maintenance page while they do).
    mode: str | None = None
    # The step of the evidence record running now (for the record of an interruption).
    step: str | None = None
    # The snapshot name the database replaced by an undo is kept as (chosen before the
    # renames, so a recovery that dies half-way finds them done).
    replaced_as: str | None = None
    child_pid: int | None = None
    child_started: float | None = None
    # What the backend needs to end that child when killing its pid is not enough (the
    # Docker backend: the one-off container, which outlives its `docker run` client).
    child_handle: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Operation:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Serving(Result):
    """Who serves an environment in the foreground (``odooplane dev``), recorded while
    it does: a process that died without saying so is seen as gone by its pid."""

    pid: int
    pid_started: float
    command: str
    url: str
    http_port: int
    generation: int
    started_at: str
    log: str
    livereload_url: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Serving:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def alive(self) -> bool:
        return process_alive(self.pid, self.pid_started)


@dataclass
class EnvState(Result):
    name: str
    kind: str
    database: str
    created_at: str = field(default_factory=now_iso)
    status: str = "new"  # new | ready | running | stopped | failed | refused
    desired: str = "stopped"  # what the last start/stop asked for
    build: str | None = None  # build id (the commit SHA) currently deployed
    build_info: dict[str, Any] | None = None
    previous_build: str | None = None
    deployed_at: str | None = None
    # The environment's own address: Caddy listens there (the front door); Odoo listens
    # on the internal ports of its slots.
    http_port: int | None = None
    gevent_port: int | None = None
    # Blue/green: the slot serving (None: an environment from before slots, whose one
    # program is named after it and listens on http_port itself) and, per slot, its
    # internal ports and the build it runs ({"http": ..., "gevent": ..., "build": sha}).
    slot: str | None = None
    slots: dict[str, dict[str, Any]] = field(default_factory=dict)
    neutralization: dict[str, Any] | None = None
    operation: Operation | None = None
    serving: Serving | None = None
    last_deployment: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    version: int = STATE_VERSION

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnvState:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        op = values.get("operation")
        values["operation"] = Operation.from_dict(op) if isinstance(op, dict) else None
        serving = values.get("serving")
        values["serving"] = Serving.from_dict(serving) if isinstance(serving, dict) else None
        return cls(**values)

    def add_history(self, record: dict[str, Any]) -> None:
        self.last_deployment = record
        self.history = [record, *self.history][:HISTORY_KEEP]

    @property
    def neutralization_ok(self) -> bool:
        """False when this environment's neutralization or verification failed."""
        return not (self.neutralization and self.neutralization.get("status") == "failed")


class StateStore:
    """Reads and writes ``state.json`` files under a project's state folder."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def env_dir(self, name: str) -> Path:
        return environment_dir(self.state_dir, name)

    def path(self, name: str) -> Path:
        return self.env_dir(name) / "state.json"

    def load(self, name: str) -> EnvState | None:
        path = self.path(name)
        try:
            data = read_json(path)
        except ValueError as exc:
            # write_json_atomic never leaves half a file; a broken one was edited by hand.
            raise ConfigError(
                f"{path} is not valid JSON ({exc}).",
                hint="Restore it from a backup, or remove it and run `odooplane env create`.",
            ) from None
        if data is None:
            return None
        if not isinstance(data, dict):
            raise ConfigError(f"{path} does not hold an environment state object.")
        return EnvState.from_dict(data)

    def save(self, state: EnvState) -> None:
        write_json_atomic(self.path(state.name), state.to_dict())

    def names(self) -> list[str]:
        base = environments_dir(self.state_dir)
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if (p / "state.json").is_file())

    def delete(self, name: str) -> None:
        shutil.rmtree(self.env_dir(name), ignore_errors=True)

    # -- the operation journal ------------------------------------------------------

    def begin(self, state: EnvState, op: str, command: str, **extra: Any) -> Operation:
        me = psutil.Process(os.getpid())
        state.operation = Operation(
            op=op,
            pid=me.pid,
            pid_started=me.create_time(),
            started_at=now_iso(),
            command=command,
            **extra,
        )
        self.save(state)
        return state.operation

    def phase(self, state: EnvState, phase: str, **extra: Any) -> None:
        """Record that the operation entered ``phase`` (durably, before doing it)."""
        op = state.operation
        if op is None:
            return
        op.phase = phase
        op.phases.append({"phase": phase, "at": now_iso()})
        for key, value in extra.items():
            setattr(op, key, value)
        self.save(state)
        _pause_for_rehearsal(phase)

    def mark(self, state: EnvState, **extra: Any) -> None:
        """Record details of the current phase (durably), without entering a new one."""
        op = state.operation
        if op is None:
            return
        for key, value in extra.items():
            setattr(op, key, value)
        self.save(state)

    def end(self, state: EnvState) -> None:
        state.operation = None
        self.save(state)


# Rehearsing crashes: ``ODOOPLANE_PAUSE_AFTER_PHASE=updating:30`` makes a command sleep 30 s
# once it has journaled that phase, so a kill lands exactly there (the kill-matrix tests
# and benchmarks use it; phases otherwise last milliseconds).
PAUSE_ENV = "ODOOPLANE_PAUSE_AFTER_PHASE"


def _pause_for_rehearsal(phase: str) -> None:
    wanted = os.environ.get(PAUSE_ENV)
    if not wanted:
        return
    name, _, seconds = wanted.partition(":")
    if name == phase:
        try:
            time.sleep(float(seconds or "30"))
        except ValueError:
            return


def process_alive(pid: int | None, started: float | None) -> bool:
    """True when ``pid`` runs and is the same process (same start time) as recorded."""
    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        if started is not None and abs(proc.create_time() - started) > 1.0:
            return False
        return bool(proc.status() != psutil.STATUS_ZOMBIE)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def interrupted_operation(state: EnvState) -> Operation | None:
    """The journal of a command that died mid-way, or None."""
    op = state.operation
    if op is None:
        return None
    if op.pid == os.getpid():
        return None
    if process_alive(op.pid, op.pid_started):
        return None
    return op
