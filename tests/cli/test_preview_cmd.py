"""`odooplane preview ...`: usage, refusals and JSON without Odoo (the real previews are
in tests/previews/test_api_odoo.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_run import run


def test_preview_commands(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "odooplane.yaml").write_text("project: p\nodoo:\n  series: '17.0'\n  source: /x\n")
    root = str(tmp_path)
    code, out, _ = run(capfd, "-C", root, "preview", "--help")
    assert code == 0
    for verb in ("up", "down", "list", "show", "pin", "unpin", "close", "gc", "wake"):
        assert verb in out
    code, _, err = run(capfd, "-C", root, "preview", "up", "--pr", "3", "--branch", "f")
    assert code == 1 and "Previews are not enabled" in err
    code, _, err = run(capfd, "-C", root, "preview", "up", "--pr", "0", "--branch", "f")
    assert code == 2
    code, out, _ = run(capfd, "-C", root, "preview", "list", "--json")
    assert code == 0 and json.loads(out) == []
    code, _, err = run(capfd, "-C", root, "preview", "close", "--pr", "x1")
    assert code == 2 and "'x1' is not a pull-request number" in err
    code, out, _ = run(capfd, "-C", root, "preview", "close", "--pr", "4,5", "--json")
    assert code == 0 and [r["pr"] for r in json.loads(out)] == [4, 5]
    code, _, err = run(capfd, "-C", root, "preview", "down", "--pr", "4")
    assert code == 1 and "No preview for pull request #4" in err
