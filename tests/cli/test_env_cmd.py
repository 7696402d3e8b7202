"""`odooplane env` and `odooplane build` through the real entry point (no Odoo needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_git
from odooplane.cli import main

CONFIG = """\
project: shop
odoo:
  series: "17.0"
  source: /opt/odoo-src/17.0
environments:
  production:
    kind: production
  staging:
    kind: staging
    data: {copy: production}
  dev:
    kind: development
    branches: ["feature/*", "fix-*"]
    data: demo
"""


def odooplane(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "odooplane", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    root.mkdir()
    (root / "odooplane.yaml").write_text(CONFIG)
    run_git(root, "init", "-q", "-b", "main")
    run_git(root, "add", "-A")
    run_git(root, "commit", "-q", "-m", "config")
    return root


def test_help_of_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    # In-process: fifteen interpreter start-ups would only test Python's start-up.
    commands = (
        "create",
        "deploy",
        "start",
        "stop",
        "restart",
        "destroy",
        "list",
        "status",
        "logs",
        "shell",
        "psql",
        "cron-run",
        "for-branch",
        "diff",
    )
    for command in commands:
        with pytest.raises(SystemExit) as exit_info:
            main(["env", command, "--help"])
        assert exit_info.value.code == 0
        assert "Usage: odooplane env " + command in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["build", "--help"])
    assert exit_info.value.code == 0
    assert "submodules" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("branch", "env"),
    [("main", "staging"), ("feature/login", "dev"), ("fix-12", "dev"), ("release", None)],
)
def test_for_branch(project: Path, branch: str, env: str | None) -> None:
    result = odooplane(project, "env", "for-branch", branch, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["environment"] == env
    text = odooplane(project, "env", "for-branch", branch)
    assert f"{branch} -> " in text.stdout


def test_list_and_status_before_anything_exists(project: Path) -> None:
    listing = odooplane(project, "env", "list", "--json")
    assert listing.returncode == 0, listing.stderr
    rows = json.loads(listing.stdout)
    assert [(r["environment"], r["kind"], r["status"]) for r in rows] == [
        ("production", "production", "absent"),
        ("staging", "staging", "absent"),
        ("dev", "development", "absent"),
    ]
    status = odooplane(project, "env", "status", "dev", "--json")
    data = json.loads(status.stdout)
    assert data == {
        "environment": "dev",
        "kind": "development",
        "database": "shop_dev",
        "url": None,
        "status": "absent",
        "created": False,
    }


def test_errors_are_sentences_with_exit_codes(project: Path) -> None:
    unknown = odooplane(project, "env", "status", "qa")
    assert unknown.returncode == 1
    assert "No environment named 'qa'" in unknown.stderr
    assert "production, staging, dev" in unknown.stderr or "dev, production" in unknown.stderr
    not_created = odooplane(project, "env", "start", "production")
    assert not_created.returncode in (1, 2)
    assert "Traceback" not in not_created.stderr
    no_ref = odooplane(project, "build")
    assert no_ref.returncode == 2 and "Name the ref" in no_ref.stderr
    missing = odooplane(project, "build", "v42")
    assert missing.returncode == 1
    assert "'v42' is not a branch, tag or commit" in missing.stderr
    prod = odooplane(project, "env", "destroy", "production", "--yes")
    assert prod.returncode == 1 and "--force" in prod.stderr
    logs = odooplane(project, "env", "logs", "dev")
    assert logs.returncode == 2 and "has no log yet" in logs.stderr
    bad_branch = odooplane(project, "env", "for-branch", "-x")
    assert bad_branch.returncode != 0 and "Traceback" not in bad_branch.stderr
    # Accepted before issue 10: a negative line count, waits of nan or -1 seconds.
    negative = odooplane(project, "env", "logs", "dev", "-n", "-5")
    assert negative.returncode == 2 and "-5 is not in the range" in negative.stderr
    for value in ("nan", "-1", "inf"):
        wait = odooplane(project, "env", "start", "dev", "--wait", value)
        assert wait.returncode == 2 and "is not a duration" in wait.stderr, wait.stderr


def test_outside_a_project(tmp_path: Path) -> None:
    result = odooplane(tmp_path, "env", "list")
    assert result.returncode == 2
    assert "No odooplane.yaml" in result.stderr
