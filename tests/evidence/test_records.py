"""What the store gives back: rows turned into typed records, steps assembled from their
events, and everything JSON-ready."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from odooplane.evidence.records import (
    OUTCOMES,
    RUNNING,
    EventRecord,
    event_from_row,
    gate_run_from_row,
    neutralization_from_row,
    short_image_id,
    steps_from_events,
    summary_from_row,
)

T0 = datetime(2026, 3, 14, 7, 30, tzinfo=timezone.utc)


def _event(seq: int, kind: str, step: str | None = None, **extra: Any) -> EventRecord:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "seq": seq,
        "at": T0 + timedelta(seconds=seq),
        "kind": kind,
        "step": step,
        "status": None,
        "duration_ms": None,
        "artifact_path": None,
        "artifact_sha256": None,
        "artifact_bytes": None,
        "data": None,
    }
    values.update(extra)
    return event_from_row(values)


def test_steps_pair_started_and_finished_events_by_index() -> None:
    events = [
        _event(1, "started"),
        _event(2, "step_started", "build", data={"index": 1}, artifact_path="logs/1.log"),
        _event(3, "step_started", "upgrade", data={"index": 2}, artifact_path="logs/2.log"),
        _event(
            4,
            "step_finished",
            "build",
            status="succeeded",
            duration_ms=2000,
            artifact_path="logs/1.log",
            artifact_sha256="ab",
            artifact_bytes=10,
            data={"index": 1},
        ),
        _event(5, "step_started", None, data={"index": 3}),
        _event(6, "step_finished", None, status="failed", data={"index": 3, "error": "boom"}),
    ]
    steps = steps_from_events(events)
    assert [(s.index, s.name, s.status) for s in steps] == [
        (1, "build", "succeeded"),
        (2, "upgrade", RUNNING),
        (3, "step 3", "failed"),
    ]
    build, upgrade, third = steps
    assert build.finished_at == T0 + timedelta(seconds=4) and build.duration_ms == 2000
    assert (build.artifact_sha256, build.artifact_bytes) == ("ab", 10)
    assert upgrade.finished_at is None and upgrade.artifact_path == "logs/2.log"
    assert third.error == "boom"
    assert steps_from_events([]) == []


def test_events_without_an_index_pair_by_their_own_seq() -> None:
    # No index in their data: each event's seq stands in, so these two do not pair and
    # a finish without its start is not a step.
    unpaired = steps_from_events([_event(1, "step_started", "x"), _event(2, "step_finished", "x")])
    assert [(s.index, s.status) for s in unpaired] == [(1, RUNNING)]
    paired = steps_from_events(
        [_event(1, "step_started", "x"), _event(2, "step_finished", "x", data={"index": 1})]
    )
    assert [(s.index, s.status) for s in paired] == [(1, "unknown")]  # finished, no status


def test_summary_rows_and_short_ids() -> None:
    deployment = uuid.UUID("0123456789abcdef0123456789abcdef")
    row = {
        "id": deployment,
        "project": "shop",
        "environment": "staging",
        "kind": "deploy",
        "git_sha": "a" * 40,
        "build_id": None,
        "started_at": T0,
        "finished_at": None,
        "outcome": None,
        "duration_ms": None,
        "approved_by": "alice",
        "previous_deployment_id": None,
        "rollback_of": None,
        "recorded_by": "ci",
        "artifacts_dir": "2026/03/14/deploy",
    }
    summary = summary_from_row(row)
    assert summary.outcome == RUNNING and summary.image_id is None
    assert summary.short_id == "01234567"
    finished = summary_from_row({**row, "outcome": "succeeded", "image_id": "sha256:" + "f" * 64})
    assert finished.outcome in OUTCOMES and finished.image_id == "sha256:" + "f" * 64
    data = json.loads(json.dumps(summary.to_dict(), default=str))
    assert data["id"] == str(deployment) and data["approved_by"] == "alice"
    assert short_image_id("sha256:" + "0123456789ab" * 5) == "0123456789ab"
    assert short_image_id("deadbeef") == "deadbeef"


def test_gate_run_and_neutralization_rows() -> None:
    run_id = uuid.uuid4()
    gate = gate_run_from_row(
        {
            "id": run_id,
            "gate": "tests",
            "status": "passed",
            "git_sha": "a" * 40,
            "build_id": None,
            "environment": "staging",
            "deployment_id": None,
            "started_at": T0,
            "duration_ms": 1200,
            "summary": "12 ok",
            "details": {"passed": 12},
            "artifact_path": None,
            "artifact_sha256": None,
        }
    )
    assert (gate.id, gate.gate, gate.details) == (run_id, "tests", {"passed": 12})
    neutralization = neutralization_from_row(
        {
            "id": run_id,
            "environment": "staging",
            "database": "shop_staging",
            "source_database": "shop_prod",
            "status": "passed",
            "started_at": T0,
            "duration_ms": 5,
            "rules": None,
            "verification": {"ok": True},
            "artifact_path": None,
            "artifact_sha256": None,
        }
    )
    assert neutralization.rules == [] and neutralization.verification == {"ok": True}
