"""start, stop and destroy rules that need PostgreSQL and git but no Odoo process."""

from __future__ import annotations

import pytest

from odooplane.environments import api as envs
from odooplane.environments.state import EnvState, StateStore
from odooplane.errors import NotFoundError, RefusedError
from odooplane.postgres import databases as dbs
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project


def test_commands_on_an_environment_not_created(project: Project) -> None:
    with pytest.raises(NotFoundError, match="has not been created yet"):
        envs.deploy(project, "production", "main")
    with pytest.raises(NotFoundError, match="has not been created yet"):
        envs.start(project, "production")
    with pytest.raises(NotFoundError, match="No environment named 'qa'"):
        envs.deploy(project, "qa", "main")
    assert envs.status(project, "production").status == "absent"


def test_destroy_an_orphaned_environment(project: Project, pg_server: DatabaseServer) -> None:
    """State left for an environment removed from odooplane.yaml can still be cleaned."""
    database = f"{project.root.name}_old"
    dbs.create_database(pg_server, database)
    filestore = project.filestore_dir(database)
    filestore.mkdir(parents=True)
    (filestore / "ab").write_text("x")
    StateStore(project.state_dir).save(
        EnvState(name="old", kind="development", database=database, status="stopped")
    )
    rows = {r.environment: r for r in envs.list_environments(project)}
    assert rows["old"].status == "orphaned"
    result = envs.destroy(project, "old")
    assert f"database {database}" in result.removed
    assert not dbs.database_exists(pg_server, database)
    assert not filestore.exists()
    assert StateStore(project.state_dir).load("old") is None
    assert "old" not in {r.environment for r in envs.list_environments(project)}


def test_destroy_refuses_production_without_force(project: Project) -> None:
    with pytest.raises(RefusedError, match="production environment"):
        envs.destroy(project, "production")
