"""Planning a rollback from what the evidence store recorded, without touching any
database (code-only plans): which deployment it goes back to, what it undoes, which
migrations ran since, and the refusals (the full rollback with data and a real Odoo:
tests/promotion/test_promotion_odoo.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import run_git
from odooplane.config import load_config
from odooplane.environments.state import EnvState, StateStore
from odooplane.errors import NotFoundError, RefusedError
from odooplane.evidence.api import EvidenceStore
from odooplane.project import Project
from odooplane.promotion.rollback import RollbackPlan, plan_rollback


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=5)
        return self.now


@pytest.fixture
def project(make_git_repo: Callable[..., Path]) -> Project:
    repo = make_git_repo("shop")
    (repo / "odooplane.yaml").write_text(
        "project: shop\n"
        "odoo: {series: '17.0', source: /opt/odoo-src/17.0}\n"
        "environments:\n"
        "  production: {kind: production}\n"
        "  staging: {kind: staging}\n"
    )
    return Project(root=repo, config=load_config(repo / "odooplane.yaml"))


def _history(project: Project, deploys: list[tuple[str, str, str, list[str]]]) -> list[str]:
    """Record deployments (environment, kind, sha, migrated modules), oldest first; the
    kind "failed" is a deploy that failed."""
    ids = []
    with EvidenceStore.open(project, clock=Clock()) as store:
        for env, kind, sha, modules in deploys:
            real_kind = "deploy" if kind == "failed" else kind
            with store.start_deployment(env, git_sha=sha, kind=real_kind) as deployment:
                for module in modules:
                    deployment.record_migration(
                        module, from_version="17.0.1.0", to_version="17.0.1.1"
                    )
                if kind == "failed":
                    deployment.finish("failed")
            ids.append(str(deployment.id))
    return ids


def _runs(project: Project, env: str, sha: str) -> None:
    state = EnvState(name=env, kind=env, database=f"shop_{env}", status="running")
    state.build = sha
    StateStore(project.state_dir).save(state)


A, B, C, D = ("a" * 40, "b" * 40, "c" * 40, "d" * 40)


def test_back_to_the_previous_build(project: Project) -> None:
    ids = _history(
        project,
        [
            ("production", "create", A, []),
            ("production", "deploy", B, ["sale_x"]),
            ("staging", "deploy", D, []),
            ("production", "deploy", C, []),
        ],
    )
    _runs(project, "production", C)
    plan = plan_rollback(project, "production", code_only=True)
    assert isinstance(plan, RollbackPlan)
    assert (plan.current_sha, plan.target_sha) == (C, B)
    assert (plan.current_deployment, plan.target_deployment) == (ids[3], ids[1])
    assert plan.undone == [ids[3]] and plan.migrations == {}
    assert plan.code_only and plan.snapshot is None and plan.loss is None
    # Further back: the deployment that migrated sale_x is undone too.
    further = plan_rollback(project, "production", to=ids[0], code_only=True)
    assert further.target_sha == A
    assert further.undone == [ids[1], ids[3]]
    assert further.migrations == {ids[1].replace("-", "")[:8]: ["sale_x 17.0.1.0 -> 17.0.1.1"]}
    assert further.to_dict()["loss"] is None


def test_refusals(project: Project) -> None:
    with pytest.raises(NotFoundError, match="has not been created yet"):
        plan_rollback(project, "production", code_only=True)
    ids = _history(
        project,
        [("production", "create", A, []), ("staging", "deploy", B, [])],
    )
    _runs(project, "production", A)
    with pytest.raises(RefusedError, match="has no earlier successful deployment to go back to"):
        plan_rollback(project, "production", code_only=True)
    with pytest.raises(RefusedError, match="roll 'production' back to one of its own"):
        plan_rollback(project, "production", to=ids[1], code_only=True)
    with pytest.raises(RefusedError, match="already runs"):
        plan_rollback(project, "production", to=ids[0], code_only=True)
    _runs(project, "production", C)  # a build no deployment recorded
    with pytest.raises(NotFoundError) as info:
        plan_rollback(project, "production", code_only=True)
    assert "cannot tell what to undo" in str(info.value)
    assert "odooplane history production" in str(info.value)


def test_failed_deployments_and_destroyed_history_are_skipped(project: Project) -> None:
    sha = run_git(project.root, "rev-parse", "HEAD")
    ids = _history(
        project,
        [
            ("production", "create", A, []),
            ("production", "destroy", A, []),
            ("production", "create", B, []),
            ("production", "failed", D, []),
            ("production", "deploy", sha, []),
        ],
    )
    _runs(project, "production", sha)
    plan = plan_rollback(project, "production", code_only=True)
    # Before the destroy the database is gone; the failed deployment never served.
    assert plan.target_sha == B and plan.target_deployment == ids[2]
    assert plan.undone == [ids[4]]
