"""`odooplane build`: make (or reuse) the build of a git ref."""

from __future__ import annotations

import click
from rich.table import Table

from odooplane.cli import cli
from odooplane.cli._common import console, console_err, emit, json_option, project_dir
from odooplane.cli.progress import ProgressBar
from odooplane.environments.builds import Build, build, list_builds, record_in_evidence
from odooplane.errors import UsageError
from odooplane.evidence.records import short_image_id
from odooplane.project import load_project


def _render(b: Build) -> None:
    table = Table(show_header=False, box=None)
    table.add_row("build", f"[bold]{b.sha}[/bold]" + ("  [dim](reused)[/dim]" if b.reused else ""))
    table.add_row("branch", b.branch or "[dim]none (detached commit)[/dim]")
    table.add_row("commit", b.subject)
    table.add_row("author", f"{b.author_name} <{b.author_email}>")
    table.add_row("committed", b.committed_at)
    table.add_row("Odoo", f"{b.odoo_series} @ {b.odoo_revision[:12]} ({b.odoo_path})")
    table.add_row("dependencies", f"{b.deps_hash} ({b.runtime_path})")
    table.add_row("code", b.code_dir)
    if b.submodules:
        table.add_row("submodules", ", ".join(b.submodules))
    table.add_row("addons", ", ".join(f"{n} {v}" for n, v in b.addons.items()) or "-")
    if not b.reused:
        table.add_row("built in", f"{b.build_seconds:.1f} s")
    console.print(table)


@cli.command("build")
@click.argument("ref", required=False)
@click.option("--list", "list_all", is_flag=True, help="List the builds kept in the state folder.")
@click.option(
    "--image",
    is_flag=True,
    help="Also make the build's OCI image (Docker engine); an unchanged one is reused.",
)
@json_option
@click.pass_context
def build_command(
    ctx: click.Context, ref: str | None, list_all: bool, image: bool, as_json: bool
) -> None:
    """Build REF (a branch, tag or commit): export it with its submodules, ensure its
    Python runtime, record its metadata.

    The build lives in .odooplane/builds/<sha>; building the same commit with the same
    Odoo source and dependencies again reuses it. Uncommitted changes are never part
    of a build.
    """
    project = load_project(project_dir(ctx))
    if list_all:
        from odooplane.containers.images import recorded_image

        builds = list_builds(project)
        images_of = {b.sha: recorded_image(project, b.sha) for b in builds}

        def render_list() -> None:
            table = Table(title="Builds")
            columns = ["sha", "branch", "commit", "Odoo", "deps", "built"]
            if any(images_of.values()):
                columns.append("image")
            for column in columns:
                table.add_column(column)
            for b in builds:
                found = images_of[b.sha]
                row = [
                    b.short,
                    b.branch or "-",
                    b.subject[:50],
                    b.odoo_revision[:10],
                    b.deps_hash,
                    b.built_at,
                ]
                if "image" in columns:
                    row.append(short_image_id(found.image_id) if found else "-")
                table.add_row(*row)
            console.print(table)

        rows = [
            {**b.to_dict(), "image": found.to_dict() if (found := images_of[b.sha]) else None}
            for b in builds
        ]
        emit(rows, as_json, render_list)
        return
    if not ref:
        raise UsageError("Name the ref to build (e.g. `odooplane build main`), or pass --list.")
    if not as_json:
        console_err.print(f"Building [bold]{ref}[/bold]...")
    with ProgressBar() as bar:
        result = build(project, ref, progress=None if as_json else bar, record=not image)
    if not image:
        emit(result.to_dict(), as_json, lambda: _render(result))
        return
    from odooplane.containers.images import build_image

    config = project.config.docker
    made = build_image(
        project,
        result,
        base_image=config.base_image,
        extra_packages=config.extra_packages,
        on_line=None if as_json else (lambda line: console_err.print(line, highlight=False)),
    )
    # The build and the image it runs from, recorded together.
    record_in_evidence(project, result, image=made)

    def render_with_image() -> None:
        _render(result)
        state = "reused (cache hit)" if made.cached else f"built in {made.seconds:.1f} s"
        console.print(f"image    {made.tag}  {made.image_id[:19]}  {state}")

    emit({**result.to_dict(), "image": made.to_dict()}, as_json, render_with_image)
