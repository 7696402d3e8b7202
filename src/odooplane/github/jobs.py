"""What the steps of the generated workflows do, one function per step.

Each reads the event from ``$GITHUB_EVENT_PATH`` (never from the workflow's text), does
its work through the library (gates, previews), reports it on GitHub (statuses,
deployments, the comment) and returns typed data; the CLI writes it to the files the
next steps read and to the step summary.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from odooplane.errors import NotFoundError, OdooplaneError, UsageError
from odooplane.fsutil import write_atomic
from odooplane.github import comments, deployments, markdown, statuses
from odooplane.github.client import GitHubClient
from odooplane.github.events import PullRequestEvent, PushEvent
from odooplane.progress import Progress
from odooplane.project import Project


@dataclass(frozen=True)
class RunInfo:
    """What Actions tells a step about its run."""

    run_url: str | None = None
    step_summary: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RunInfo:
        env = os.environ if environ is None else environ
        server, repo, run = (
            env.get("GITHUB_SERVER_URL"),
            env.get("GITHUB_REPOSITORY"),
            env.get("GITHUB_RUN_ID"),
        )
        url = f"{server.rstrip('/')}/{repo}/actions/runs/{run}" if server and repo and run else None
        summary = env.get("GITHUB_STEP_SUMMARY")
        return cls(url, Path(summary) if summary else None)

    def summarize(self, text: str) -> None:
        """Append Markdown to the job's summary page (nothing outside Actions)."""
        if self.step_summary is None:
            return
        with self.step_summary.open("a", encoding="utf-8") as out:
            out.write(text.rstrip("\n") + "\n\n")


def read_output(path: Path | None) -> dict[str, Any] | None:
    """A JSON file an earlier step wrote (None when it did not get that far)."""
    if path is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def write_output(path: Path | None, data: dict[str, Any]) -> None:
    if path is not None:
        write_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


# -- gates --------------------------------------------------------------------------------


@dataclass
class GatesOutcome:
    report: dict[str, Any]
    ok: bool
    fork: bool
    statuses: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_gates_for_event(
    project: Project,
    event: PullRequestEvent | PushEvent,
    *,
    client: GitHubClient | None,
    run: RunInfo,
    environment: str | None = None,
    progress: Progress | None = None,
) -> GatesOutcome:
    """The gates of a pull request (its commit against its base; a fork's: only
    ``github.fork_gates``, reported on the run only) or of a push (what it deployed on
    ``environment``, against the gates' default base: for staging, what production
    runs), each with its commit status."""
    from odooplane.gates.runner import run_gates, select_gates

    fork = isinstance(event, PullRequestEvent) and event.fork
    ref = event.head_sha if isinstance(event, PullRequestEvent) else event.after
    base = event.base_sha if isinstance(event, PullRequestEvent) else None
    names: list[str] = [str(g) for g in project.config.github.fork_gates] if fork else []
    if not names:
        names = select_gates(project, [])
    post = client is not None and not fork
    if post:
        assert client is not None
        statuses.pending_statuses(client, ref, names, run.run_url)
    try:
        report = run_gates(
            project,
            names,
            ref=ref,
            base=base,
            environment=environment,
            progress=progress,
        )
    except OdooplaneError as exc:
        if post:
            assert client is not None
            for name in names:
                statuses.post_status(
                    client,
                    ref,
                    context=statuses.context_for(name),
                    state="error",
                    description=exc.message,
                    target_url=run.run_url,
                )
        raise
    data = report.to_dict()
    posted = []
    if post:
        assert client is not None
        posted = [
            s.to_dict() for s in statuses.gate_statuses(client, ref, data["results"], run.run_url)
        ]
    run.summarize(markdown.gates_section(data, run_url=run.run_url))
    return GatesOutcome(report=data, ok=report.ok, fork=fork, statuses=posted)


# -- previews -----------------------------------------------------------------------------


def preview_environment(project: Project, event: PullRequestEvent) -> str:
    """The preview's name: the one it was given when made, else the one it will get."""
    from odooplane.environments.branches import preview_name
    from odooplane.previews.records import PreviewStore

    record = PreviewStore(project.state_dir).by_pr(event.number)
    return record.name if record is not None else preview_name(event.number, event.head_ref)


