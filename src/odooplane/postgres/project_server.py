"""The database server of a project: its embedded cluster, or the external server its
configuration names. Above both :mod:`~odooplane.postgres.server` and
:mod:`~odooplane.postgres.cluster`, so neither imports the other back."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from odooplane.errors import RefusedError
from odooplane.policy import production_databases
from odooplane.postgres.cluster import EmbeddedCluster
from odooplane.postgres.server import DatabaseServer

if TYPE_CHECKING:
    from odooplane.project import Project


def server_for(project: Project, *, start: bool = True) -> DatabaseServer:
    """The project's database server.

    Embedded (the default): the cluster under ``.odooplane/pg``, initialized and started
    when ``start`` is true; with ``start=False`` a stopped cluster is an error saying how to
    start it. Container: the project's PostgreSQL container
    (:mod:`odooplane.containers.database`), made and started the same way. External: the
    URL of ``database.server``, never started or stopped by us. Either way the server
    protects production's databases (:mod:`odooplane.policy`).
    """
    protection = production_databases(project)
    config = project.config.database
    if config.kind == "url":
        server = DatabaseServer.from_url(config.server, postgres_bin=config.postgres_bin)
        return replace(server, protection=protection)
    if config.kind == "container":
        from odooplane.containers.database import ContainerCluster

        container = ContainerCluster(project)
        status = container.start() if start else container.status()
        if status.state != "running":
            raise RefusedError(
                f"The PostgreSQL container of this project is {status.state}.",
                hint="Start it with `odooplane db server start`.",
            )
        return replace(container.server(port=status.port), protection=protection)
    cluster = EmbeddedCluster(
        project.state_dir, bin_dir=Path(config.postgres_bin) if config.postgres_bin else None
    )
    status = cluster.start() if start else cluster.status()
    if status.state != "running":
        raise RefusedError(
            f"The embedded PostgreSQL server of this project is {status.state}.",
            hint="Start it with `odooplane db server start`.",
        )
    return replace(cluster.server(), protection=protection)
