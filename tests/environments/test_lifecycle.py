"""Lifecycle rules that need PostgreSQL and git but no Odoo process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from odooplane.config import load_config
from odooplane.environments import lifecycle
from odooplane.environments.state import EnvState, StateStore
from odooplane.errors import NotFoundError, RefusedError
from odooplane.postgres import databases as dbs
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project


def _project(root: Path, server: DatabaseServer, extra: str = "") -> Project:
    (root / "odooplane.yaml").write_text(
        "project: rules\n"
        "odoo:\n"
        "  series: '17.0'\n"
        "  source: /opt/odoo-src/17.0\n"
        "database:\n"
        f"  server: '{server.url(redact=False)}'\n"
        "environments:\n"
        "  production:\n"
        "    kind: production\n"
        "  staging:\n"
        "    kind: staging\n"
        f"    database: {root.name}_staging\n"
        "    data: {copy: production}\n" + extra
    )
    return Project(root=root, config=load_config(root / "odooplane.yaml"))


@pytest.fixture
def project(make_git_repo: Callable[..., Path], pg_server: DatabaseServer) -> Project:
    repo = make_git_repo("rules")
    return _project(repo, pg_server)


def test_commands_on_an_environment_not_created(project: Project) -> None:
    with pytest.raises(NotFoundError, match="has not been created yet"):
        lifecycle.deploy(project, "production", "main")
    with pytest.raises(NotFoundError, match="has not been created yet"):
        lifecycle.start(project, "production")
    with pytest.raises(NotFoundError, match="No environment named 'qa'"):
        lifecycle.deploy(project, "qa", "main")
    assert lifecycle.status(project, "production")["status"] == "absent"


def test_a_copy_needs_its_source(project: Project) -> None:
    with pytest.raises(RefusedError, match="copy of 'production', which has not been created"):
        lifecycle.create(project, "staging")
    assert StateStore(project.state_dir).load("staging") is None


def test_create_never_overwrites_an_unowned_database(
    project: Project, pg_server: DatabaseServer
) -> None:
    database = project.config.database_name("staging")
    dbs.create_database(pg_server, database)
    try:
        with pytest.raises(RefusedError, match=r"already exists .* no environment owns it"):
            lifecycle.create(project, "staging")
        assert dbs.database_exists(pg_server, database)
    finally:
        dbs.drop_database(pg_server, database, missing_ok=True)


def test_create_with_a_missing_import_file(project: Project) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        lifecycle.create(project, "production", import_path=project.root / "nope.sql")


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
    rows = {r["environment"]: r for r in lifecycle.list_environments(project)}
    assert rows["old"]["status"] == "orphaned"
    result = lifecycle.destroy(project, "old")
    assert f"database {database}" in result["removed"]
    assert not dbs.database_exists(pg_server, database)
    assert not filestore.exists()
    assert StateStore(project.state_dir).load("old") is None
    assert "old" not in {r["environment"] for r in lifecycle.list_environments(project)}


def test_destroy_refuses_production_without_force(project: Project) -> None:
    with pytest.raises(RefusedError, match="production environment"):
        lifecycle.destroy(project, "production")
