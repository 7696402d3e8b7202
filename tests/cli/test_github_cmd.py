"""`odooplane ci init github` and `odooplane github ...`: exit codes, JSON and sentences
(the steps themselves run end to end in tests/github/test_workflow_e2e_odoo.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_run import run
from fixtures_github import FakeGitHub


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "odooplane.yaml").write_text(
        "project: acme\n"
        "odoo: {series: '17.0', source: /opt/odoo-src/17.0}\n"
        "environments:\n"
        "  production: {kind: production}\n"
        "  staging: {kind: staging}\n"
    )
    return root


def test_ci_init_then_check(capfd: pytest.CaptureFixture[str], project: Path) -> None:
    code, out, _ = run(capfd, "-C", str(project), "ci", "init", "github", "--json")
    assert code == 0 and len(json.loads(out)["written"]) == 3
    code, out, _ = run(capfd, "-C", str(project), "ci", "init", "github", "--check")
    assert code == 0 and "unchanged" in out
    config = project / "odooplane.yaml"
    config.write_text(config.read_text() + "github: {runner_labels: [self-hosted, big]}\n")
    code, out, err = run(capfd, "-C", str(project), "ci", "init", "github", "--check")
    assert code == 1
    assert "+      - big" in out
    assert "differ from what odooplane.yaml generates" in err and "ci init github" in err


def test_bad_github_config_is_a_sentence(capfd: pytest.CaptureFixture[str], project: Path) -> None:
    config = project / "odooplane.yaml"
    config.write_text(config.read_text() + "github: {runner_labels: ['bad label']}\n")
    code, _, err = run(capfd, "-C", str(project), "ci", "init", "github")
    assert code == 2 and "'bad label' is not a runner label" in err


def test_check_token_and_repository(
    capfd: pytest.CaptureFixture[str],
    project: Path,
    github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, _ = run(capfd, "-C", str(project), "github", "check", "--json")
    assert code == 0 and json.loads(out)["repository"] == "acme/erp"
    monkeypatch.setenv("GITHUB_TOKEN", "expired")
    code, _, err = run(capfd, "-C", str(project), "github", "check")
    assert code == 1 and "refused the token" in err


def test_event_without_event_path(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_EVENT_PATH", raising=False)
    code, _, err = run(capfd, "github", "event")
    assert code == 2 and "GITHUB_EVENT_PATH is not set" in err


def test_promote_github_options(capfd: pytest.CaptureFixture[str], project: Path) -> None:
    code, _, err = run(capfd, "-C", str(project), "promote", "--github-pr", "3")
    assert code == 2 and "--github-pr goes with --github" in err
    code, _, err = run(capfd, "-C", str(project), "promote", "--github", "--approved-by", "x")
    assert code == 2 and "not both" in err
