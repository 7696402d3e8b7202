"""Postmortems written from evidence: what happened, in what order, what changed.

Everything in the document comes from the store, the log artifacts and the project's
git repository; nothing is typed by hand. Sections: summary, timeline (a Mermaid gantt
chart and a table), what changed (commits between the previous deployment's SHA and
this one, modules upgraded), gate results, health checks, the log around the first
error, the rollback taken, and the questions the evidence leaves open.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from odooplane.errors import NotFoundError
from odooplane.evidence.artifacts import read_artifact
from odooplane.evidence.records import RUNNING, DeploymentDetail, DeploymentSummary, StepRecord
from odooplane.evidence.store import EvidenceStore

# Lines that mark the start of trouble in Odoo, Python, PostgreSQL and shell output.
# Case matters: Odoo and PostgreSQL log levels are upper case, and "--log-level=error"
# on a command line is not an error.
ERROR_RE = re.compile(
    r"(Traceback \(most recent call last\)|\b(?:ERROR|CRITICAL|FATAL|PANIC)\b|^error: |"
    r"^\w+(?:\.\w+)*(?:Error|Exception): |\[exit [1-9]\d* after|\[killed after)"
)
LINES_BEFORE = 10
LINES_AFTER = 30
MAX_COMMITS = 50


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    date: str
    subject: str


@dataclass(frozen=True)
class ChangeSet:
    previous_sha: str | None
    commits: list[Commit]
    note: str | None  # why the list is partial or missing
    truncated: bool = False


@dataclass(frozen=True)
class ErrorExcerpt:
    step: str
    path: str | None  # as recorded (relative to the project when inside it)
    first_line: int  # 1-based line number of the first line shown
    error_line: int | None  # 1-based line of the first error, None if no marker matched
    text: str
    status: str = "failed"  # of the step: failed, or interrupted (its process died)


def changes_between(repo: Path, previous: str | None, current: str) -> ChangeSet:
    """Commits from ``previous`` (exclusive) to ``current`` in the project repository."""
    from odooplane import gitrepo

    if not gitrepo.is_repository(repo):
        return ChangeSet(previous, [], f"{repo} is not a git repository; commits not listed.")
    missing = [sha for sha in (previous, current) if sha and not gitrepo.has_commit(repo, sha)]
    if missing:
        return ChangeSet(
            previous,
            [],
            "Commit(s) "
            + ", ".join(f"`{sha[:12]}`" for sha in missing)
            + f" are not reachable in {repo} (fetch them to list the changes).",
        )
    span = f"{previous}..{current}" if previous else current
    raw = gitrepo.git(
        repo,
        "log",
        f"--max-count={MAX_COMMITS + 1}",
        "--format=%H%x1f%an%x1f%as%x1f%s",
        span,
    )
    commits = []
    for line in raw.splitlines():
        parts = line.split("\x1f")
        if len(parts) == 4:
            commits.append(Commit(sha=parts[0], author=parts[1], date=parts[2], subject=parts[3]))
    truncated = len(commits) > MAX_COMMITS
    note = None
    if previous is None:
        note = "No previous deployment of this environment: the history up to this commit."
    elif not commits:
        note = "No new commits: the same code was deployed again."
    return ChangeSet(previous, commits[:MAX_COMMITS], note, truncated)


def _kept_tail(detail: DeploymentDetail, step: StepRecord) -> str | None:
    """The last lines of a step kept in its record when its log could not be written."""
    for event in detail.events:
        data = event.data or {}
        if event.kind == "step_finished" and data.get("index") == step.index:
            tail = data.get("output_tail")
            return str(tail) if tail else None
    return None


def error_excerpt(store: EvidenceStore, detail: DeploymentDetail) -> ErrorExcerpt | None:
    """The log around the first error: in the first failed step, else the step that was
    interrupted, else the last step (of a deployment that did not succeed)."""
    failed = [s for s in detail.steps if s.status == "failed"]
    interrupted = [s for s in detail.steps if s.status in ("interrupted", RUNNING)]
    candidates: list[StepRecord] = failed[:1] or interrupted[-1:]
    if not candidates and detail.summary.outcome not in ("succeeded", RUNNING):
        candidates = detail.steps[-1:]
    for step in candidates:
        path = store.layout.from_record(step.artifact_path) if step.artifact_path else None
        text = read_artifact(path) if path is not None else None
        kept = _kept_tail(detail, step)
        if kept is not None:
            # The log on disk is incomplete (it could not be written): the record's copy
            # of its last lines is what is known.
            text = kept
        if text is None:
            return ErrorExcerpt(step.name, step.artifact_path, 0, None, "", step.status)
        lines = text.splitlines()
        match_line = None
        for number, line in enumerate(lines):
            # "$ command" lines are odooplane's echo of what it ran, not output.
            if not line.startswith("$ ") and ERROR_RE.search(line):
                match_line = number
                break
        if match_line is None:
            start = max(0, len(lines) - (LINES_BEFORE + LINES_AFTER))
            shown = lines[start:]
        else:
            start = max(0, match_line - LINES_BEFORE)
            shown = lines[start : match_line + LINES_AFTER + 1]
        return ErrorExcerpt(
            step=step.name,
            path=step.artifact_path,
            first_line=start + 1,
            error_line=None if match_line is None else match_line + 1,
            text="\n".join(shown),
            status=step.status,
        )
    return None


def _ts(moment: datetime | None) -> str:
    return "—" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(ms: int | None) -> str:
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _mermaid_label(text: str) -> str:
    # Mermaid gantt task names cannot hold ':' or '#' or ';'.
    return re.sub(r"\s+", " ", re.sub(r"[:#;]", " ", text)).strip() or "step"


def _gantt(detail: DeploymentDetail) -> list[str]:
    summary = detail.summary
    lines = [
        "```mermaid",
        "gantt",
        f"    title Deployment {summary.short_id} to {_mermaid_label(summary.environment)}",
        "    dateFormat x",
        "    axisFormat %H:%M:%S",
        "    section Steps",
    ]
    if not detail.steps:
        start = _ms(summary.started_at)
        lines.append(f"    no steps recorded :milestone, m0, {start}, {start}")
    for step in detail.steps:
        tags = {
            "failed": "crit, ",
            "interrupted": "crit, ",
            "succeeded": "done, ",
            RUNNING: "active, ",
        }.get(step.status, "")
        start = _ms(step.started_at)
        end = _ms(step.finished_at) if step.finished_at else start + 1
        # A zero-length bar does not render; give instant steps one millisecond.
        end = max(end, start + 1)
        lines.append(f"    {_mermaid_label(step.name)} :{tags}s{step.index}, {start}, {end}")
    if detail.health_checks:
        lines.append("    section Health checks")
        for number, check in enumerate(detail.health_checks, 1):
            tag = "crit, " if check.status != "passed" else ""
            at = _ms(check.at)
            lines.append(f"    {_mermaid_label(check.name)} :{tag}milestone, h{number}, {at}, {at}")
    lines.append("```")
    return lines


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def render(
    store: EvidenceStore,
    detail: DeploymentDetail,
    *,
    repo: Path | None = None,
    previous: DeploymentSummary | None = None,
) -> str:
    summary = detail.summary
    out: list[str] = []
    add = out.append
    add(f"# Postmortem: deployment `{summary.short_id}` to {summary.environment}")
    add("")
    add(f"_Generated by odooplane from the evidence store {store.location.display}._")
    add("")
    add("## Summary")
    add("")
    add("| | |")
    add("|---|---|")
    rows = [
        ("Deployment", f"`{summary.id}`"),
        ("Environment", summary.environment),
        ("Kind", summary.kind),
        ("Outcome", f"**{summary.outcome}**"),
        ("Commit", f"`{summary.git_sha}`"),
        ("Started", _ts(summary.started_at)),
        ("Finished", _ts(summary.finished_at)),
        ("Duration", _duration(summary.duration_ms)),
        ("Approved by", summary.approved_by or "nobody recorded"),
        ("Run by", summary.recorded_by or "—"),
        (
            "Previous deployment",
            f"`{summary.previous_deployment_id}`" if summary.previous_deployment_id else "none",
        ),
    ]
    if summary.rollback_of:
        rows.append(("Rolls back", f"`{summary.rollback_of}`"))
    if detail.build is not None:
        build = detail.build
        rows.append(("Branch", build.branch or "—"))
        rows.append(("Odoo", f"{build.odoo_series or '?'} ({build.odoo_revision or 'revision ?'})"))
        rows.append(("Dependencies hash", f"`{build.dependencies_hash or '—'}`"))
    if summary.image_id:
        rows.append(("Image", f"`{summary.image_id}`"))
    error = detail.result.get("error")
    if error:
        rows.append(("Error", str(error)))
    for key, value in rows:
        add(f"| {key} | {_cell(value)} |")
    add("")

    add("## Timeline")
    add("")
    out.extend(_gantt(detail))
    add("")
    add("| # | Step | Status | Started | Duration | Log |")
    add("|---|---|---|---|---|---|")
    for step in detail.steps:
        log = f"`{step.artifact_path}`" if step.artifact_path else "—"
        add(
            f"| {step.index} | {_cell(step.name)} | {step.status} | {_ts(step.started_at)} | "
            f"{_duration(step.duration_ms)} | {log} |"
        )
    notes = [e for e in detail.events if e.kind == "note"]
    for note in notes:
        add(f"- {_ts(note.at)}: {(note.data or {}).get('message', '')}")
    add("")

    add("## What changed")
    add("")
    previous_sha = previous.git_sha if previous is not None else None
    if repo is not None:
        changes = changes_between(repo, previous_sha, summary.git_sha)
        if previous_sha:
            add(
                f"Commits from `{previous_sha[:12]}` (previous deployment) "
                f"to `{summary.git_sha[:12]}`:"
            )
        else:
            add(f"Commits up to `{summary.git_sha[:12]}`:")
        add("")
        if changes.note:
            add(f"> {changes.note}")
            add("")
        for commit in changes.commits:
            add(
                f"- `{commit.sha[:12]}` {commit.date} {_cell(commit.author)}: "
                f"{_cell(commit.subject)}"
            )
        if changes.truncated:
            add(f"- … more than {MAX_COMMITS} commits; see `git log` for the rest.")
        add("")
    add("### Modules upgraded")
    add("")
    if detail.migrations:
        add("| Module | From | To | Scripts | Status | Duration |")
        add("|---|---|---|---|---|---|")
        for mig in detail.migrations:
            scripts = ", ".join(f"`{s}`" for s in mig.scripts) or "—"
            add(
                f"| {mig.module} | {mig.from_version or '(installed)'} | {mig.to_version or '—'} "
                f"| {scripts} | {mig.status} | {_duration(mig.duration_ms)} |"
            )
    else:
        add("No module upgrade was recorded.")
    add("")

    add("## Gate results")
    add("")
    if detail.gate_runs:
        add("| Gate | Status | When | Duration | Summary |")
        add("|---|---|---|---|---|")
        for gate in detail.gate_runs:
            add(
                f"| {gate.gate} | {gate.status} | {_ts(gate.started_at)} | "
                f"{_duration(gate.duration_ms)} | {_cell(gate.summary or '')} |"
            )
    else:
        add(f"No gate run was recorded for commit `{summary.git_sha[:12]}`.")
    add("")

    add("## Health checks")
    add("")
    if detail.health_checks:
        for check in detail.health_checks:
            detail_text = f": {check.detail}" if check.detail else ""
            add(f"- **{check.status}** {check.name} at {_ts(check.at)}{detail_text}")
    else:
        add("No health check was recorded.")
    add("")

    add("## First error")
    add("")
    excerpt = error_excerpt(store, detail)
    interrupted_step = detail.result.get("interrupted_step")
    if excerpt is None and summary.outcome == "interrupted":
        where = f"step **{interrupted_step}**" if interrupted_step else "a step"
        add(
            f"The deployment was interrupted during {where} (phase "
            f"`{detail.result.get('interrupted_phase') or '?'}`): its process died."
        )
    elif excerpt is None:
        add("No step failed.")
    elif not excerpt.text:
        add(f"Step **{excerpt.step}** {excerpt.status} but its log is gone ({excerpt.path}).")
    else:
        if excerpt.status != "failed":
            add(
                f"Step **{excerpt.step}** was interrupted (its process died; phase "
                f"`{detail.result.get('interrupted_phase') or '?'}`). Its log ends:"
            )
            add("")
        where = f"line {excerpt.error_line}" if excerpt.error_line else "the end (no error marker)"
        add(f"From the log of step **{excerpt.step}** (`{excerpt.path}`), around {where}:")
        add("")
        fence = "````" if "```" in excerpt.text else "```"
        add(f"{fence}text")
        add(excerpt.text)
        add(fence)
    add("")

    add("## Rollback")
    add("")
    rollback = detail.result.get("rollback")
    if rollback:
        add("A rollback was taken as part of this deployment:")
        add("")
        for key, value in sorted(rollback.items()):
            add(f"- {key}: `{value}`")
    for later in detail.rollbacks:
        add(
            f"- Rollback deployment `{later.short_id}` started {_ts(later.started_at)} "
            f"(commit `{later.git_sha[:12]}`), outcome **{later.outcome}**."
        )
    if not rollback and not detail.rollbacks:
        add("No rollback was recorded.")
    add("")

    add("## Open questions")
    add("")
    for question in open_questions(detail, previous):
        add(f"- {question}")
    add("")
    return "\n".join(out)


def open_questions(detail: DeploymentDetail, previous: DeploymentSummary | None) -> list[str]:
    """What the evidence does not answer and someone should."""
    summary = detail.summary
    questions = []
    if summary.outcome == RUNNING:
        questions.append(
            "No outcome was recorded: is the deployment still running, or did its process "
            "die? Check the host and the last step's log."
        )
    if summary.outcome == "interrupted":
        step = detail.result.get("interrupted_step")
        questions.append(
            f"Why did the process running the deployment die{f' during {step}' if step else ''}"
            " (killed, out of memory, host restart)? The recovery record"
            + (f" `{detail.result['recovered_by']}`" if detail.result.get("recovered_by") else "")
            + " says what was put back."
        )
    for step in detail.steps:
        if step.status == "failed":
            reason = f" ({step.error})" if step.error else ""
            questions.append(
                f"Why did step '{step.name}' fail{reason}, and why did no earlier gate catch it?"
            )
            break
    if summary.outcome in ("failed", "rolled_back", "interrupted") and not (
        detail.result.get("rollback") or detail.rollbacks
    ):
        questions.append(
            "The deployment failed and no rollback is recorded: what state is the "
            "environment in now?"
        )
    failed_checks = [c.name for c in detail.health_checks if c.status != "passed"]
    if failed_checks:
        questions.append(f"Health check(s) {', '.join(failed_checks)} failed: what did users see?")
    if not detail.health_checks and summary.outcome != RUNNING:
        questions.append("No health check was recorded: how was the result verified?")
    if not detail.gate_runs:
        questions.append(
            "No gate results are recorded for this commit: which checks ran before it?"
        )
    failed_gates = [g.gate for g in detail.gate_runs if g.status not in ("passed", "skipped")]
    if failed_gates:
        questions.append(f"Gate(s) {', '.join(failed_gates)} did not pass: why was it deployed?")
    if summary.approved_by is None and summary.environment == "production":
        questions.append("No approval is recorded for a production deployment: who decided?")
    if previous is None and summary.previous_deployment_id is not None:
        questions.append(
            f"The previous deployment `{summary.previous_deployment_id}` is no longer in the "
            "store (retention): its changes were not compared."
        )
    if not questions:
        questions.append("None: the evidence covers every section above.")
    return questions


def postmortem(store: EvidenceStore, target: str, *, repo: Path | None = None) -> str:
    """The Markdown postmortem of a deployment (by id, id prefix or environment)."""
    detail = store.deployment(target)
    previous = None
    if detail.summary.previous_deployment_id is not None:
        # A previous deployment removed by retention becomes an open question.
        with contextlib.suppress(NotFoundError):
            previous = store.resolve(str(detail.summary.previous_deployment_id))
    return render(store, detail, repo=repo or store.project_root, previous=previous)
