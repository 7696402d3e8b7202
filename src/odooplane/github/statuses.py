"""Commit statuses, one per gate: context ``odooplane/<gate>``, linked to the run."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from odooplane.errors import UsageError
from odooplane.github.client import GitHubClient

STATES = ("error", "failure", "pending", "success")
# What a gate's status is on GitHub: a skipped gate does not block a merge.
GATE_STATES = {"passed": "success", "skipped": "success", "failed": "failure", "error": "error"}
MAX_DESCRIPTION = 140


@dataclass(frozen=True)
class StatusPosted:
    context: str
    state: str
    description: str
    target_url: str | None
    id: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def context_for(gate: str) -> str:
    return f"odooplane/{gate}"


def short(text: str, limit: int = MAX_DESCRIPTION) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def post_status(
    client: GitHubClient,
    sha: str,
    *,
    context: str,
    state: str,
    description: str,
    target_url: str | None = None,
) -> StatusPosted:
    if state not in STATES:
        raise UsageError(f"'{state}' is not a commit status state: {', '.join(STATES)}.")
    body: dict[str, Any] = {
        "state": state,
        "context": context,
        "description": short(description),
    }
    if target_url:
        body["target_url"] = target_url
    made = client.post(f"{client.repo_path}/statuses/{sha}", body)
    return StatusPosted(context, state, body["description"], target_url, int(made.get("id") or 0))


def gate_statuses(
    client: GitHubClient, sha: str, results: list[dict[str, Any]], target_url: str | None
) -> list[StatusPosted]:
    """One status per gate result (``GateResult.to_dict()`` shapes)."""
    posted = []
    for result in results:
        status = str(result.get("status"))
        summary = str(result.get("summary") or status)
        evidence = str(result.get("record_id") or "")[:8]
        posted.append(
            post_status(
                client,
                sha,
                context=context_for(str(result["gate"])),
                state=GATE_STATES.get(status, "error"),
                description=(f"{status}: {summary}" if status != "passed" else summary)
                + (f" [evidence {evidence}]" if evidence else ""),
                target_url=target_url,
            )
        )
    return posted


def pending_statuses(
    client: GitHubClient, sha: str, gates: list[str], target_url: str | None
) -> list[StatusPosted]:
    return [
        post_status(
            client,
            sha,
            context=context_for(gate),
            state="pending",
            description="running",
            target_url=target_url,
        )
        for gate in gates
    ]
