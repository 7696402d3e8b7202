"""`odooplane promote` and `odooplane rollback`."""

from __future__ import annotations

import click
from rich.table import Table

from odooplane.cli import cli
from odooplane.cli._common import Seconds, console, console_err, emit, json_option, project_dir
from odooplane.cli.progress import ProgressLines
from odooplane.project import load_project
from odooplane.promotion.approval import ApprovalRequest


def _say(as_json: bool) -> ProgressLines | None:
    return None if as_json else ProgressLines()


def _show_request(request: ApprovalRequest) -> None:
    build = request.build
    table = Table(title=f"Promote to {request.target}", show_header=False, box=None)
    table.add_row("build", f"[bold]{request.git_sha[:12]}[/bold] {build.get('subject', '')}")
    table.add_row("from", f"{request.source} (branch {build.get('branch') or '-'})")
    table.add_row("author", str(build.get("author") or "-"))
    for name, gate in request.gates.items():
        table.add_row(f"gate {name}", f"{gate['status']} ({gate['id'][:8]}): {gate['summary']}")
    if not request.gates:
        table.add_row("gates", "[yellow]none required (gates.required is empty)[/yellow]")
    table.add_row("install", ", ".join(request.install) or "-")
    table.add_row("update", ", ".join(request.update) or "-")
    console_err.print(table)


@cli.command("promote")
@click.option("--from", "source", metavar="ENV", help="Source environment (default: staging).")
@click.option("--to", "target", metavar="ENV", help="Target environment (default: production).")
@click.option("--sha", metavar="SHA", help="The commit to promote (must run on the source).")
@click.option(
    "--approved-by",
    metavar="NAME",
    help="Who approved (for CI; recorded). Without it a person confirms at the terminal.",
)
@click.option(
    "--github",
    "from_github",
    is_flag=True,
    help="The approval is a review of the release pull request or a `/odooplane approve "
    "<sha>` comment, checked through GitHub's API (docs/github.md).",
)
@click.option(
    "--github-pr",
    type=click.IntRange(min=1),
    default=None,
    help="With --github: the release pull request (default: the commit's).",
)
@click.option(
    "--health-timeout", type=Seconds(minimum=1.0), default=None, help="Seconds to wait for health."
)
@json_option
@click.pass_context
def promote_command(
    ctx: click.Context,
    source: str | None,
    target: str | None,
    sha: str | None,
    approved_by: str | None,
    from_github: bool,
    github_pr: int | None,
    health_timeout: float | None,
    as_json: bool,
) -> None:
    """Promote the build the source runs to the target: gates passed for that build, a
    person's approval, a backup when modules change, the deployment, smoke checks, and
    an automatic rollback when they fail."""
    import sys

    from odooplane.errors import RefusedError, UsageError
    from odooplane.promotion.approval import ApprovalSource, InteractiveApproval, NamedApproval
    from odooplane.promotion.promote import promote

    project = load_project(project_dir(ctx))
    approval: ApprovalSource
    if from_github and approved_by is not None:
        raise UsageError("Give --github or --approved-by, not both.")
    if github_pr is not None and not from_github:
        raise UsageError("--github-pr goes with --github.")
    if from_github:
        from odooplane.github.promotion import github_approval

        approval = github_approval(project, pr=github_pr, sha=sha, source=source, target=target)
    elif approved_by is not None:
        approval = NamedApproval(approved_by)
    else:
        if not sys.stdin.isatty():
            raise RefusedError(
                "Nobody can confirm this promotion here (no terminal).",
                hint="In CI pass --approved-by NAME; it is recorded with the promotion.",
            )

        def confirm(request: ApprovalRequest) -> bool:
            _show_request(request)
            return click.confirm(
                f"Promote {request.git_sha[:12]} to {request.target}?",
                default=False,
                err=True,
            )

        approval = InteractiveApproval(confirm)
    result = promote(
        project,
        approval=approval,
        source=source,
        target=target,
        sha=sha,
        health_timeout=health_timeout,
        progress=_say(as_json),
    )
    emit(
        result.to_dict(),
        as_json,
        lambda: console.print(
            f"[green]Promoted[/green] {result.git_sha[:12]} to {result.target} in "
            f"{result.seconds:.0f} s, approved by {result.approval['approver']}"
            + (f"; backup {result.backup['name']}" if result.backup else "")
            + (f"; snapshot {result.snapshot}" if result.snapshot else "")
            + f" (evidence {str(result.promotion_id)[:8]}).",
            highlight=False,
        ),
    )


@cli.command("rollback")
@click.argument("environment")
@click.option("--to", "to", metavar="DEPLOYMENT", help="A deployment id (default: the previous).")
@click.option("--code-only", is_flag=True, help="Keep the data; only the build goes back.")
@click.option("--force", is_flag=True, help="Roll the data back even if rows were written since.")
@click.option("--dry-run", is_flag=True, help="Say what would happen and what would be lost.")
@json_option
@click.pass_context
def rollback_command(
    ctx: click.Context,
    environment: str,
    to: str | None,
    code_only: bool,
    force: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Roll ENVIRONMENT back to its previous successful deployment (or --to one).

    The database returns to the pre-deploy snapshot (by rename, in seconds); the one it
    replaces is kept as a snapshot. Refused without --force when rows were written since.
    """
    from odooplane.promotion.rollback import plan_rollback, rollback

    project = load_project(project_dir(ctx))
    if dry_run:
        plan = plan_rollback(project, environment, to=to, code_only=code_only)

        def render_plan() -> None:
            console.print(
                f"Would roll {environment} back from {plan.current_sha[:12]} to "
                f"{plan.target_sha[:12]}"
                + (
                    ""
                    if code_only
                    else f"; data returns to {plan.snapshot_taken_at} (snapshot {plan.snapshot})"
                )
                + ".",
                highlight=False,
            )
            if plan.loss is not None:
                console.print(
                    f"Set aside (kept as a snapshot): {plan.loss.describe()}.", highlight=False
                )
            for deployment, modules in plan.migrations.items():
                console.print(
                    f"Deployment {deployment} migrated: {', '.join(modules)}", highlight=False
                )

        emit(plan.to_dict(), as_json, render_plan)
        return
    result = rollback(
        project, environment, to=to, code_only=code_only, force=force, progress=_say(as_json)
    )
    emit(
        result.to_dict(),
        as_json,
        lambda: console.print(
            f"[green]Rolled back[/green] {environment} to {result.plan.target_sha[:12]} in "
            f"{result.seconds:.1f} s"
            + (
                f"; the replaced database is kept as snapshot {result.kept_snapshot}"
                if result.kept_snapshot
                else "; data kept (code only)"
            )
            + f" (deployment {result.deployment_id[:8]}).",
            highlight=False,
        ),
    )
