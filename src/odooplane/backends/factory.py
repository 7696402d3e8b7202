"""Which backend runs an environment: the one its ``backend:`` key names."""

from __future__ import annotations

from typing import TYPE_CHECKING

from odooplane.backends.base import ProcessBackend
from odooplane.backends.supervisor import SupervisorBackend
from odooplane.errors import ConfigError

if TYPE_CHECKING:
    from odooplane.project import Project


def backend_named(project: Project, kind: str) -> ProcessBackend:
    """The project's backend of kind ``kind`` (local, docker, kubernetes)."""
    if kind == "local":
        return SupervisorBackend(project.state_dir)
    if kind == "docker":
        from odooplane.backends.docker import DockerBackend

        return DockerBackend(project)
    if kind == "kubernetes":
        from odooplane.backends.kubernetes.backend import KubernetesBackend

        return KubernetesBackend(project)
    raise ConfigError(
        f"The backend '{kind}' does not exist in this version of odooplane.",
        hint="Use backend: local, docker or kubernetes.",
    )


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
    return backend_named(project, kind)
