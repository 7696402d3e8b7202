"""The event a workflow run was started by, read from ``$GITHUB_EVENT_PATH``.

Titles, branch names and bodies are attacker-controlled text: they are read here, from
the file Actions writes, never interpolated into a shell script.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from odooplane.errors import UsageError

SHA_RE = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class PullRequestEvent:
    action: str  # opened, synchronize, reopened, ready_for_review, closed, ...
    number: int
    title: str
    author: str
    head_sha: str
    head_ref: str
    head_repository: str
    base_sha: str
    base_ref: str
    repository: str
    private: bool
    merged: bool
    draft: bool
    html_url: str

    @property
    def fork(self) -> bool:
        """From another repository: gates only, no preview, no write token."""
        return self.head_repository.lower() != self.repository.lower()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["fork"] = self.fork
        return data


@dataclass(frozen=True)
class PushEvent:
    ref: str  # refs/heads/main
    after: str
    before: str
    repository: str
    private: bool

    @property
    def branch(self) -> str | None:
        return self.ref[len("refs/heads/") :] if self.ref.startswith("refs/heads/") else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["branch"] = self.branch
        return data


def _need(data: Mapping[str, Any], path: str) -> Any:
    here: Any = data
    for part in path.split("."):
        if not isinstance(here, Mapping) or part not in here:
            raise UsageError(f"The event has no '{path}': is this the right event file?")
        here = here[part]
    return here


def _sha(value: Any, path: str) -> str:
    text = str(value or "")
    if not SHA_RE.match(text):
        raise UsageError(f"The event's '{path}' is '{text}', not a commit SHA.")
    return text


def pull_request_event(data: Mapping[str, Any]) -> PullRequestEvent:
    pr = _need(data, "pull_request")
    number = _need(data, "pull_request.number")
    if not isinstance(number, int) or number < 1:
        raise UsageError(f"The event's pull request number is '{number}', not a number.")
    repo = data.get("repository") or {}
    head_repo = (pr.get("head") or {}).get("repo") or {}
    return PullRequestEvent(
        action=str(data.get("action") or ""),
        number=number,
        title=str(pr.get("title") or ""),
        author=str((pr.get("user") or {}).get("login") or ""),
        head_sha=_sha(_need(data, "pull_request.head.sha"), "pull_request.head.sha"),
        head_ref=str(_need(data, "pull_request.head.ref")),
        # A deleted fork has no repository any more: treat it as foreign.
        head_repository=str(head_repo.get("full_name") or "(deleted fork)"),
        base_sha=_sha(_need(data, "pull_request.base.sha"), "pull_request.base.sha"),
        base_ref=str(_need(data, "pull_request.base.ref")),
        repository=str(repo.get("full_name") or ""),
        private=bool(repo.get("private", True)),
        merged=bool(pr.get("merged")),
        draft=bool(pr.get("draft")),
        html_url=str(pr.get("html_url") or ""),
    )


def push_event(data: Mapping[str, Any]) -> PushEvent:
    repo = data.get("repository") or {}
    return PushEvent(
        ref=str(_need(data, "ref")),
        after=_sha(_need(data, "after"), "after"),
        before=str(data.get("before") or ""),
        repository=str(repo.get("full_name") or ""),
        private=bool(repo.get("private", True)),
    )


def event_file(path: str | Path | None = None) -> Path:
    given = path or os.environ.get("GITHUB_EVENT_PATH")
    if not given:
        raise UsageError(
            "No event: GITHUB_EVENT_PATH is not set (Actions sets it in a workflow run).",
            hint="Pass --event FILE with a webhook payload to run it by hand.",
        )
    return Path(given)


def read_event(path: str | Path | None = None) -> dict[str, Any]:
    file = event_file(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"The event file {file} does not exist.") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"The event file {file} is not readable JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise UsageError(f"The event file {file} holds no JSON object.")
    return data


def load_pull_request(path: str | Path | None = None) -> PullRequestEvent:
    data = read_event(path)
    if "pull_request" not in data:
        raise UsageError(
            f"The event in {event_file(path)} is not a pull request event: this command "
            "belongs in a workflow started by `pull_request`.",
        )
    return pull_request_event(data)
