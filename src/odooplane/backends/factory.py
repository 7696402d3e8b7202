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
    if kind == "local":
        return SupervisorBackend(project.state_dir)
    if kind == "docker":
        from odooplane.backends.docker import DockerBackend

        return DockerBackend(project)
    raise ConfigError(
        f"Environment '{env_name}' wants backend '{kind}', which this version of odooplane "
        "does not have.",
        hint="Use backend: local or backend: docker.",
    )
