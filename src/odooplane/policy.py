"""Rules over production, decided once for every caller (CLI, scripts, the lifecycle).

Which databases are production's: those of the project's production environments, and
their snapshots. They are never dropped, cloned over, restored over, imported over,
swapped or renamed unless the caller forces it (:mod:`odooplane.postgres.protection`
refuses, through the server :func:`odooplane.postgres.project_server.server_for` returns),
and never neutralized unless forced (:func:`check_neutralize`, consulted by
:func:`odooplane.neutralize.neutralize_database`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from odooplane.config import EnvironmentKind
from odooplane.errors import RefusedError
from odooplane.postgres.protection import Protection

if TYPE_CHECKING:
    from odooplane.project import Project


def production_databases(project: Project) -> Protection:
    """The databases of the project's production environments (name -> environment);
    their snapshots are protected with them."""
    config = project.config
    return Protection(
        {
            config.database_name(name): name
            for name, env in config.environments.items()
            if env.kind is EnvironmentKind.production
        }
    )


def check_neutralize(
    project: Project | None,
    database: str,
    environment: str | None,
    *,
    force: bool = False,
    protection: Protection | None = None,
) -> None:
    """Refuse to neutralize production: its environment, its database or a snapshot of
    it (neutralizing stops its mails, crons and payments), unless ``force``.

    Without a project, the ``protection`` of the server the database is on decides.
    """
    if force:
        return
    if project is not None and environment is not None:
        env = project.config.environments.get(environment)
        if env is not None and env.kind is EnvironmentKind.production:
            raise RefusedError(
                f"'{environment}' is a production environment: it is never neutralized.",
                hint="Neutralize a copy instead (a staging environment, or --db COPY_NAME).",
            )
    owners = production_databases(project) if project is not None else protection
    owner = owners.owner(database) if owners is not None else None
    if owner is not None:
        raise RefusedError(
            f"Database '{database}' belongs to production environment '{owner}': it is "
            "never neutralized.",
            hint="Copy it first (odooplane db clone) and neutralize the copy.",
        )
