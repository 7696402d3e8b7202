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
    from odooplane.errors import NotFoundError

    try:
        # Previews are not in odooplane.yaml: the project defines them from its records.
        kind = project.environment(env_name).backend
    except NotFoundError:
        kind = "local"
    return _backend(project, kind, env_name)


def backend_named(project: Project, kind: str) -> ProcessBackend:
    """The project's backend of kind ``kind`` (local, docker, kubernetes)."""
    return _backend(project, kind, None)


def project_backends(project: Project) -> list[ProcessBackend]:
    """Every backend the project's environments (and previews) run on, the local one
    always: the project's own services (the front door, the keeper) run under its
    supervisord."""
    kinds = {env.backend for env in project.config.environments.values()}
    if project.config.previews.enabled:
        kinds.add(project.config.previews.backend)
    return [SupervisorBackend(project.state_dir)] + [
        _backend(project, kind, None) for kind in sorted(kinds - {"local"})
    ]


def _backend(project: Project, kind: str, env_name: str | None) -> ProcessBackend:
    if kind == "local":
        return SupervisorBackend(project.state_dir)
    if kind == "docker":
        from odooplane.backends.docker import DockerBackend

        return DockerBackend(project)
    if kind == "kubernetes":
        from odooplane.backends.kubernetes.backend import KubernetesBackend

        return KubernetesBackend(project)
    who = f"Environment '{env_name}' wants" if env_name else "An environment wants"
    raise ConfigError(
        f"{who} backend '{kind}', which this version of odooplane does not have.",
        hint="Use backend: local, docker or kubernetes.",
    )
