"""Running the real ``odooplane`` entry point in-process for CLI tests: the exit code,
stdout, and stderr flattened to one line (rich wraps messages at the console width)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from odooplane.cli import main


def run(capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capfd.readouterr()
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    else:  # main() always exits; reaching here would be a bug
        code = -1
    out, err = capfd.readouterr()
    return code, out, " ".join(err.split())


def run_json(capfd: pytest.CaptureFixture[str], *args: str) -> Any:
    code, out, err = run(capfd, *args, "--json")
    assert code == 0, err
    return json.loads(out)
