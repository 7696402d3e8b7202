"""What the evidence store says a build passed: the latest recorded run of each gate
for that commit (and build), and the sentences naming what is missing."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from odooplane.config import ProjectConfig
from odooplane.evidence.api import EvidenceStore
from odooplane.gates.verdicts import gate_verdicts, missing_gates
from odooplane.project import Project

SHA = "a" * 40
OTHER = "b" * 40


def _project(root: Path) -> Project:
    root.mkdir()
    config = ProjectConfig(
        project="shop",
        odoo={"series": "17.0", "source": "/x"},
        environments={"staging": {"kind": "staging"}},
        evidence={"url": "sqlite"},
    )
    return Project(root=root, config=config)


def test_latest_run_per_gate_for_this_commit_only(tmp_path: Path) -> None:
    project = _project(tmp_path / "shop")
    assert gate_verdicts(project, SHA) == {}
    t0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
    with EvidenceStore.open(project) as store:
        store.record_gate_run("tests", "failed", git_sha=SHA, summary="1 failed", started_at=t0)
        store.record_gate_run(
            "tests", "passed", git_sha=SHA, summary="12 ok", started_at=t0 + timedelta(hours=1)
        )
        store.record_gate_run(
            "security", "error", git_sha=SHA, summary=None, started_at=t0 + timedelta(hours=2)
        )
        store.record_gate_run("migration", "passed", git_sha=OTHER, started_at=t0)
    verdicts = gate_verdicts(project, SHA)
    assert sorted(verdicts) == ["security", "tests"]
    assert verdicts["tests"].status == "passed" and verdicts["tests"].summary == "12 ok"
    problems = missing_gates(["tests", "security", "migration"], verdicts)
    security_id = str(verdicts["security"].id)[:8]
    assert problems == [
        f"gate 'security' error (run {security_id}: no summary)",
        "gate 'migration' was never run on this build",
    ]
    assert missing_gates(("tests",), verdicts) == []
    assert missing_gates([], {}) == []


def test_a_pass_for_another_build_of_the_same_commit_does_not_count(tmp_path: Path) -> None:
    project = _project(tmp_path / "shop")
    with EvidenceStore.open(project) as store:
        build = store.record_build(git_sha=SHA, odoo_series="17.0")
        store.record_gate_run("tests", "passed", git_sha=SHA, build_id=build.id)
        store.record_gate_run("security", "passed", git_sha=SHA)
    for_build = gate_verdicts(project, SHA, build_id=build.id)
    assert sorted(for_build) == ["tests"]
    assert gate_verdicts(project, SHA, build_id=uuid.uuid4()) == {}
    assert sorted(gate_verdicts(project, SHA)) == ["security", "tests"]
