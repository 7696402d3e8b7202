"""What the evidence store gives back: plain, typed, JSON-ready records."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from odooplane.results import Result

# "interrupted": the process running the deployment died; the recovery that followed
# closed it (and says, in its own record, what it did about it).
Outcome = Literal["succeeded", "failed", "rolled_back", "cancelled", "interrupted"]
OUTCOMES: tuple[str, ...] = ("succeeded", "failed", "rolled_back", "cancelled", "interrupted")
StepStatus = Literal["succeeded", "failed", "skipped", "interrupted"]
STEP_STATUSES: tuple[str, ...] = ("succeeded", "failed", "skipped", "interrupted")
# A deployment with no "finished" event yet: running, or its process died.
RUNNING = "running"


@dataclass(frozen=True)
class BuildRecord(Result):
    id: uuid.UUID
    project: str
    git_sha: str
    branch: str | None
    commit_message: str | None
    author: str | None
    committed_at: datetime | None
    odoo_series: str | None
    odoo_revision: str | None
    dependencies_hash: str | None
    recorded_at: datetime


@dataclass(frozen=True)
class BuildImageRecord(Result):
    """The OCI image a build ran from (Docker backend), recorded with the build."""

    id: uuid.UUID
    project: str
    build_id: uuid.UUID
    git_sha: str
    image_id: str
    tag: str | None
    base_image: str | None
    base_image_id: str | None
    layers: dict[str, str] | None
    size_bytes: int | None
    recorded_at: datetime

    @property
    def short_id(self) -> str:
        """The image id as ``docker images`` shows it (12 hex digits)."""
        return short_image_id(self.image_id)


def short_image_id(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


@dataclass(frozen=True)
class DeploymentSummary(Result):
    id: uuid.UUID
    project: str
    environment: str
    kind: str
    git_sha: str
    build_id: uuid.UUID | None
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    duration_ms: int | None
    approved_by: str | None
    previous_deployment_id: uuid.UUID | None
    rollback_of: uuid.UUID | None
    recorded_by: str | None
    artifacts_dir: str | None
    # The image the build ran from, when it ran in a container (the one recorded for
    # the build by the time the deployment started).
    image_id: str | None = None

    @property
    def short_id(self) -> str:
        return self.id.hex[:8]


@dataclass(frozen=True)
class EventRecord(Result):
    id: uuid.UUID
    seq: int
    at: datetime
    kind: str
    step: str | None
    status: str | None
    duration_ms: int | None
    artifact_path: str | None
    artifact_sha256: str | None
    artifact_bytes: int | None
    data: dict[str, Any] | None


@dataclass(frozen=True)
class StepRecord(Result):
    """A step, assembled from its ``step_started`` and ``step_finished`` events."""

    name: str
    index: int
    status: str
    started_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    artifact_path: str | None
    artifact_sha256: str | None
    artifact_bytes: int | None
    error: str | None


@dataclass(frozen=True)
class MigrationRecord(Result):
    id: uuid.UUID
    module: str
    from_version: str | None
    to_version: str | None
    scripts: list[str]
    status: str
    started_at: datetime
    duration_ms: int | None


@dataclass(frozen=True)
class HealthCheckRecord(Result):
    name: str
    status: str
    at: datetime
    detail: str | None
    duration_ms: int | None


@dataclass(frozen=True)
class GateRunRecord(Result):
    id: uuid.UUID
    gate: str
    status: str
    git_sha: str | None
    build_id: uuid.UUID | None
    environment: str | None
    deployment_id: uuid.UUID | None
    started_at: datetime
    duration_ms: int | None
    summary: str | None
    details: dict[str, Any] | None
    artifact_path: str | None
    artifact_sha256: str | None


@dataclass(frozen=True)
class NeutralizationRecord(Result):
    id: uuid.UUID
    environment: str
    database: str
    source_database: str | None
    status: str
    started_at: datetime
    duration_ms: int | None
    rules: list[Any]
    verification: dict[str, Any] | None
    artifact_path: str | None
    artifact_sha256: str | None


@dataclass(frozen=True)
class DeploymentDetail(Result):
    summary: DeploymentSummary
    build: BuildRecord | None
    steps: list[StepRecord]
    events: list[EventRecord]
    migrations: list[MigrationRecord]
    health_checks: list[HealthCheckRecord]
    gate_runs: list[GateRunRecord]
    # The "finished" event's data: error, rollback taken, notes.
    result: dict[str, Any] = field(default_factory=dict)
    rollbacks: list[DeploymentSummary] = field(default_factory=list)
    # Every image recorded for the build, oldest first.
    images: list[BuildImageRecord] = field(default_factory=list)

    @property
    def id(self) -> uuid.UUID:
        return self.summary.id


@dataclass(frozen=True)
class StepLog(Result):
    step: StepRecord
    path: Path | None
    text: str | None
    # True when the artifact's sha256 matches the record, None when it cannot be checked.
    verified: bool | None


# -- rows of the ops tables as records -------------------------------------------------


def summary_from_row(row: Mapping[Any, Any]) -> DeploymentSummary:
    return DeploymentSummary(
        id=row["id"],
        project=row["project"],
        environment=row["environment"],
        kind=row["kind"],
        git_sha=row["git_sha"],
        build_id=row["build_id"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        outcome=row["outcome"] or RUNNING,
        duration_ms=row["duration_ms"],
        approved_by=row["approved_by"],
        previous_deployment_id=row["previous_deployment_id"],
        rollback_of=row["rollback_of"],
        recorded_by=row["recorded_by"],
        artifacts_dir=row["artifacts_dir"],
        image_id=row.get("image_id"),
    )


def event_from_row(row: Mapping[Any, Any]) -> EventRecord:
    return EventRecord(
        id=row["id"],
        seq=row["seq"],
        at=row["at"],
        kind=row["kind"],
        step=row["step"],
        status=row["status"],
        duration_ms=row["duration_ms"],
        artifact_path=row["artifact_path"],
        artifact_sha256=row["artifact_sha256"],
        artifact_bytes=row["artifact_bytes"],
        data=row["data"],
    )


def steps_from_events(events: Sequence[EventRecord]) -> list[StepRecord]:
    started: dict[int, EventRecord] = {}
    finished: dict[int, EventRecord] = {}
    for event in events:
        index = int((event.data or {}).get("index", event.seq))
        if event.kind == "step_started":
            started[index] = event
        elif event.kind == "step_finished":
            finished[index] = event
    steps = []
    for index in sorted(started):
        begin = started[index]
        end = finished.get(index)
        steps.append(
            StepRecord(
                name=begin.step or f"step {index}",
                index=index,
                status=(end.status or "unknown") if end is not None else RUNNING,
                started_at=begin.at,
                finished_at=end.at if end is not None else None,
                duration_ms=end.duration_ms if end is not None else None,
                artifact_path=(end or begin).artifact_path,
                artifact_sha256=end.artifact_sha256 if end is not None else None,
                artifact_bytes=end.artifact_bytes if end is not None else None,
                error=(end.data or {}).get("error") if end is not None else None,
            )
        )
    return steps


def gate_run_from_row(row: Mapping[Any, Any]) -> GateRunRecord:
    return GateRunRecord(
        id=row["id"],
        gate=row["gate"],
        status=row["status"],
        git_sha=row["git_sha"],
        build_id=row["build_id"],
        environment=row["environment"],
        deployment_id=row["deployment_id"],
        started_at=row["started_at"],
        duration_ms=row["duration_ms"],
        summary=row["summary"],
        details=row["details"],
        artifact_path=row["artifact_path"],
        artifact_sha256=row["artifact_sha256"],
    )


def neutralization_from_row(row: Mapping[Any, Any]) -> NeutralizationRecord:
    return NeutralizationRecord(
        id=row["id"],
        environment=row["environment"],
        database=row["database"],
        source_database=row["source_database"],
        status=row["status"],
        started_at=row["started_at"],
        duration_ms=row["duration_ms"],
        rules=list(row["rules"] or []),
        verification=row["verification"],
        artifact_path=row["artifact_path"],
        artifact_sha256=row["artifact_sha256"],
    )
