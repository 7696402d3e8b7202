"""`odooplane github ...`: the steps of the generated workflows, and checks of the token,
the event and approvals. `odooplane ci init github` writes the workflows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from odooplane.cli import cli
from odooplane.cli._common import console, emit, json_option, project_dir
from odooplane.cli.progress import ProgressLines
from odooplane.errors import CheckFailedError, UsageError
from odooplane.project import Project, load_project

FILE = click.Path(dir_okay=False, path_type=Path)


def _event_option(func: Any) -> Any:
    return click.option(
        "--event",
        "event_path",
        type=FILE,
        default=None,
        help="A webhook payload (default: $GITHUB_EVENT_PATH, which Actions sets).",
    )(func)


def _progress(as_json: bool) -> ProgressLines | None:
    return None if as_json else ProgressLines()


def _client(project: Project) -> Any:
    from odooplane.github.client import GitHubClient, resolve_settings

    return GitHubClient(resolve_settings(project.config.github.repository))


def _pull_request(event_path: Path | None) -> Any:
    from odooplane.github.events import load_pull_request

    return load_pull_request(event_path)


def _any_event(event_path: Path | None) -> Any:
    from odooplane.github.events import pull_request_event, push_event, read_event

    data = read_event(event_path)
    if "pull_request" in data:
        return pull_request_event(data)
    if "ref" in data and "after" in data:
        return push_event(data)
    raise UsageError(
        "The event is neither a pull request nor a push: this step belongs in the "
        "workflows `odooplane ci init github` writes."
    )


@cli.group("github")
def github_group() -> None:
    """GitHub: the steps of the generated workflows (fetch, gates, preview, comment),
    approvals, and checks of the token and the event."""


@github_group.command("check")
@json_option
@click.pass_context
def check_command(ctx: click.Context, as_json: bool) -> None:
    """Check the token and the repository: can odooplane see it?"""
    project = load_project(project_dir(ctx))
    client = _client(project)
    repo = client.get(client.repo_path)
    data = {
        "repository": repo.get("full_name"),
        "private": repo.get("private"),
        "api_url": client.settings.api_url,
        "permissions": repo.get("permissions"),
    }
    emit(
        data,
        as_json,
        lambda: console.print(
            f"[green]ok[/green] {data['repository']} "
            f"({'private' if data['private'] else 'public'}) at {data['api_url']}"
        ),
    )


@github_group.command("event")
@_event_option
@json_option
def event_command(event_path: Path | None, as_json: bool) -> None:
    """What the event of this run says (pull request or push)."""
    event = _any_event(event_path)
    data = event.to_dict()

    def render() -> None:
        table = Table(show_header=False, box=None)
        for key, value in data.items():
            table.add_row(key, str(value))
        console.print(table)

    emit(data, as_json, render)


@github_group.command("fetch")
@_event_option
@json_option
@click.pass_context
def fetch_command(ctx: click.Context, event_path: Path | None, as_json: bool) -> None:
    """Fetch the event's commits (a pull request's head and base, a pushed branch) from
    GitHub into the project."""
    from odooplane.github.client import resolve_settings
    from odooplane.github.fetch import fetch

    project = load_project(project_dir(ctx))
    event = _any_event(event_path)
    settings = resolve_settings(project.config.github.repository, need_token=False)
    result = fetch(project, settings, event)
    emit(
        result.to_dict(),
        as_json,
        lambda: console.print(
            "fetched " + ", ".join(c[:12] for c in result.commits) + f" from {result.remote}"
        ),
    )


@github_group.command("gates")
@click.option("--env", "environment", metavar="ENV", help="The environment the gates are for.")
@click.option("--output", type=FILE, help="Write the gates' report (JSON) there.")
@_event_option
@json_option
@click.pass_context
def gates_command(
    ctx: click.Context,
    environment: str | None,
    output: Path | None,
    event_path: Path | None,
    as_json: bool,
) -> None:
    """Run the gates of the event: a pull request's commit against its base (a fork's:
    github.fork_gates only), or a push against what production runs; a commit status
    per gate and the step summary. Exits 1 when a gate did not pass."""
    from odooplane.github.jobs import RunInfo, run_gates_for_event, write_output

    project = load_project(project_dir(ctx))
    event = _any_event(event_path)
    fork = getattr(event, "fork", False)
    # A fork's token is read-only: nothing is posted, so none is needed.
    client = None if fork else _client(project)
    run = RunInfo.from_env()
    try:
        outcome = run_gates_for_event(
            project,
            event,
            client=client,
            run=run,
            environment=environment,
            progress=_progress(as_json),
        )
    except Exception as exc:
        message = getattr(exc, "message", None) or str(exc)
        write_output(output, {"error": message, "results": []})
        raise
    write_output(output, outcome.report)

    def render() -> None:
        for result in outcome.report["results"]:
            console.print(f"{result['gate']}: {result['status']} ({result['summary']})")

    emit(outcome.to_dict(), as_json, render)
    if not outcome.ok:
        bad = [r["gate"] for r in outcome.report["results"] if r["status"] in ("failed", "error")]
        raise CheckFailedError(
            f"Gates did not pass on {outcome.report['git_sha'][:12]}: {', '.join(bad)}."
        )


@github_group.group("preview")
def preview_group() -> None:
    """The pull request's preview with its GitHub deployment."""


