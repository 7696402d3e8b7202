"""The detached worker run as its own process: a lifecycle verb's error comes back as an
event carrying the sentence and exit code, an unexpected one points at the log
(start-to-follow through :mod:`detach`: tests/environments/test_detach.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from odooplane.project import Project


def _work(tmp_path: Path, request: dict[str, Any] | str) -> tuple[int, list[dict[str, Any]]]:
    req = tmp_path / "request.json"
    req.write_text(request if isinstance(request, str) else json.dumps(request))
    events = tmp_path / "op.events"
    done = subprocess.run(
        [sys.executable, "-m", "odooplane.environments.worker", str(req), str(events)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = events.read_text().splitlines() if events.exists() else []
    return done.returncode, [json.loads(line) for line in lines]


def test_a_refused_verb_is_an_error_event_with_its_exit_code(
    project: Project, tmp_path: Path
) -> None:
    code, events = _work(
        tmp_path, {"root": str(project.root), "environment": "staging", "verb": "start"}
    )
    assert code == 1
    assert events[-1]["type"] == "error" and events[-1]["exit_code"] == 1
    assert "Environment 'staging' has not been created yet." in events[-1]["message"]
    assert "odooplane env create staging" in events[-1]["hint"]


def test_an_unknown_environment_is_a_sentence(project: Project, tmp_path: Path) -> None:
    code, events = _work(
        tmp_path,
        {
            "root": str(project.root),
            "environment": "qa",
            "verb": "deploy",
            "kwargs": {"ref": "HEAD"},
        },
    )
    assert code == 1 and "No environment named 'qa'" in events[-1]["message"]


def test_an_unexpected_failure_points_at_the_log(project: Project, tmp_path: Path) -> None:
    code, events = _work(
        tmp_path, {"root": str(project.root), "environment": "staging", "verb": "explode"}
    )
    assert code == 3
    assert events[-1]["message"] == "ValueError: unknown verb 'explode'"
    assert str(tmp_path / "op.log") in events[-1]["hint"]
    code, events = _work(tmp_path, "{not json")
    assert code == 3 and events[-1]["message"].startswith("JSONDecodeError")
