"""The baseline of accepted findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from odooplane.errors import ConfigError
from odooplane.gates.baseline import load_baseline


def test_entries_match_tool_rule_and_path_glob(tmp_path: Path) -> None:
    path = tmp_path / "gates-baseline.yaml"
    path.write_text(
        "accepted:\n"
        "  - tool: bandit\n    rule: B608\n    path: addons/report_*/*\n"
        "    reason: constants only, reviewed by Ana\n"
        "  - tool: pip-audit\n    rule: PYSEC-2023-1\n    reason: not reachable in our use\n"
    )
    baseline = load_baseline(path)
    found = baseline.accepts("bandit", "b608", "addons/report_x/models.py")
    assert found is not None and found.reason == "constants only, reviewed by Ana"
    assert baseline.accepts("bandit", "B608", "addons/sale/models.py") is None
    assert baseline.accepts("pylint", "B608", "addons/report_x/models.py") is None
    assert baseline.accepts("pip-audit", "PYSEC-2023-1", "pillow") is not None


def test_missing_file_accepts_nothing(tmp_path: Path) -> None:
    assert load_baseline(tmp_path / "absent.yaml").accepts("bandit", "B101", None) is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("accepted:\n  - tool: bandit\n    rule: B608\n", "has no reason"),
        ("accepted:\n  - tool: flake8\n    rule: E1\n    reason: x\n", "expected one of"),
        ("accepted:\n  - tool: bandit\n    reason: x\n", "rule is missing"),
        ("accepted:\n  - tool: bandit\n    rule: B1\n    reason: x\n    why: y\n", "unknown keys"),
        ("accepted: {a: 1}\n", "list 'accepted'"),
        ("accepted: [\n", "not valid YAML"),
    ],
)
def test_bad_entries_are_sentences(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "gates-baseline.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=words):
        load_baseline(path)
