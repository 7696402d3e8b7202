"""Secrets separation: a non-production environment must not see production's secrets.

Each environment reads only its own env file (``env_file`` in odooplane.yaml). Keys listed
in ``secrets.production_only`` belong to production: a non-production environment may
neither define them nor hold their production *values* under any other name, in its env
file, its ``odoo.conf`` or the process environment it is started with. Findings name the
key and the file, never the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from odooplane.config import EnvironmentKind
from odooplane.envfile import read_env_file
from odooplane.project import Project
from odooplane.results import Result

# Shorter values would match by accident ("1", "yes", "odoo"); secrets are longer.
MIN_SECRET_LENGTH = 6


@dataclass(frozen=True)
class Finding(Result):
    """A production-only secret visible to a non-production environment."""

    key: str
    where: str
    message: str


def _env_file(project: Project, env_file: str | None) -> Path | None:
    if not env_file:
        return None
    path = Path(env_file).expanduser()
    return path if path.is_absolute() else project.root / path


def production_env_files(project: Project) -> dict[str, Path]:
    """``{environment: env file}`` of every production environment that has one."""
    files: dict[str, Path] = {}
    for name, env in sorted(project.config.environments.items()):
        if env.kind == EnvironmentKind.production:
            path = _env_file(project, env.env_file)
            if path is not None:
                files[name] = path
    return files


def production_only_values(project: Project) -> dict[str, str]:
    """``{KEY: value}`` of the production-only keys, from production env files present here.

    On a machine without production's env file (a developer laptop), this is empty and
    only the key names can be checked.
    """
    keys = set(project.config.secrets.production_only)
    values: dict[str, str] = {}
    if not keys:
        return values
    for path in production_env_files(project).values():
        if not path.is_file():
            continue
        for key, value in read_env_file(path).items():
            if key in keys and value:
                values[key] = value
    return values


def _display(project: Project, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(project.root.resolve()))
    except ValueError:
        return str(path)


def check_secrets_visibility(
    project: Project,
    env_name: str,
    *,
    odoo_conf: Path | None = None,
    process_env: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Every way a production-only secret is visible to environment ``env_name``.

    Empty for production environments. The caller refuses to start the environment when
    the list is not empty.
    """
    env = project.environment(env_name)
    if env.kind == EnvironmentKind.production:
        return []
    keys = list(project.config.secrets.production_only)
    prod_values = {
        k: v for k, v in production_only_values(project).items() if len(v) >= MIN_SECRET_LENGTH
    }
    findings: list[Finding] = []
    own = _env_file(project, env.env_file)
    own_values: dict[str, str] = {}
    if own is not None:
        shown = _display(project, own)
        for prod_env, prod_file in production_env_files(project).items():
            if own.resolve() == prod_file.resolve():
                findings.append(
                    Finding(
                        "*",
                        shown,
                        f"environment '{env_name}' reads {shown}, the env file of production "
                        f"environment '{prod_env}'",
                    )
                )
        if own.is_file():
            own_values = read_env_file(own)
            findings += _scan_mapping(own_values, keys, prod_values, shown)
    if odoo_conf is not None and odoo_conf.is_file():
        text = odoo_conf.read_text("utf-8")
        shown = _display(project, odoo_conf)
        for key, value in sorted(prod_values.items()):
            if value in text:
                findings.append(
                    Finding(key, shown, f"the value of production-only {key} appears in {shown}")
                )
    if process_env is not None:
        # Variables the env file put there were reported above, under the env file.
        inherited = {k: v for k, v in process_env.items() if own_values.get(k) != v}
        findings += _scan_mapping(
            inherited, keys, prod_values, "the process environment it is started with"
        )
    return findings


def _scan_mapping(
    mapping: Mapping[str, str], keys: list[str], prod_values: Mapping[str, str], where: str
) -> list[Finding]:
    findings: list[Finding] = []
    for key in keys:
        if mapping.get(key):
            findings.append(Finding(key, where, f"production-only key {key} is set in {where}"))
    for prod_key, value in sorted(prod_values.items()):
        holders = sorted(k for k, v in mapping.items() if v and value in v and k != prod_key)
        for holder in holders:
            findings.append(
                Finding(
                    prod_key,
                    where,
                    f"the value of production-only {prod_key} appears in {where} under {holder}",
                )
            )
    return findings
