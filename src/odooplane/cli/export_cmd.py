"""`odooplane export`: environments as files other tools deploy (Kubernetes manifests, a
Compose project)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from odooplane.cli import cli
from odooplane.cli._common import console, emit, json_option, project_dir
from odooplane.cli.progress import ProgressLines
from odooplane.project import load_project


@cli.group("export")
def export_group() -> None:
    """Write environments as files that run them without odooplane."""


@export_group.command("kubernetes")
@click.argument("environments", nargs=-1)
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("kubernetes"),
    show_default=True,
    help="Folder to write the manifests and their kustomization.yaml into.",
)
@click.option(
    "--ref",
    default=None,
    help="Build this ref instead of each environment's current build (or its branch).",
)
@click.option(
    "--include-secrets",
    is_flag=True,
    help="Also write the Secrets (database password, odoo.conf, env file) to "
    "<environment>.secrets.yaml, mode 0600. Keep them out of git.",
)
@json_option
@click.pass_context
def export_kubernetes_command(
    ctx: click.Context,
    environments: tuple[str, ...],
    output: Path,
    ref: str | None,
    include_secrets: bool,
    as_json: bool,
) -> None:
    """Write Kubernetes manifests of ENVIRONMENTS (default: every one) for GitOps.

    Each environment becomes a Deployment (non-root, requests and limits, probes on
    /web/health), a Service, an Ingress for its url, a claim for its filestore, Jobs
    for database init, module update and neutralization, and the Secrets they read.
    `kubectl apply -k OUTPUT` applies the folder; see docs/kubernetes.md.
    """
    from odooplane.backends.kubernetes.export import export_kubernetes

    project = load_project(project_dir(ctx))
    result = export_kubernetes(
        project,
        list(environments),
        output if output.is_absolute() else Path.cwd() / output,
        ref=ref,
        include_secrets=include_secrets,
        progress=None if as_json else ProgressLines(),
    )

    def render() -> None:
        table = Table(title=f"Kubernetes manifests in {result.directory}")
        for column in ("environment", "build", "image", "file", "objects"):
            table.add_column(column)
        for env in result.environments:
            table.add_row(
                env.environment,
                env.build[:12],
                env.image,
                env.file,
                ", ".join(env.objects),
            )
        console.print(table)
        if result.include_secrets:
            console.print(
                "[yellow]Secrets written to *.secrets.yaml (mode 0600): keep them out of "
                "git.[/yellow]"
            )
        else:
            console.print("Create these Secrets in namespace " + result.namespace + " first:")
            for env in result.environments:
                for secret in env.secrets_expected:
                    console.print(f"  {secret['name']}: {', '.join(secret['keys'])}")
        console.print(f"Apply with: kubectl apply -k {result.directory}")

    emit(result.to_dict(), as_json, render)


@export_group.command("compose")
@click.argument("environments", nargs=-1)
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("compose"),
    show_default=True,
    help="Folder to write compose.yaml, .env and each environment's files into.",
)
@click.option(
    "--ref",
    default=None,
    help="Build this ref instead of each environment's current build (default: HEAD).",
)
@json_option
@click.pass_context
def export_compose_command(
    ctx: click.Context,
    environments: tuple[str, ...],
    output: Path,
    ref: str | None,
    as_json: bool,
) -> None:
    """Write a Compose project running ENVIRONMENTS (default: every one).

    Each environment gets a service serving its build's image on 127.0.0.1 and an init
    service creating its database once; a PostgreSQL service unless database.server
    names an external one. Validated with `docker compose config`; run it with
    `docker compose up -d` in OUTPUT. See docs/containers.md.
    """
    from odooplane.containers.compose import export_compose

    project = load_project(project_dir(ctx))
    result = export_compose(
        project,
        list(environments),
        output if output.is_absolute() else Path.cwd() / output,
        ref=ref,
        progress=None if as_json else ProgressLines(),
    )

    def render() -> None:
        table = Table(title=f"Compose project {result.project_name} in {result.directory}")
        for column in ("environment", "build", "image", "database", "port (.env)"):
            table.add_column(column)
        for env in result.environments:
            table.add_row(
                env.environment,
                env.build[:12],
                env.image,
                env.database,
                f"{env.http_port_variable}={env.http_port}",
            )
        console.print(table)
        console.print(f"Run it with: docker compose --project-directory {result.directory} up -d")

    emit(result.to_dict(), as_json, render)
