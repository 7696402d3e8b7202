"""What the evidence store gives back: plain, typed, JSON-ready records."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

Outcome = Literal["succeeded", "failed", "rolled_back", "cancelled"]
OUTCOMES: tuple[str, ...] = ("succeeded", "failed", "rolled_back", "cancelled")
StepStatus = Literal["succeeded", "failed", "skipped"]
STEP_STATUSES: tuple[str, ...] = ("succeeded", "failed", "skipped")
# A deployment with no "finished" event yet: running, or its process died.
RUNNING = "running"


def jsonable(value: Any) -> Any:
    """Records as JSON-friendly data (UUIDs, datetimes and paths as strings)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (uuid.UUID, Path)):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class BuildRecord:
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

    def to_dict(self) -> dict[str, Any]:
        return dict(jsonable(self))


@dataclass(frozen=True)
class DeploymentSummary:
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

    @property
    def short_id(self) -> str:
        return self.id.hex[:8]

    def to_dict(self) -> dict[str, Any]:
        return dict(jsonable(self))


@dataclass(frozen=True)
class EventRecord:
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
class StepRecord:
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
class MigrationRecord:
    id: uuid.UUID
    module: str
    from_version: str | None
    to_version: str | None
    scripts: list[str]
    status: str
    started_at: datetime
    duration_ms: int | None


@dataclass(frozen=True)
class HealthCheckRecord:
    name: str
    status: str
    at: datetime
    detail: str | None
    duration_ms: int | None


@dataclass(frozen=True)
class GateRunRecord:
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

    def to_dict(self) -> dict[str, Any]:
        return dict(jsonable(self))


@dataclass(frozen=True)
class NeutralizationRecord:
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

    def to_dict(self) -> dict[str, Any]:
        return dict(jsonable(self))


@dataclass(frozen=True)
class DeploymentDetail:
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

    @property
    def id(self) -> uuid.UUID:
        return self.summary.id

    def to_dict(self) -> dict[str, Any]:
        return dict(jsonable(self))


@dataclass(frozen=True)
class StepLog:
    step: StepRecord
    path: Path | None
    text: str | None
    # True when the artifact's sha256 matches the record, None when it cannot be checked.
    verified: bool | None

    def to_dict(self) -> dict[str, Any]:
        return dict(jsonable(self))
