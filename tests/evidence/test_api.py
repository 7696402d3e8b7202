"""The evidence layer's public API, used the way its module documentation shows, on
both backends: a build from real git, a deployment with a step, a migration and a
health check, a gate run, all read back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import run_git
from odooplane.errors import CheckFailedError
from odooplane.evidence import api
from odooplane.evidence.api import EvidenceStore
from odooplane.project import Project


def test_everything_exported_exists() -> None:
    for name in api.__all__:
        assert getattr(api, name) is not None, name
    assert api.OUTCOMES == ("succeeded", "failed", "rolled_back", "cancelled", "interrupted")


def test_the_documented_flow(
    project: Project, make_store: Callable[..., EvidenceStore], make_git_repo: Callable[..., Path]
) -> None:
    repo = make_git_repo("erp", {"addons/sale_x/__manifest__.py": "{'name': 'x'}\n"})
    sha = run_git(repo, "rev-parse", "HEAD")
    store = make_store()
    build = store.record_build_from_git(repo, sha, odoo_series="17.0")
    assert build.git_sha == sha and build.commit_message == "initial commit"
    assert store.record_build_from_git(repo, sha, odoo_series="17.0").id == build.id

    with store.start_deployment(
        "staging", git_sha=build.git_sha, build_id=build.id, approved_by="alice"
    ) as deployment:
        with deployment.step("upgrade modules") as step:
            step.run(["sh", "-c", "echo upgraded sale_x"])
        deployment.record_migration(
            "sale_x", from_version="17.0.1.0", to_version="17.0.1.1", scripts=["pre.py"]
        )
        deployment.record_health_check("http", ok=True, detail="200 in 80 ms")

    detail = store.deployment(deployment.id)
    assert detail.summary.outcome == "succeeded"
    assert detail.summary.approved_by == "alice"
    assert detail.build is not None and detail.build.id == build.id
    assert [(s.name, s.status) for s in detail.steps] == [("upgrade modules", "succeeded")]
    assert [m.module for m in detail.migrations] == ["sale_x"]
    assert [(h.name, h.status, h.detail) for h in detail.health_checks] == [
        ("http", "passed", "200 in 80 ms")
    ]
    logs = store.step_logs(detail)
    assert logs[0].verified is True and "upgraded sale_x" in (logs[0].text or "")

    with store.gate_run("tests", git_sha=sha) as gate:
        gate.line("120 tests")
        gate.details = {"passed": 120}
    with pytest.raises(CheckFailedError), store.gate_run("security", git_sha=sha):
        raise CheckFailedError("bandit found 1 high issue")
    runs = {r.gate: r for r in store.gate_runs(sha)}
    assert runs["tests"].status == "passed" and runs["tests"].details == {"passed": 120}
    assert runs["security"].status == "failed"
    assert "bandit found 1 high issue" in (runs["security"].summary or "")
    assert [d.id for d in store.history()] == [deployment.id]
