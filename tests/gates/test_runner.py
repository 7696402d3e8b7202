"""What the gates compare a build with when ``--base`` is not given: the environments'
state as deploys leave it, and a real git history for the addons that changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import run_git, write_addon
from odooplane.config import load_config
from odooplane.environments.state import EnvState, StateStore
from odooplane.errors import NotFoundError
from odooplane.gates.changes import changed_addons
from odooplane.gates.runner import default_base, promotion_target
from odooplane.odoo.addons import discover_addons
from odooplane.project import Project


def _commit(repo: Path, message: str) -> str:
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", message)
    return run_git(repo, "rev-parse", "HEAD")


def _project(tmp_path: Path) -> tuple[Project, list[str]]:
    """Three commits: a (both addons), b (sale_x changed), c (stock_y changed)."""
    repo = tmp_path / "erp"
    repo.mkdir()
    run_git(repo, "init", "-q", "-b", "main")
    # No Odoo is run here: its source is never read.
    (repo / "odooplane.yaml").write_text(
        "project: erp\n"
        "odoo: {series: '17.0', source: /opt/odoo}\n"
        "environments:\n"
        "  production: {kind: production}\n"
        "  staging: {kind: staging, data: {copy: production}}\n"
        "  dev: {kind: development, branches: ['feature/*']}\n"
    )
    write_addon(repo / "addons", "sale_x")
    write_addon(repo / "addons", "stock_y")
    shas = [_commit(repo, "a")]
    (repo / "addons" / "sale_x" / "models.py").write_text("x = 1\n")
    shas.append(_commit(repo, "b"))
    (repo / "addons" / "stock_y" / "models.py").write_text("y = 1\n")
    shas.append(_commit(repo, "c"))
    return Project(root=repo, config=load_config(repo / "odooplane.yaml")), shas


def _deployed(project: Project, name: str, kind: str, builds: list[str], **extra: Any) -> EnvState:
    """An environment's state after ``builds`` were deployed in turn (the last serves)."""
    state = EnvState(name=name, kind=kind, database=f"erp_{name}", status="running")
    for sha in builds:
        state.previous_build, state.build = state.build, sha
        state.add_history({"action": "deploy", "status": "deployed", "build": sha})
    for key, value in extra.items():
        setattr(state, key, value)
    StateStore(project.state_dir).save(state)
    return state


def _selected(project: Project, base: str | None, ref: str) -> list[str]:
    addons = discover_addons([project.root / "addons"])
    return changed_addons(
        project.root, base=base, ref=ref, addons=addons, code_root=project.root
    ).selected


def test_staging_is_judged_against_what_production_runs(tmp_path: Path) -> None:
    """Right after staging deployed c, its gates see everything a promotion of c would
    bring to production (at a): sale_x and stock_y, not the nothing of c against c."""
    project, (a, b, c) = _project(tmp_path)
    assert promotion_target(project, "staging") == "production"
    assert promotion_target(project, "production") is None
    assert promotion_target(project, "dev") is None
    # Production never deployed: nothing to compare with, every addon.
    assert default_base(project, "staging", c) is None
    _deployed(project, "production", "production", [a])
    _deployed(project, "staging", "staging", [a, b, c])
    assert default_base(project, "staging", c) == a
    assert _selected(project, default_base(project, "staging", c), c) == ["sale_x", "stock_y"]
    # No environment: what production runs, as before.
    assert default_base(project, None, c) == a


def test_other_environments_are_judged_against_what_they_ran_before(tmp_path: Path) -> None:
    project, (a, b, c) = _project(tmp_path)
    assert default_base(project, "dev", c) is None  # never created
    _deployed(project, "dev", "development", [a])
    # Before the deploy of c: what the environment runs now.
    assert default_base(project, "dev", c) == a
    # Right after it: what it ran before, so the deploy's own change is what is judged.
    _deployed(project, "dev", "development", [a, b, c])
    assert default_base(project, "dev", c) == b
    assert _selected(project, default_base(project, "dev", c), c) == ["stock_y"]
    # Production has no promotion target either: its previous build.
    _deployed(project, "production", "production", [a, c])
    assert default_base(project, "production", c) == a
    # A first deploy that is the only build: nothing before it, every addon.
    _deployed(project, "dev", "development", [c])
    assert default_base(project, "dev", c) is None


def test_a_redeploy_and_failed_deploys_are_looked_past(tmp_path: Path) -> None:
    project, (a, b, c) = _project(tmp_path)
    # a, then c deployed twice (a re-run): the previous build is c itself.
    state = _deployed(project, "dev", "development", [a, c, c])
    assert state.previous_build == c
    assert default_base(project, "dev", c) == a
    # b was tried between a and c but failed (undone by its own rollback), so it never
    # served: the base is still a.
    state.history = [
        {"action": "deploy", "status": "deployed", "build": c},
        {"action": "deploy", "status": "rolled_back", "build": b},
        {"action": "deploy", "status": "failed", "build": b},
        {"action": "create", "status": "running", "build": a},
    ]
    StateStore(project.state_dir).save(state)
    assert default_base(project, "dev", c) == a


def test_an_unknown_environment_is_a_sentence(tmp_path: Path) -> None:
    project, (_, _, c) = _project(tmp_path)
    with pytest.raises(NotFoundError, match="qa"):
        default_base(project, "qa", c)
