"""Recording a deployment as it happens: steps, their output, migrations, health checks.

Every call appends rows (never edits them): ``step_started`` / ``step_finished`` events,
``migrations`` rows, ``health_check`` events and one ``finished`` event carrying the
outcome. The full output of each step goes to its own log artifact, redacted line by
line as it is written.
"""

from __future__ import annotations

import contextlib
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from odooplane.errors import ExternalToolError, OdooplaneError, UsageError
from odooplane.evidence import schema
from odooplane.evidence.artifacts import ArtifactWriter, slug
from odooplane.evidence.records import OUTCOMES, STEP_STATUSES, DeploymentSummary
from odooplane.evidence.redact import key_looks_secret
from odooplane.fsutil import write_json_atomic
from odooplane.runner import CannotStart, run_streaming

if TYPE_CHECKING:
    from odooplane.evidence.store import EvidenceStore

_FINISHED_NS = uuid.UUID("6f6f7073-0000-4000-8000-66696e697368")
# Events a recovery adds to a deployment whose process died: numbered after anything the
# dead process may still have in a spool, their ids derived so that a second recovery
# adds nothing.
RECOVERY_SEQ = 1_000_000
_CLOSED_STEP_NS = uuid.UUID("6f6f7073-0000-4000-8000-636c6f736564")


def finished_event_id(deployment_id: uuid.UUID) -> uuid.UUID:
    """The id of a deployment's one "finished" event."""
    return uuid.uuid5(_FINISHED_NS, str(deployment_id))


def closed_step_event_id(deployment_id: uuid.UUID, index: int) -> uuid.UUID:
    return uuid.uuid5(_CLOSED_STEP_NS, f"{deployment_id}:{index}")


def _ms(start: datetime, end: datetime) -> int:
    return max(0, round((end - start).total_seconds() * 1000))


class OutputCapture:
    """The log artifact of one step (or gate run, or neutralization) being written.

    ``write``/``line`` append text; :meth:`run` runs a program with its stdout and
    stderr going, in order, to the artifact. Set :attr:`status` (or call :meth:`fail` /
    :meth:`skip`) to override the status the step gets when its block ends.
    """

    def __init__(self, name: str, writer: ArtifactWriter, store: EvidenceStore) -> None:
        self.name = name
        self.path = writer.path
        self._writer = writer
        self._store = store
        self.status: str | None = None
        self.error: str | None = None

    def write(self, text: str) -> None:
        self._writer.write(text)

    def line(self, text: str = "") -> None:
        self._writer.write(text + "\n")

    def fail(self, message: str) -> None:
        """Mark the step failed without raising (the caller decides what happens next)."""
        self.status = "failed"
        self.error = self._store.redactor.text(message)
        self.line(f"error: {message}")

    def skip(self, reason: str) -> None:
        self.status = "skipped"
        self.line(f"skipped: {reason}")

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        check: bool = True,
        echo: Callable[[str], None] | None = None,
    ) -> int:
        """Run ``argv``; its combined output goes to the artifact (and to ``echo``).

        Returns the exit code; with ``check`` a non-zero exit raises
        :class:`ExternalToolError` naming the artifact.
        """
        if env is not None:
            # Values a program is handed under secret-looking names are secrets too.
            self._store.redactor.add_mapping({k: v for k, v in env.items() if key_looks_secret(k)})
        self.line(f"$ {' '.join(str(a) for a in argv)}")
        started = time.monotonic()

        def line(text: str) -> None:
            self.write(text)
            if echo is not None:
                echo(self._store.redactor.text(text.rstrip("\n")))

        try:
            result = run_streaming(
                argv, cwd=cwd, env=env, timeout=timeout, on_line=line, keep_output=0
            )
        except CannotStart as exc:
            self.line(f"error: cannot start {argv[0]}: {exc.strerror}")
            raise ExternalToolError(
                f"Step '{self.name}': cannot start `{argv[0]}` ({exc.strerror})."
            ) from None
        code = result.code
        elapsed = time.monotonic() - started
        if result.timed_out:
            self.line(f"[killed after {timeout:g}s timeout]")
            raise ExternalToolError(
                f"Step '{self.name}': `{argv[0]}` did not finish within {timeout:g} s; "
                f"its output is in {self.path}."
            )
        self.line(f"[exit {code} after {elapsed:.1f}s]")
        if check and code != 0:
            raise ExternalToolError(
                f"Step '{self.name}': `{Path(str(argv[0])).name}` exited with code {code}; "
                f"its output is in {self.path}."
            )
        return code

    def _describe_exception(self, exc: BaseException) -> str:
        if isinstance(exc, OdooplaneError):
            self.line(f"error: {exc.message}")
            if exc.hint:
                self.line(f"hint: {exc.hint}")
            return exc.message
        self.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        return f"{type(exc).__name__}: {exc}"

    def close(self) -> tuple[str | None, int]:
        """Close the artifact; a log that could not be written becomes a warning of the
        store (the operation it records goes on)."""
        sha, size = self._writer.close()
        if self._writer.error is not None:
            self._store.warn(
                f"The log of step '{self.name}' could not be written ({self._writer.error}); "
                "its last lines are kept in the record instead."
            )
        return sha, size

    @property
    def artifact_error(self) -> str | None:
        return self._writer.error

    @property
    def tail(self) -> str:
        return self._writer.tail


