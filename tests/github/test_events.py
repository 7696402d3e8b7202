"""Pull-request and push events read from $GITHUB_EVENT_PATH."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from odooplane.errors import UsageError
from odooplane.github.events import load_pull_request, push_event, read_event


def payload(action: str = "opened", *, fork: bool = False) -> dict[str, object]:
    head_repo = "mallory/erp" if fork else "acme/erp"
    return {
        "action": action,
        "number": 12,
        "pull_request": {
            "number": 12,
            "title": 'Login $(curl evil) "quoted" `ticks`',
            "user": {"login": "dev"},
            "head": {"sha": "a" * 40, "ref": "feature/$(id)", "repo": {"full_name": head_repo}},
            "base": {"sha": "b" * 40, "ref": "main", "repo": {"full_name": "acme/erp"}},
            "merged": False,
            "draft": False,
            "html_url": "https://github.com/acme/erp/pull/12",
        },
        "repository": {"full_name": "acme/erp", "private": True},
    }


def test_pull_request_fields(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload()))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(path))
    event = load_pull_request()
    assert event.number == 12 and event.head_ref == "feature/$(id)"
    assert event.title.startswith("Login $(curl") and not event.fork
    path.write_text(json.dumps(payload(fork=True)))
    assert load_pull_request().fork


def test_bad_events_are_sentences(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_EVENT_PATH", raising=False)
    with pytest.raises(UsageError, match="GITHUB_EVENT_PATH is not set"):
        read_event()
    path = tmp_path / "event.json"
    path.write_text("{not json")
    with pytest.raises(UsageError, match="not readable JSON"):
        read_event(path)
    path.write_text(json.dumps({"ref": "refs/heads/main", "after": "c" * 40}))
    with pytest.raises(UsageError, match="not a pull request event"):
        load_pull_request(path)
    assert push_event(read_event(path)).branch == "main"
    broken = payload()
    broken["pull_request"]["head"]["sha"] = "main"  # type: ignore[index]
    path.write_text(json.dumps(broken))
    with pytest.raises(UsageError, match="not a commit SHA"):
        load_pull_request(path)
