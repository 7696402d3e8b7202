"""`odooplane init` through the real entry point, in real git repositories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import write_addon
from odooplane.cli import main
from odooplane.config import load_config


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), captured.out, captured.err


@pytest.fixture
def repo(make_git_repo: Callable[..., Path]) -> Path:
    folder = make_git_repo("crm-addons")
    write_addon(folder / "addons", "crm_ext", version="17.0.1.0.0")
    write_addon(folder / "addons", "crm_reports", version="17.0.1.2.0")
    return folder


def test_init_then_check(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.chdir(repo)
    code, out, err = run(["init"], capsys)
    assert code == 0, err
    assert f"Wrote {repo / 'odooplane.yaml'}" in out
    assert "crm_ext" in out and "crm_reports" in out
    assert "Odoo series: 17.0 (2 of 2 manifest versions say 17.0)" in out
    assert "Created .gitignore with .odooplane/." in out
    assert "  development (development): branches *" in out
    code, out, _ = run(["config", "check"], capsys)
    assert code == 0 and "is valid" in out


def test_init_refuses_then_force(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.chdir(repo)
    assert run(["init"], capsys)[0] == 0
    code, out, err = run(["init"], capsys)
    assert code == 1
    # main() lets rich wrap its error lines (even inside a long path): compare without them.
    assert f"{repo / 'odooplane.yaml'} already exists" in err.replace("\n", "")
    assert "--force" in err
    assert "Traceback" not in out + err
    code, out, _ = run(["init", "--force", "--name", "crm", "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["overwritten"] is True and data["project"] == "crm"
    assert data["gitignore"] == "unchanged"
    assert [a["name"] for a in data["addons"]] == ["crm_ext", "crm_reports"]
    assert data["environments"]["development"]["branches"] == ["*"]


def test_init_with_project_option_and_relative_odoo_source(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = tmp_path / "odoo-tree"
    (tree / "odoo").mkdir(parents=True)
    (tree / "odoo-bin").write_text("")
    (tree / "odoo" / "release.py").write_text("version_info = (17, 0, 0, 'final', 0, '')\n")
    os.chdir(tmp_path)
    code, out, err = run(["-C", str(repo), "init", "--odoo-source", "odoo-tree", "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["odoo_source"] == str(tree)
    assert data["series_reason"] == "read from the Odoo source's odoo/release.py"
    assert load_config(repo / "odooplane.yaml", environ={}).odoo.source == str(tree)


def test_init_with_git_url(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.chdir(repo)
    url = "git@github.com:odoo/odoo.git"
    code, out, _ = run(["init", "--odoo-source", url], capsys)
    assert code == 0
    assert f"Odoo source: {url} at 17.0" in out


def test_init_bad_name(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.chdir(repo)
    code, _, err = run(["init", "--name", "Not Safe"], capsys)
    assert code == 2
    assert "'Not Safe' is not a safe project name" in err
    assert not (repo / "odooplane.yaml").exists()


def test_init_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["init", "--help"], capsys)
    assert code == 0
    for option in ("--force", "--odoo-source", "--name", "--json"):
        assert option in out


def test_real_process(repo: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "odooplane", "init"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (repo / "odooplane.yaml").is_file()
    again = subprocess.run(
        [sys.executable, "-m", "odooplane", "init"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 1
    assert "Traceback" not in again.stdout + again.stderr
