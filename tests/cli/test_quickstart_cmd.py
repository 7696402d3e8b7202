"""`odooplane quickstart`: help and refusals that come before anything is made (the
whole path with a real Odoo: tests/test_quickstart.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_run import run


def test_help(capfd: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capfd, "quickstart", "--help")
    assert code == 0
    for option in ("--odoo-source", "--odoo-ref", "--port", "--no-serve", "--json"):
        assert option in out


def test_a_new_project_needs_an_odoo_source(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capfd, "quickstart", str(tmp_path / "demo"), "--no-serve")
    assert code == 2 and "quickstart needs --odoo-source to create a new project." in err
    assert not (tmp_path / "demo" / "odooplane.yaml").exists()


def test_a_git_source_needs_a_ref(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capfd,
        "quickstart",
        str(tmp_path / "demo"),
        "--odoo-source",
        "https://github.com/odoo/odoo.git",
    )
    assert code == 2 and "say which branch or tag to use" in err and "--odoo-ref" in err


def test_a_folder_with_other_files_is_refused(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    code, _, err = run(capfd, "quickstart", str(folder), "--odoo-source", "/opt/odoo-src/17.0")
    assert code == 1 and "exists and is not empty" in err and "odooplane init" in err
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


def test_bad_port_and_folder(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capfd, "quickstart", str(tmp_path / "x"), "--port", "70000")
    assert code == 2 and "70000" in err
    file = tmp_path / "file"
    file.write_text("")
    code, _, err = run(capfd, "quickstart", str(file))
    assert code == 2 and "file" in err
