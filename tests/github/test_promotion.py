"""``promote --github``: what a promotion covers (the commit promoted, what the target
runs now) read from real git and the environments' state, bound into the approval."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_git
from odooplane.config import load_config
from odooplane.environments.state import EnvState, StateStore
from odooplane.errors import NotFoundError, RefusedError, UsageError
from odooplane.github.promotion import github_approval, release_bounds
from odooplane.project import Project

CONFIG = """\
project: shop
odoo: {series: '17.0', source: /opt/odoo}
github: {repository: acme/shop}
promotion: {approvers: [alice, bob], forbid_self_approval: true}
environments:
  production: {kind: production}
  staging: {kind: staging, data: {copy: production}}
  dev: {kind: development}
"""


def _project(tmp_path: Path) -> tuple[Project, list[str]]:
    repo = tmp_path / "shop"
    repo.mkdir()
    run_git(repo, "init", "-q", "-b", "main")
    (repo / "odooplane.yaml").write_text(CONFIG)
    shas = []
    for n in range(2):
        (repo / "f.txt").write_text(str(n))
        run_git(repo, "add", "-A")
        run_git(repo, "commit", "-q", "-m", f"c{n}")
        shas.append(run_git(repo, "rev-parse", "HEAD"))
    return Project(root=repo, config=load_config(repo / "odooplane.yaml")), shas


def _runs(project: Project, name: str, kind: str, build: str) -> None:
    state = EnvState(name=name, kind=kind, database=f"shop_{name}", status="running")
    state.build = build
    StateStore(project.state_dir).save(state)


def test_bounds_come_from_what_staging_and_production_run(tmp_path: Path) -> None:
    project, (a, b) = _project(tmp_path)
    with pytest.raises(RefusedError, match="'staging' runs no build yet: nothing to approve"):
        release_bounds(project, None)
    _runs(project, "staging", "staging", b)
    assert release_bounds(project, None) == (b, None, "production")
    _runs(project, "production", "production", a)
    assert release_bounds(project, None) == (b, a, "production")


def test_an_explicit_sha_is_resolved_with_git(tmp_path: Path) -> None:
    project, (a, b) = _project(tmp_path)
    assert release_bounds(project, "HEAD~1") == (a, None, "production")
    assert release_bounds(project, b[:10], source="dev", target="staging") == (b, None, "staging")
    with pytest.raises(NotFoundError):
        release_bounds(project, None, source="qa")
    with pytest.raises(UsageError, match="--from and --to are both 'staging'"):
        release_bounds(project, a, source="staging", target="staging")


def test_the_approval_is_bound_to_the_release_and_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, (a, b) = _project(tmp_path)
    _runs(project, "staging", "staging", b)
    _runs(project, "production", "production", a)
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_test")
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")
    approval = github_approval(project, pr=12)
    assert approval.approvers == ("alice", "bob")
    assert approval.forbid_self_approval is True
    assert approval.pr == 12
    assert approval.since == a
    assert approval.findings is None


def test_the_approval_needs_a_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project, (_a, b) = _project(tmp_path)
    _runs(project, "staging", "staging", b)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    with pytest.raises(UsageError, match="GITHUB_TOKEN is not set"):
        github_approval(project)
