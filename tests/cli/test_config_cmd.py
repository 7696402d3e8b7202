"""`odooplane config check|show` through the real entry point (exit codes, output)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from odooplane.cli import main

VALID = """\
project: shop
odoo:
  series: "17.0"
  source: /opt/odoo
environments:
  production:
    kind: production
    env_file: prod.env
    url: https://${PROD_HOST}
    odoo_options: {admin_passwd: '${ADMIN_PASSWORD}'}
  staging:
    kind: staging
    data: {copy: production}
  dev:
    kind: development
    branches: ["*"]
    data: demo
"""
BROKEN = """\
project: shop
odoo:
  series: "17.0"
  source: /opt/odoo
enviroments: {}
environments:
  dev:
    kind: development
    workers: many
"""


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), captured.out, captured.err


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "odooplane.yaml").write_text(VALID)
    (folder / "prod.env").write_text(
        "PROD_HOST=erp.example.com\nADMIN_PASSWORD=hunter2-correct-horse-staple\n"
    )
    return folder


def test_check_valid(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.chdir(project)
    code, out, err = run(["config", "check"], capsys)
    assert code == 0, err
    assert "odooplane.yaml is valid: project shop, Odoo 17.0, 3 environments." in out
    assert "  staging (staging): branches main" in out
    assert "      database shop_staging · data copy of production · neutralized" in out
    assert "  production (production): fed by promotion only" in out


def test_check_json(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["-C", str(project), "config", "check", "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["ok"] is True
    assert data["environments"]["staging"]["branches"] == ["main"]
    assert data["environments"]["staging"]["database"] == "shop_staging"
    assert data["environments"]["production"]["url"] == "https://****"


def test_check_from_a_subfolder(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "addons" / "x").mkdir(parents=True)
    os.chdir(project / "addons" / "x")
    code, out, _ = run(["config", "check"], capsys)
    assert code == 0
    assert f"{project / 'odooplane.yaml'} is valid" in out


def test_check_reports_every_problem_with_exit_2(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "odooplane.yaml").write_text(BROKEN)
    os.chdir(project)
    code, out, err = run(["config", "check"], capsys)
    assert code == 2
    lines = err.splitlines()
    assert (
        "  odooplane.yaml:5:1: enviroments: unknown key 'enviroments'; did you mean "
        "'environments'? Rename it."
    ) in lines
    assert any(
        line.startswith("  odooplane.yaml:9:14: environments.dev.workers: expected a whole number")
        for line in lines
    )
    assert "odooplane.yaml is not valid (2 problems, listed above)." in err
    assert "Traceback" not in out + err


def test_check_json_errors(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "odooplane.yaml").write_text(BROKEN)
    os.chdir(project)
    code, out, _ = run(["config", "check", "--json"], capsys)
    assert code == 2
    data = json.loads(out)
    assert data["ok"] is False
    assert [(e["line"], e["column"], e["path"]) for e in data["errors"]] == [
        (5, 1, "enviroments"),
        (9, 14, "environments.dev.workers"),
    ]


def test_values_with_brackets_are_printed_as_written(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # rich would swallow "[bold]" as markup; the errors are printed without it.
    (project / "odooplane.yaml").write_text(VALID.replace("kind: staging", "kind: '[bold]x'"))
    os.chdir(project)
    code, _, err = run(["config", "check"], capsys)
    assert code == 2
    assert "got the text '[bold]x'" in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "odooplane.yaml:1:1: the file is empty"),
        ("project: [\n", "odooplane.yaml:2:1: YAML syntax error"),
        ("- a\n", "odooplane.yaml:1:1: the top level must be a mapping"),
    ],
)
def test_check_bad_files(
    project: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    (project / "odooplane.yaml").write_text(text)
    os.chdir(project)
    code, out, err = run(["config", "check"], capsys)
    assert code == 2
    assert expected in err
    assert "Traceback" not in out + err


def test_check_without_a_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["config", "check"], capsys)
    assert code == 2
    # main() lets rich wrap its error lines; compare the words.
    assert f"No odooplane.yaml in {tmp_path} or any folder above it." in " ".join(err.split())
    assert "odooplane init" in err


def test_show_masks_env_file_secrets(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.chdir(project)
    code, out, _ = run(["config", "show"], capsys)
    assert code == 0
    assert "hunter2-correct-horse-staple" not in out and "erp.example.com" not in out
    assert "admin_passwd: '****'" in out
    assert "url: https://****" in out
    assert "server: embedded" in out  # defaults are filled in
    code, out, _ = run(["config", "show", "--json"], capsys)
    data = json.loads(out)
    assert data["config"]["environments"]["production"]["odoo_options"] == {"admin_passwd": "****"}
    assert data["config"]["evidence"]["url"] == "sqlite"
    assert data["environments"]["dev"]["data"] == "demo"
    assert "hunter2-correct-horse-staple" not in out


def test_show_on_broken_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "odooplane.yaml").write_text(BROKEN)
    code, _, err = run(["-C", str(project), "config", "show"], capsys)
    assert code == 2
    assert "enviroments" in err


def test_help_texts(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["config", "check", "--help"], capsys)
    assert code == 0 and "file:line:column" in out and "--json" in out
    code, out, _ = run(["config", "show", "--help"], capsys)
    assert code == 0 and "****" in out


def test_real_process_exit_code_and_no_traceback(project: Path) -> None:
    (project / "odooplane.yaml").write_text(textwrap.dedent(BROKEN))
    result = subprocess.run(
        [sys.executable, "-m", "odooplane", "config", "check"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "odooplane.yaml:5:1: enviroments" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
