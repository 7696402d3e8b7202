"""`odooplane build`: listing the builds kept in the state folder, and bad input as
sentences (building itself makes a Python runtime: tests/environments/test_builds.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from cli_run import run, run_json
from conftest import run_git
from odooplane.environments.builds import Build, builds_dir
from odooplane.project import load_project

CONFIG = """\
project: shop
odoo: {series: '17.0', source: /opt/odoo-src/17.0}
environments:
  production: {kind: production}
"""


@pytest.fixture
def repo(make_git_repo: Callable[..., Path]) -> Path:
    return make_git_repo("shop", {"odooplane.yaml": CONFIG})


def test_help(capfd: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capfd, "build", "--help")
    assert code == 0 and "--list" in out and "--image" in out


def test_a_ref_or_list_is_needed(repo: Path, capfd: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capfd, "-C", str(repo), "build")
    assert code == 2
    assert "Name the ref to build (e.g. `odooplane build main`), or pass --list." in err


def test_list_shows_the_builds_kept(repo: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert run_json(capfd, "-C", str(repo), "build", "--list") == []
    sha = run_git(repo, "rev-parse", "HEAD")
    project = load_project(repo)
    code_dir = builds_dir(project) / sha / "code"
    code_dir.mkdir(parents=True)
    kept = Build(
        sha=sha,
        ref="main",
        branch="main",
        subject="initial commit",
        message="initial commit",
        author_name="Test Author",
        author_email="author@example.com",
        committed_at="2026-01-01T00:00:00+00:00",
        authored_at="2026-01-01T00:00:00+00:00",
        odoo_series="17.0",
        odoo_revision="0123456789abcdef",
        odoo_path="/opt/odoo-src/17.0",
        deps_hash="deadbeef",
        runtime_path="/nonexistent",
        python="python3",
        code_dir=str(code_dir),
        project_subdir="",
    )
    (builds_dir(project) / sha / "build.json").write_text(json.dumps(kept.to_dict()))
    listed = run_json(capfd, "-C", str(repo), "build", "--list")
    assert [(b["sha"], b["branch"], b["image"]) for b in listed] == [(sha, "main", None)]
    code, out, _ = run(capfd, "-C", str(repo), "build", "--list")
    # The table fits the terminal: cells may be cut, the build is there.
    assert code == 0 and "Builds" in out and sha[:8] in out


def test_an_unknown_ref_is_a_sentence(repo: Path, capfd: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capfd, "-C", str(repo), "build", "no-such-branch", "--json")
    assert code in (1, 2) and "no-such-branch" in err and "Traceback" not in err
