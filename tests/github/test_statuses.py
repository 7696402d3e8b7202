"""Commit statuses odooplane/<gate> with the right states and links."""

from __future__ import annotations

import pytest

from fixtures_github import FakeGitHub
from odooplane.errors import UsageError
from odooplane.github.client import GitHubClient, resolve_settings
from odooplane.github.statuses import gate_statuses, pending_statuses, post_status

SHA = "d" * 40
RUN = "https://github.com/acme/erp/actions/runs/77"


def test_one_status_per_gate_with_its_state_and_link(github: FakeGitHub) -> None:
    client = GitHubClient(resolve_settings())
    pending_statuses(client, SHA, ["tests", "security", "migration", "neutralization"], RUN)
    results = [
        {"gate": "tests", "status": "passed", "summary": "12 tests passed", "record_id": "1" * 32},
        {"gate": "security", "status": "failed", "summary": "2 findings " + "x" * 200},
        {"gate": "migration", "status": "error", "summary": "no copy of production"},
        {"gate": "neutralization", "status": "skipped", "summary": "no staging"},
    ]
    posted = gate_statuses(client, SHA, results, RUN)
    assert [p.state for p in posted] == ["success", "failure", "error", "success"]
    latest = {}
    for status in reversed(github.statuses[SHA]):
        latest[status["context"]] = status
    assert {c: s["state"] for c, s in latest.items()} == {
        "odooplane/tests": "success",
        "odooplane/security": "failure",
        "odooplane/migration": "error",
        "odooplane/neutralization": "success",
    }
    assert all(s["target_url"] == RUN for s in latest.values())
    assert latest["odooplane/tests"]["description"] == "12 tests passed [evidence 11111111]"
    assert len(latest["odooplane/security"]["description"]) == 140
    assert latest["odooplane/neutralization"]["description"].startswith("skipped: ")
    assert len(github.statuses[SHA]) == 8


def test_an_unknown_state_is_refused_before_sending(github: FakeGitHub) -> None:
    client = GitHubClient(resolve_settings())
    with pytest.raises(UsageError, match="not a commit status state"):
        post_status(client, SHA, context="odooplane/x", state="green", description="")
    assert github.requests == []
