"""What one neutralization needs to know, gathered from the project and the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from odooplane.config import NeutralizationConfig, ProjectRule
from odooplane.envfile import read_env_file
from odooplane.odoo.addons import project_addons_paths
from odooplane.project import Project

# Where a database neutralized without an environment (``--db NAME``) says it lives.
DEFAULT_BASE_URL = "http://localhost:8069"


@dataclass(frozen=True)
class NeutralizeSettings:
    """Everything the rules and the checks read; built by :func:`settings_for`."""

    catcher_host: str
    catcher_port: int
    base_url: str
    environment: str | None = None
    # False when base_url is only the default: verification then expects the URL the
    # neutralization recorded (an environment whose URL comes from its port).
    base_url_given: bool = True
    cron_allowlist: tuple[str, ...] = ("base.autovacuum_job",)
    param_allowlist: tuple[str, ...] = ()
    reset_passwords: bool = False
    safe_email_domain: str | None = None
    rules: tuple[ProjectRule, ...] = ()
    # The environment's own env file: test keys project rules may write into the database.
    env_values: Mapping[str, str] = field(default_factory=dict)
    env_file: Path | None = None
    odoo_source: Path | None = None
    addons_paths: tuple[Path, ...] = ()

    @property
    def catcher(self) -> str:
        return f"{self.catcher_host}:{self.catcher_port}"


def resolve_env_file(project: Project, env_file: str | None) -> Path | None:
    if not env_file:
        return None
    path = Path(env_file).expanduser()
    return path if path.is_absolute() else project.root / path


def settings_for(
    project: Project | None,
    environment: str | None,
    *,
    catcher: tuple[str, int],
    odoo_source_path: Path | None = None,
    base_url: str | None = None,
) -> NeutralizeSettings:
    """Settings for ``environment`` of ``project`` (either may be absent for ``--db``)."""
    config = project.config.neutralization if project else NeutralizationConfig()
    env_values: dict[str, str] = {}
    env_path: Path | None = None
    url = base_url
    if project is not None and environment is not None:
        env = project.environment(environment)
        env_path = resolve_env_file(project, env.env_file)
        if env_path is not None and env_path.exists():
            env_values = read_env_file(env_path)
        url = url or env.url
    host, port = catcher
    return NeutralizeSettings(
        catcher_host=host,
        catcher_port=int(port),
        base_url=(url or DEFAULT_BASE_URL).rstrip("/"),
        base_url_given=url is not None,
        environment=environment,
        cron_allowlist=tuple(config.cron_allowlist),
        param_allowlist=tuple(config.param_allowlist),
        reset_passwords=config.reset_passwords,
        safe_email_domain=config.safe_email_domain,
        rules=tuple(config.rules),
        env_values=env_values,
        env_file=env_path,
        odoo_source=odoo_source_path,
        addons_paths=tuple(project_addons_paths(project)) if project else (),
    )
