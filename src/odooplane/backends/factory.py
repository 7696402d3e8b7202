"""Which backend runs an environment: the one its ``backend:`` key names."""

from __future__ import annotations

from typing import TYPE_CHECKING

from odooplane.backends.base import ProcessBackend
from odooplane.backends.supervisor import SupervisorBackend
from odooplane.errors import ConfigError

if TYPE_CHECKING:
    from odooplane.project import Project


def backend_for(project: Project, env_name: str) -> ProcessBackend:
    """The backend of environment ``env_name`` of ``project``.

    An environment no longer in the configuration (an orphan left in the state folder)
    ran locally: only the local backend existed before the ``backend:`` key.
    """
    env = project.config.environments.get(env_name)
    kind = env.backend if env is not None else "local"
    return _backend(project, kind, env_name)


def project_backends(project: Project) -> list[ProcessBackend]:
    """Every backend the project's environments run on, the local one always: the
    project's own services (the front door, the keeper) run under its supervisord."""
    kinds = {env.backend for env in project.config.environments.values()} - {"local"}
    return [SupervisorBackend(project.state_dir)] + [
        _backend(project, kind, None) for kind in sorted(kinds)
    ]


def _backend(project: Project, kind: str, env_name: str | None) -> ProcessBackend:
    if kind == "local":
        return SupervisorBackend(project.state_dir)
    if kind == "docker":
        from odooplane.backends.docker import DockerBackend

        return DockerBackend(project)
    who = f"Environment '{env_name}' wants" if env_name else "An environment wants"
    raise ConfigError(
        f"{who} backend '{kind}', which this version of odooplane does not have.",
        hint="Use backend: local or backend: docker.",
    )
