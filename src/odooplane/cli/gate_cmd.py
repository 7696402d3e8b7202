"""`odooplane gate run|list|show`: the gates a build must pass before promotion."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from odooplane.cli import cli
from odooplane.cli._common import console, emit, json_option, project_dir
from odooplane.cli.progress import ProgressLines
from odooplane.errors import CheckFailedError
from odooplane.fsutil import write_atomic
from odooplane.project import load_project

_STYLE = {"passed": "green", "failed": "bold red", "error": "bold red", "skipped": "yellow"}


@cli.group("gate")
def gate_group() -> None:
    """Gates: tests, security, migration dry-run and neutralization of a build."""


@gate_group.command("list")
@json_option
def gate_list(as_json: bool) -> None:
    """The gates odooplane knows."""
    from odooplane.gates.registry import describe

    rows = describe()

    def render() -> None:
        table = Table(show_header=False, box=None)
        for name, text in rows:
            table.add_row(f"[bold]{name}[/bold]", text)
        console.print(table)

    emit([{"gate": n, "description": d} for n, d in rows], as_json, render)


@gate_group.command("run")
@click.argument("gates", nargs=-1)
@click.option("--ref", default="HEAD", show_default=True, help="The commit to judge.")
@click.option(
    "--base",
    metavar="REF",
    help="Compare with this commit (default: what production runs, for --env staging "
    "too; for another --env, what it ran before --ref).",
)
@click.option("--env", "environment", metavar="ENV", help="The environment the gates are for.")
@click.option("--all", "all_addons", is_flag=True, help="Every addon, not only the changed ones.")
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every gate as JUnit XML (one test suite per gate).",
)
@click.option(
    "--markdown",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a Markdown summary (for $GITHUB_STEP_SUMMARY or a PR comment).",
)
@json_option
@click.pass_context
def gate_run(
    ctx: click.Context,
    gates: tuple[str, ...],
    ref: str,
    base: str | None,
    environment: str | None,
    all_addons: bool,
    junit: Path | None,
    markdown: Path | None,
    as_json: bool,
) -> None:
    """Run GATES (default: all) on the build of --ref.

    Only addons changed between --base and --ref, and those depending on them, are
    tested, checked and updated (--all for every addon). Each run is recorded in the
    evidence store with its log. Exits 1 when a gate failed or could not run.
    """
    from odooplane.gates import render
    from odooplane.gates.runner import run_gates

    project = load_project(project_dir(ctx))

    progress = None if as_json else ProgressLines()
    report = run_gates(
        project,
        gates,
        ref=ref,
        base=base,
        environment=environment,
        all_addons=all_addons,
        progress=progress,
    )
    if junit is not None:
        write_atomic(junit, render.junit(report))
    if markdown is not None:
        write_atomic(markdown, render.markdown(report))

    def show() -> None:
        table = Table(title=f"Gates on {report.git_sha[:12]} ({report.seconds:.0f} s)")
        for column in ("gate", "status", "time", "summary"):
            table.add_column(column, overflow="fold")
        for gate, status, seconds, summary in render.table_rows(report):
            table.add_row(gate, f"[{_STYLE.get(status, '')}]{status}[/]", f"{seconds} s", summary)
        console.print(table)
        for result in report.results:
            for case in result.cases:
                if case.status in ("failed", "error"):
                    console.print(
                        f"  [red]✗[/red] {result.gate}: {case.classname}.{case.name}: "
                        f"{case.message or case.status}",
                        highlight=False,
                        soft_wrap=True,
                    )
            if result.log:
                console.print(f"  [dim]{result.gate} log: {result.log}[/dim]", highlight=False)

    emit(report.to_dict(), as_json, show)
    if not report.ok:
        bad = [r.gate for r in report.results if r.status in ("failed", "error")]
        raise CheckFailedError(f"Gates did not pass on {report.git_sha[:12]}: {', '.join(bad)}.")


@gate_group.command("show")
@click.argument("sha", default="HEAD")
@json_option
@click.pass_context
def gate_show(ctx: click.Context, sha: str, as_json: bool) -> None:
    """What the evidence store says about the gates of commit SHA (latest run of each)."""
    from odooplane import gitrepo
    from odooplane.gates.verdicts import gate_verdicts

    project = load_project(project_dir(ctx))
    resolved = gitrepo.resolve_ref(project.root, sha)
    verdicts = gate_verdicts(project, resolved)

    def render() -> None:
        table = Table(title=f"Gates recorded for {resolved[:12]}")
        for column in ("gate", "status", "when", "summary", "evidence"):
            table.add_column(column, overflow="fold")
        for v in verdicts.values():
            table.add_row(
                v.gate,
                f"[{_STYLE.get(v.status, '')}]{v.status}[/]",
                v.started_at.isoformat(timespec="seconds"),
                v.summary or "",
                str(v.id)[:8],
            )
        console.print(table)

    emit({k: v.to_dict() for k, v in verdicts.items()}, as_json, render)
