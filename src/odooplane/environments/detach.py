"""Operations that do not depend on the terminal that started them.

:func:`start` runs a lifecycle verb (deploy, start, restart) in a worker process of its
own session (``setsid``): it takes the environment's lock, writes the operation journal
and records the evidence, exactly as the verb called in-process would. The client only
follows it (:func:`follow`): the worker writes one JSON line per event to
``<state>/operations/<id>.jsonl`` (progress, then the result or the error) and its raw
output to ``<id>.log``. Killing the client, closing its terminal or losing its SSH
session leaves the operation running to its end. When the worker itself dies, its
journal says so and the keeper (:mod:`~odooplane.environments.keeper`) recovers the
environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped, unused-ignore]

from odooplane.environments.locks import COMMAND_ENV, current_command
from odooplane.errors import EXIT_UNEXPECTED, OdooplaneError
from odooplane.fsutil import write_json_atomic
from odooplane.progress import Progress, ProgressEvent
from odooplane.project import Project

VERBS = ("deploy", "start", "restart")
# Operations whose files are kept (request, events, output), newest first.
KEEP = 50
# How often a client looks for new events.
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Ticket:
    """A detached operation: what it runs and where it writes."""

    id: str
    verb: str
    environment: str
    pid: int
    pid_started: float
    events: Path
    log: Path

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "verb": self.verb,
            "environment": self.environment,
            "pid": self.pid,
            "events": str(self.events),
            "log": str(self.log),
        }


class OperationError(OdooplaneError):
    """The error a detached operation ended with, as the client re-raises it."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None,
        exit_code: int,
        result: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.exit_code = exit_code
        self.result = result


def operations_dir(project: Project) -> Path:
    return project.state_dir / "operations"


def start(project: Project, verb: str, environment: str, **kwargs: Any) -> Ticket:
    """Start ``verb`` on ``environment`` in a detached worker; returns at once.

    ``kwargs`` are the verb's keyword arguments (JSON values only).
    """
    if verb not in VERBS:
        raise ValueError(f"{verb} is not a detachable verb")
    folder = operations_dir(project)
    folder.mkdir(parents=True, exist_ok=True)
    op_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{verb}-{environment}-{uuid.uuid4().hex[:6]}"
    request = folder / f"{op_id}.request.json"
    events = folder / f"{op_id}.jsonl"
    log = folder / f"{op_id}.log"
    write_json_atomic(
        request,
        {"verb": verb, "environment": environment, "kwargs": kwargs, "root": str(project.root)},
    )
    events.touch()
    _prune(folder)
    env = dict(os.environ)
    env[COMMAND_ENV] = current_command()
    with log.open("ab") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "odooplane.environments.worker", str(request), str(events)],
            cwd=project.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            close_fds=True,
            # Its own session: no terminal, no SIGHUP or Ctrl-C from the client's.
            start_new_session=True,
        )
    try:
        started = psutil.Process(worker.pid).create_time()
    except psutil.Error:
        started = time.time()
    return Ticket(op_id, verb, environment, worker.pid, started, events, log)


def _prune(folder: Path) -> None:
    ids = sorted({p.name.split(".", 1)[0] for p in folder.glob("*.request.json")})
    for old in ids[:-KEEP]:
        for path in folder.glob(f"{old}.*"):
            path.unlink(missing_ok=True)


def _alive(ticket: Ticket) -> bool:
    try:
        proc = psutil.Process(ticket.pid)
        if abs(proc.create_time() - ticket.pid_started) > 1.0:
            return False
        return bool(proc.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def events(ticket: Ticket, *, poll: float = POLL_SECONDS) -> Iterator[dict[str, Any]]:
    """The operation's events as they are written, until its last one (``result`` or
    ``error``), or a ``died`` event when the worker is gone without one."""
    offset = 0
    pending = b""
    while True:
        alive = _alive(ticket)
        with ticket.events.open("rb") as fh:
            fh.seek(offset)
            chunk = fh.read()
        offset += len(chunk)
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            if not raw.strip():
                continue
            event = json.loads(raw)
            yield event
            if event.get("type") in ("result", "error"):
                return
        if not alive and not chunk:
            yield {"type": "died", "pid": ticket.pid}
            return
        time.sleep(poll)


def follow(ticket: Ticket, *, on_progress: Progress | None = None) -> dict[str, Any]:
    """Wait for the operation's result, handing its progress events to ``on_progress``.

    Raises :class:`OperationError` with the operation's own error (message, hint, exit
    code, and its result when it has one, e.g. a rolled-back deploy).
    """
    for event in events(ticket):
        kind = event.get("type")
        if kind == "progress" and on_progress is not None:
            on_progress(
                ProgressEvent(
                    str(event.get("text", "")),
                    int(event.get("done") or 0),
                    int(event.get("total") or 0),
                    event.get("warning"),
                )
            )
        elif kind == "result":
            return dict(event.get("data") or {})
        elif kind == "error":
            raise OperationError(
                str(event.get("message")),
                hint=event.get("hint"),
                exit_code=int(event.get("exit_code", EXIT_UNEXPECTED)),
                result=event.get("result"),
            )
        elif kind == "died":
            raise OperationError(
                f"The `{ticket.verb}` of '{ticket.environment}' (process {ticket.pid}) died "
                "before it finished.",
                hint="The keeper recovers the environment within seconds: see "
                f"`odooplane env status {ticket.environment}`; its output is in {ticket.log}.",
                exit_code=1,
            )
    raise OperationError(
        f"The `{ticket.verb}` of '{ticket.environment}' ended without a result.",
        hint=f"Its output is in {ticket.log}.",
        exit_code=EXIT_UNEXPECTED,
    )


class EventWriter:
    """The worker's side: one JSON line per event, appended and flushed."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, **event: Any) -> None:
        line = json.dumps(event, default=str) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def progress(self, event: ProgressEvent) -> None:
        self.write(
            type="progress",
            text=event.phase,
            done=event.done,
            total=event.total,
            warning=event.warning,
        )

    def error(self, exc: BaseException, log: Path | None = None) -> int:
        if isinstance(exc, OdooplaneError):
            self.write(
                type="error",
                message=exc.message,
                hint=exc.hint,
                exit_code=exc.exit_code,
                result=getattr(exc, "result", None),
            )
            return exc.exit_code
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        sys.stderr.write(trace)
        self.write(
            type="error",
            message=f"{type(exc).__name__}: {exc}",
            hint=f"The full traceback is in {log}; please attach it to a bug report."
            if log
            else None,
            exit_code=EXIT_UNEXPECTED,
        )
        return EXIT_UNEXPECTED
