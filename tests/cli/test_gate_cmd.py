"""`odooplane gate`: the gates listed, what the evidence store recorded for a commit,
and bad input as sentences with exit codes (gate runs themselves need Odoo: they are in
tests/gates/test_gates_odoo.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cli_run import run, run_json
from conftest import run_git
from odooplane.evidence.api import EvidenceStore
from odooplane.project import load_project

CONFIG = """\
project: shop
odoo: {series: '17.0', source: /opt/odoo-src/17.0}
environments:
  production: {kind: production}
  staging: {kind: staging, data: {copy: production}}
"""


@pytest.fixture
def repo(make_git_repo: Callable[..., Path]) -> Path:
    root = make_git_repo("shop", {"odooplane.yaml": CONFIG})
    return root


def test_help(capfd: pytest.CaptureFixture[str]) -> None:
    for args in (("gate", "--help"), ("gate", "run", "--help"), ("gate", "show", "--help")):
        code, out, _ = run(capfd, *args)
        assert code == 0 and "Usage:" in out
    _, out, _ = run(capfd, "gate", "run", "--help")
    assert "--junit" in out and "--markdown" in out and "--base" in out


def test_gate_list(capfd: pytest.CaptureFixture[str]) -> None:
    listed = run_json(capfd, "gate", "list")
    assert [g["gate"] for g in listed] == ["tests", "security", "migration", "neutralization"]
    code, out, _ = run(capfd, "gate", "list")
    assert code == 0 and "neutralization" in out and "bandit" in out


def test_gate_show_reads_the_evidence_of_a_commit(
    repo: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    sha = run_git(repo, "rev-parse", "HEAD")
    assert run_json(capfd, "-C", str(repo), "gate", "show") == {}
    with EvidenceStore.open(load_project(repo)) as store:
        store.record_gate_run("tests", "failed", git_sha=sha, summary="1 failed")
        store.record_gate_run("tests", "passed", git_sha=sha, summary="12 ok")
        store.record_gate_run("security", "passed", git_sha="f" * 40)
    shown = run_json(capfd, "-C", str(repo), "gate", "show", "main")
    assert list(shown) == ["tests"]
    assert shown["tests"]["status"] == "passed" and shown["tests"]["summary"] == "12 ok"
    code, out, _ = run(capfd, "-C", str(repo), "gate", "show", sha[:10])
    assert code == 0 and "12 ok" in out and sha[:12] in out


def test_bad_input_is_a_sentence(repo: Path, capfd: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capfd, "-C", str(repo), "gate", "run", "lint")
    assert code == 2 and "Unknown gate 'lint'" in err and "Gates: tests, security" in err
    code, _, err = run(capfd, "-C", str(repo), "gate", "show", "no-such-ref")
    assert code in (1, 2) and "no-such-ref" in err and "Traceback" not in err
    code, _, err = run(capfd, "-C", str(repo.parent / "nowhere"), "gate", "show")
    assert code == 2 and "No odooplane.yaml" in err