class DeploymentRecorder:
    """Records one deployment; get it from :meth:`EvidenceStore.start_deployment`.

    Use it as a context manager: leaving the block with an exception records the
    outcome ``failed`` (unless :meth:`finish` was called), leaving it normally records
    ``succeeded``.
    """

    def __init__(
        self,
        store: EvidenceStore,
        *,
        deployment_id: uuid.UUID,
        environment: str,
        git_sha: str,
        started_at: datetime,
        topic_dir: Path,
        row: dict[str, Any],
    ) -> None:
        self.store = store
        self.id = deployment_id
        self.environment = environment
        self.git_sha = git_sha
        self.started_at = started_at
        self.topic_dir = topic_dir
        self.logs_dir = topic_dir / "logs"
        self._seq = 0
        self._steps = 0
        self._health: list[dict[str, Any]] = []
        self._migrations = 0
        self._mirror: dict[str, Any] = {"deployment": row, "events": [], "migrations": []}
        self._open_step: str | None = None
        self.outcome: str | None = None
        self._lock = threading.Lock()

    @property
    def short_id(self) -> str:
        return self.id.hex[:8]

    # -- events -----------------------------------------------------------------------

    def _event(
        self, kind: str, *, event_id: uuid.UUID | None = None, **values: Any
    ) -> dict[str, Any]:
        if self.outcome is not None:
            raise UsageError(
                f"Deployment {self.short_id} is already finished ({self.outcome}); "
                "record a new deployment instead."
            )
        with self._lock:
            self._seq += 1
            seq = self._seq
        row = {
            "id": event_id or uuid.uuid4(),
            "deployment_id": self.id,
            "seq": seq,
            "at": values.pop("at", None) or self.store.now(),
            "kind": kind,
            **values,
        }
        stored = self.store._write([(schema.deployment_events, row)])
        self._mirror["events"].append(stored[0])
        return stored[0]

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[OutputCapture]:
        """A step: timing, status and its full output as an artifact.

        An exception inside the block marks the step failed (its message or traceback
        goes into the log) and propagates.
        """
        if not name.strip():
            raise UsageError("A deployment step needs a name.")
        self._steps += 1
        index = self._steps
        path = self.logs_dir / f"{index:02d}-{slug(name)}.log"
        stored_path = self.store.layout.to_record(path)
        capture = OutputCapture(name, ArtifactWriter(path, self.store.redactor), self.store)
        started = self.store.now()
        self._event(
            "step_started",
            step=name,
            at=started,
            artifact_path=stored_path,
            data={"index": index},
        )
        error: str | None = None
        status = "succeeded"
        try:
            yield capture
        except BaseException as exc:
            status = "failed"
            error = capture._describe_exception(exc)
            raise
        finally:
            if capture.status is not None and capture.status in STEP_STATUSES:
                status = capture.status if error is None else "failed"
            error = error or capture.error
            sha, size = capture.close()
            ended = self.store.now()
            data: dict[str, Any] = {"index": index, "error": error}
            if capture.artifact_error is not None:
                data["artifact_error"] = capture.artifact_error
                data["output_tail"] = capture.tail
            self._event(
                "step_finished",
                step=name,
                at=ended,
                status=status,
                duration_ms=_ms(started, ended),
                artifact_path=stored_path,
                artifact_sha256=sha,
                artifact_bytes=size,
                data=data,
            )

    def record_migration(
        self,
        module: str,
        *,
        from_version: str | None,
        to_version: str | None,
        scripts: Sequence[str] = (),
        status: str = "succeeded",
        started_at: datetime | None = None,
        duration_s: float | None = None,
    ) -> uuid.UUID:
        """A module upgraded (or installed: ``from_version`` None) by this deployment."""
        row = {
            "id": uuid.uuid4(),
            "deployment_id": self.id,
            "module": module,
            "from_version": from_version,
            "to_version": to_version,
            "scripts": list(scripts),
            "status": status,
            "started_at": started_at or self.store.now(),
            "duration_ms": None if duration_s is None else round(duration_s * 1000),
            "recorded_at": self.store.now(),
        }
        stored = self.store._write([(schema.migrations, row)])
        self._mirror["migrations"].append(stored[0])
        self._migrations += 1
        return uuid.UUID(str(row["id"]))

    def record_health_check(
        self,
        name: str,
        *,
        ok: bool,
        detail: str | None = None,
        duration_s: float | None = None,
    ) -> None:
        status = "passed" if ok else "failed"
        self._health.append({"name": name, "status": status, "detail": detail})
        self._event(
            "health_check",
            step=name,
            status=status,
            duration_ms=None if duration_s is None else round(duration_s * 1000),
            data={"name": name, "detail": detail},
        )

    def note(self, message: str, **data: Any) -> None:
        """A free-form remark in the timeline (a decision, a retry, a warning)."""
        self._event("note", data={"message": message, **data})

    def finish(
        self,
        outcome: str,
        *,
        error: str | None = None,
        rollback: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> DeploymentSummary:
        """Record the outcome (once): succeeded, failed, rolled_back, cancelled or
        interrupted.

        ``rollback`` says what was done to undo a failure (e.g. ``{"snapshot": name,
        "restored_sha": sha, "deployment_id": id}``).
        """
        if outcome not in OUTCOMES:
            raise UsageError(
                f"'{outcome}' is not a deployment outcome; use one of {', '.join(OUTCOMES)}."
            )
        ended = self.store.now()
        payload: dict[str, Any] = dict(data or {})
        payload.update(
            {
                "error": error,
                "rollback": dict(rollback) if rollback else None,
                "health_checks": self._health,
                "steps": self._steps,
                "migrations": self._migrations,
            }
        )
        self._event(
            "finished",
            event_id=finished_event_id(self.id),
            at=ended,
            status=outcome,
            duration_ms=_ms(self.started_at, ended),
            data=payload,
        )
        self.outcome = outcome
        try:
            write_json_atomic(self.topic_dir / "record.json", self._mirror)
        except OSError as exc:
            self.store.warn(
                f"The copy of deployment {self.short_id}'s record beside its logs could not "
                f"be written ({exc.strerror or exc}); the evidence store holds the record."
            )
        return DeploymentSummary(
            id=self.id,
            project=self.store.project_name,
            environment=self.environment,
            kind=str(self._mirror["deployment"]["kind"]),
            git_sha=self.git_sha,
            build_id=self._mirror["deployment"]["build_id"],
            started_at=self.started_at,
            finished_at=ended,
            outcome=outcome,
            duration_ms=_ms(self.started_at, ended),
            approved_by=self._mirror["deployment"]["approved_by"],
            previous_deployment_id=self._mirror["deployment"]["previous_deployment_id"],
            rollback_of=self._mirror["deployment"]["rollback_of"],
            recorded_by=self._mirror["deployment"]["recorded_by"],
            artifacts_dir=self._mirror["deployment"]["artifacts_dir"],
        )

    def __enter__(self) -> DeploymentRecorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.outcome is not None:
            return
        if exc is None:
            self.finish("succeeded")
        elif isinstance(exc, KeyboardInterrupt):
            self.finish("cancelled", error="interrupted")
        else:
            message = exc.message if isinstance(exc, OdooplaneError) else f"{exc}"
            self.finish("failed", error=message or type(exc).__name__)