@preview_group.command("up")
@click.option("--output", type=FILE, help="Write the preview (JSON) there.")
@_event_option
@json_option
@click.pass_context
def preview_up_command(
    ctx: click.Context, output: Path | None, event_path: Path | None, as_json: bool
) -> None:
    """Create or update the pull request's preview at its commit; its deployment goes
    in_progress, then success with the preview's URL, or failure. Exits 1 on failure."""
    from odooplane.github.jobs import RunInfo, preview_up, write_output

    project = load_project(project_dir(ctx))
    event = _pull_request(event_path)
    data = preview_up(
        project, event, client=_client(project), run=RunInfo.from_env(), progress=_progress(as_json)
    )
    write_output(output, data)
    emit(
        data,
        as_json,
        lambda: console.print(f"{data['environment']}: {data['status']} {data.get('url') or ''}"),
    )
    if data["status"] != "running":
        raise CheckFailedError(
            f"The preview of #{event.number} is {data['status']}: {data.get('error') or ''}".strip()
        )


@preview_group.command("down")
@click.option("--output", type=FILE, help="Write what was removed (JSON) there.")
@_event_option
@json_option
@click.pass_context
def preview_down_command(
    ctx: click.Context, output: Path | None, event_path: Path | None, as_json: bool
) -> None:
    """Remove the pull request's preview and mark its deployments inactive."""
    from odooplane.github.jobs import RunInfo, preview_down, write_output

    project = load_project(project_dir(ctx))
    event = _pull_request(event_path)
    data = preview_down(project, event, client=_client(project), run=RunInfo.from_env())
    write_output(output, data)
    emit(
        data,
        as_json,
        lambda: console.print(
            f"{data['environment']} removed; deployments inactive: "
            f"{len(data['deployments_inactive'])}"
        ),
    )


@github_group.command("gc")
@json_option
@click.pass_context
def gc_command(ctx: click.Context, as_json: bool) -> None:
    """`preview gc`, then GitHub told: the removed previews' deployments inactive, their
    comments saying so."""
    from odooplane.github.jobs import RunInfo, gc_for_github

    project = load_project(project_dir(ctx))
    outcome = gc_for_github(
        project, client=_client(project), run=RunInfo.from_env(), progress=_progress(as_json)
    )

    def render() -> None:
        for action in outcome.gc["actions"]:
            console.print(f"{action['environment']}: {action['action']} ({action['reason']})")
        if not outcome.gc["actions"]:
            console.print("nothing to do")

    emit(outcome.to_dict(), as_json, render)


@github_group.command("comment")
@click.option("--gates", "gates_file", type=FILE, help="The report `github gates` wrote.")
@click.option("--preview", "preview_file", type=FILE, help="What `github preview` wrote.")
@_event_option
@json_option
@click.pass_context
def comment_command(
    ctx: click.Context,
    gates_file: Path | None,
    preview_file: Path | None,
    event_path: Path | None,
    as_json: bool,
) -> None:
    """Write the pull request's one odooplane comment (created once, then edited): the
    preview's link and login, the gates and their evidence ids."""
    from odooplane.github.jobs import RunInfo, comment, read_output

    project = load_project(project_dir(ctx))
    event = _pull_request(event_path)
    preview = read_output(preview_file)
    if preview_file is not None and preview is None:
        preview = {"status": "absent"}
    result = comment(
        project,
        event,
        client=_client(project),
        run=RunInfo.from_env(),
        gates=read_output(gates_file),
        preview=preview,
        gates_given=gates_file is not None,
    )
    emit(result.to_dict(), as_json, lambda: console.print(f"comment {result.action}: {result.url}"))


@github_group.command("approval")
@click.option("--sha", metavar="SHA", help="The commit (default: what staging runs).")
@click.option("--pr", type=click.IntRange(min=1), help="The release pull request.")
@json_option
@click.pass_context
def approval_command(ctx: click.Context, sha: str | None, pr: int | None, as_json: bool) -> None:
    """Who approved promoting a commit on GitHub, and which approvals are refused and why
    (what `promote --github` will accept). Exits 1 when none is accepted."""
    from odooplane.github.approvals import find_approvals, refusal
    from odooplane.github.promotion import release_bounds

    project = load_project(project_dir(ctx))
    commit, since, target = release_bounds(project, sha)
    section = project.config.promotion
    findings = find_approvals(
        _client(project),
        commit,
        pr=pr,
        since=since,
        approvers=section.approvers,
        forbid_self_approval=section.forbid_self_approval,
    )
    data = findings.to_dict()

    def render() -> None:
        for c in findings.candidates:
            verdict = "[green]accepted[/green]" if c.refused is None else f"refused: {c.refused}"
            console.print(f"{c.login} ({c.method}) {verdict}  {c.url}", highlight=False)
        if not findings.candidates:
            console.print("no approval found")

    emit(data, as_json, render)
    if findings.accepted is None:
        raise CheckFailedError(refusal(findings, target))


@cli.group("ci")
def ci_group() -> None:
    """Continuous integration: generated workflows."""


@ci_group.group("init")
def ci_init_group() -> None:
    """Write the CI workflows of this project."""


@ci_init_group.command("github")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when the files differ.")
@json_option
@click.pass_context
def ci_init_github(ctx: click.Context, check: bool, as_json: bool) -> None:
    """Write .github/workflows/odooplane-*.yml from odooplane.yaml (pull requests,
    closed pull requests, staging, production, preview gc)."""
    from odooplane.github.workflows import init, require_no_drift

    project = load_project(project_dir(ctx))
    result = init(project.root, project.config, check=check)

    def render() -> None:
        for name in result.written:
            console.print(f"[green]wrote[/green] {result.folder}/{name}", highlight=False)
        for name in result.removed:
            console.print(f"[yellow]removed[/yellow] {result.folder}/{name}", highlight=False)
        for name in result.unchanged:
            console.print(f"unchanged {result.folder}/{name}", highlight=False)
        for diff in result.drift.values():
            console.print(diff, highlight=False, markup=False)

    emit(result.to_dict(), as_json, render)
    if check:
        require_no_drift(result)