def preview_up(
    project: Project,
    event: PullRequestEvent,
    *,
    client: GitHubClient,
    run: RunInfo,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The pull request's preview at its commit, with its GitHub deployment
    (``in_progress``, then ``success`` with its URL or ``failure``). Returns the
    preview's JSON (``preview up --json``) and the evidence id of its deployment, or
    ``{status: failed, error}``."""
    from odooplane.previews import api

    if event.fork:
        raise UsageError(
            f"Pull request #{event.number} comes from a fork ({event.head_repository}): "
            "forks get gates, never a preview."
        )
    name = preview_environment(project, event)
    deployment = deployments.ensure_deployment(
        client,
        environment=name,
        sha=event.head_sha,
        description=f"preview of #{event.number}",
        transient=True,
    )
    deployments.post_deployment_status(
        client,
        deployment,
        environment=name,
        state="in_progress",
        description="making the preview",
        log_url=run.run_url,
    )
    try:
        info = api.up(
            project,
            pr=event.number,
            branch=event.head_ref,
            title=event.title,
            ref=event.head_sha,
            progress=progress,
        )
    except OdooplaneError as exc:
        deployments.post_deployment_status(
            client,
            deployment,
            environment=name,
            state="failure",
            description=exc.message,
            log_url=run.run_url,
        )
        return {
            "environment": name,
            "pr": event.number,
            "status": "failed",
            "build": event.head_sha,
            "error": exc.message + (f" {exc.hint}" if exc.hint else ""),
            "deployment_id": deployment,
        }
    data = info.to_dict()
    data["deployment_id"] = deployment
    data["evidence_id"] = _last_deployment(project, info.environment)
    ok = info.status == "running"
    deployments.post_deployment_status(
        client,
        deployment,
        environment=info.environment,
        state="success" if ok else "failure",
        description=f"preview {info.action or info.status}",
        environment_url=info.url if ok else None,
        log_url=run.run_url,
    )
    return data


def _last_deployment(project: Project, name: str) -> str | None:
    """The evidence id of the environment's last create or deploy."""
    from odooplane.environments.state import StateStore

    state = StateStore(project.state_dir).load(name)
    for entry in reversed(state.history if state is not None else []):
        if entry.get("deployment_id"):
            return str(entry["deployment_id"])
    return None


def preview_down(
    project: Project, event: PullRequestEvent, *, client: GitHubClient, run: RunInfo
) -> dict[str, Any]:
    """Remove the pull request's preview and mark its deployments inactive (both done
    again harmlessly when the job runs twice)."""
    from odooplane.previews import api

    closed_as = "merged" if event.merged else "closed"
    name = preview_environment(project, event)
    try:
        result = api.down(project, pr=event.number, reason=f"pull request {closed_as}")
    except NotFoundError:
        result = {"environment": name, "pr": event.number, "status": "removed", "removed": []}
    result["closed_as"] = closed_as
    inactive = deployments.deactivate(
        client,
        str(result["environment"]),
        description=f"pull request {closed_as}: preview removed",
        log_url=run.run_url,
    )
    result["deployments_inactive"] = [d.deployment_id for d in inactive]
    return result


@dataclass
class GcOutcome:
    gc: dict[str, Any]
    inactive: dict[str, list[int]] = field(default_factory=dict)  # environment -> ids
    comments: dict[int, str] = field(default_factory=dict)  # pr -> action

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PREVIEW_PR = re.compile(r"^pr-(\d+)(?:-|$)")


def report_removals(
    client: GitHubClient, removed: list[tuple[str, str]], run: RunInfo
) -> tuple[dict[str, list[int]], dict[int, str]]:
    """Tell GitHub about previews ``preview gc`` removed (environment, reason): their
    deployments become inactive and an existing comment says the preview is gone (a
    pull request without one gets none)."""
    inactive: dict[str, list[int]] = {}
    touched: dict[int, str] = {}
    for environment, reason in removed:
        done = deployments.deactivate(
            client, environment, description=f"preview removed: {reason}", log_url=run.run_url
        )
        inactive[environment] = [d.deployment_id for d in done]
        match = PREVIEW_PR.match(environment)
        if match is None:
            continue
        number = int(match.group(1))
        if comments.find_comment(client, number) is None:
            continue
        text = (
            f"### 🧹 Preview removed\n\n`{environment}` and its database were removed ({reason})."
        )
        touched[number] = comments.upsert_comment(client, number, {"preview": text}).action
    return inactive, touched


def gc_for_github(
    project: Project, *, client: GitHubClient, run: RunInfo, progress: Progress | None = None
) -> GcOutcome:
    """``preview gc``, then what it removed told to GitHub (:func:`report_removals`)."""
    from odooplane.previews import api

    report = api.gc(project, progress=progress)
    removed = [(a.environment, a.reason) for a in report.actions if a.action == "removed"]
    inactive, touched = report_removals(client, removed, run)
    return GcOutcome(gc=report.to_dict(), inactive=inactive, comments=touched)


# -- the comment --------------------------------------------------------------------------


def comment(
    project: Project,
    event: PullRequestEvent,
    *,
    client: GitHubClient,
    run: RunInfo,
    gates: dict[str, Any] | None,
    preview: dict[str, Any] | None,
    gates_given: bool,
) -> comments.CommentResult:
    """Write the pull request's one comment: the preview (link, login, password when
    ``github.show_password`` allows), the gates (results, evidence ids) and a footer.
    Sections not given are kept as they were (closing only rewrites the preview)."""
    policy = project.config.github.show_password
    show = policy == "always" or (policy == "private" and event.private)
    parts: dict[str, str] = {}
    section = markdown.preview_section(
        preview, show_password=show, pr=event.number, run_url=run.run_url
    )
    if section is not None:
        parts["preview"] = section
    if gates_given:
        parts["gates"] = markdown.gates_section(gates, run_url=run.run_url)
    parts["footer"] = markdown.footer(event.head_sha, run.run_url)
    result = comments.upsert_comment(client, event.number, parts)
    # The summary says where the comment is, never the password.
    hidden = markdown.preview_section(
        preview, show_password=False, pr=event.number, run_url=run.run_url
    )
    run.summarize(
        (hidden + "\n\n" if hidden else "")
        + (f"[The pull request's comment]({result.url})" if result.url else "")
    )
    return result
