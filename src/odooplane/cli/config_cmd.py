"""`odooplane config` commands."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import click

from odooplane.cli import cli
from odooplane.cli._common import console, console_err, emit, json_option, project_dir
from odooplane.config import (
    ConfigFileError,
    LoadedConfig,
    environment_summary,
    load_config_details,
    redacted_dump,
)
from odooplane.errors import ConfigError
from odooplane.paths import CONFIG_FILENAME, find_project_root


@cli.group("config")
def config_group() -> None:
    """Check and show odooplane.yaml."""


def _config_path(ctx: click.Context) -> Path:
    start = project_dir(ctx)
    root = find_project_root(start)
    if root is None:
        raise ConfigError(
            f"No {CONFIG_FILENAME} in {start} or any folder above it.",
            hint="Run `odooplane init` in your addons repository, or pass -C PROJECT_DIR.",
        )
    path = root / CONFIG_FILENAME
    # Positions read better as a short relative path when the file is below us.
    try:
        return path.relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def _load(ctx: click.Context, as_json: bool) -> LoadedConfig:
    """Load the project's config; on problems print them all and exit 2."""
    path = _config_path(ctx)
    try:
        return load_config_details(path)
    except ConfigError as exc:
        issues: list[dict[str, Any]]
        if isinstance(exc, ConfigFileError):
            issues = [issue.to_dict() for issue in exc.issues]
        else:
            issues = [
                {
                    "file": str(path),
                    "line": None,
                    "column": None,
                    "path": "",
                    "message": exc.message,
                    "fix": exc.hint or "",
                }
            ]
        if as_json:
            payload = {"ok": False, "file": str(path), "errors": issues}
            sys.stdout.write(json.dumps(payload, indent=2, sort_keys=True) + "\n")
        else:
            for issue in issues:
                where = (
                    f"{issue['file']}:{issue['line']}:{issue['column']}"
                    if issue["line"] is not None
                    else str(issue["file"])
                )
                key = f"{issue['path']}: " if issue["path"] else ""
                fix = f" {issue['fix']}" if issue["fix"] else ""
                console_err.print(
                    f"  {where}: {key}{issue['message']}{fix}", markup=False, soft_wrap=True
                )
        # The details are printed above, without rich markup (values may hold '[...]');
        # this short error gives the exit code 2 through the one place that maps them.
        count = len(issues)
        raise ConfigError(
            f"{path} is not valid ({count} problem{'s' if count != 1 else ''}, listed above).",
            hint="Fix them and run `odooplane config check` again.",
        ) from None


def render_environments(summary: dict[str, dict[str, Any]], title: str = "Environments") -> None:
    """Two lines per environment: readable at the 80 columns of a pipe or a CI log."""
    console.print(f"{title}:", style="bold", markup=False)
    for name, env in summary.items():
        branches = ", ".join(env["branches"])
        fed = f"branches {branches}" if branches else "fed by promotion only"
        console.print(f"  {name} ({env['kind']}): {fed}", markup=False, soft_wrap=True)
        data = env["data"] if isinstance(env["data"], str) else f"copy of {env['data']['copy']}"
        details = [f"database {env['database']}", f"data {data}"]
        if "neutralized" in env:
            details.append("neutralized" if env["neutralized"] else "not neutralized")
        if env.get("url"):
            details.append(str(env["url"]))
        console.print("      " + " · ".join(details), markup=False, soft_wrap=True)


@config_group.command("check")
@json_option
@click.pass_context
def check(ctx: click.Context, as_json: bool) -> None:
    """Validate odooplane.yaml and the env files it names.

    Every problem is reported at once, each with file:line:column, the key path, what
    was expected and how to fix it. ${VAR} values are filled in as at run time (the
    environment's env file, then the process environment). Exit code 0 when the file
    is valid, 2 when it is not.
    """
    loaded = _load(ctx, as_json)
    summary = environment_summary(loaded)
    config = loaded.config
    _check_evidence_file(loaded)
    data = {
        "ok": True,
        "file": str(loaded.path),
        "project": config.project,
        "series": config.odoo.series,
        "environments": summary,
        "warnings": [issue.to_dict() for issue in loaded.warnings],
    }

    def render() -> None:
        for issue in loaded.warnings:
            console_err.print(f"warning: {issue}", markup=False, soft_wrap=True)
        count = len(summary)
        console.print(
            f"{loaded.path} is valid: project {config.project}, Odoo {config.odoo.series}, "
            f"{count} environment{'s' if count != 1 else ''}.",
            markup=False,
            soft_wrap=True,
        )
        if summary:
            render_environments(summary)

    emit(data, as_json, render)


def _check_evidence_file(loaded: LoadedConfig) -> None:
    """An SQLite evidence path must be an SQLite file (or not exist yet): found here, not
    by the first `history` that reads it."""
    from odooplane.evidence.engine import check_sqlite_file, resolve_location
    from odooplane.paths import state_dir

    location = resolve_location(loaded.config.evidence.url, state_dir(loaded.path.resolve().parent))
    if location.sqlite_path is not None:
        check_sqlite_file(location.sqlite_path)


@config_group.command("show")
@json_option
@click.pass_context
def show(ctx: click.Context, as_json: bool) -> None:
    """Print the effective configuration: defaults filled in, ${VAR} interpolated.

    Values that came from an env file, and passwords inside URLs, are shown as ****.
    """
    loaded = _load(ctx, as_json)
    dumped = redacted_dump(loaded)
    summary = environment_summary(loaded)
    data = {"file": str(loaded.path), "config": dumped, "environments": summary}

    def render() -> None:
        from ruamel.yaml import YAML

        yaml = YAML(typ="safe", pure=True)
        yaml.default_flow_style = False
        yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
        buffer = io.StringIO()
        yaml.dump(dumped, buffer)
        console.print(f"# {loaded.path} (effective values)", markup=False, soft_wrap=True)
        console.print(buffer.getvalue().rstrip(), markup=False, soft_wrap=True)
        if summary:
            render_environments(summary)

    emit(data, as_json, render)
