"""env create rules that need PostgreSQL and git but no Odoo process."""

from __future__ import annotations

import pytest

from odooplane.environments import api as envs
from odooplane.environments.state import StateStore
from odooplane.errors import NotFoundError, RefusedError
from odooplane.postgres import databases as dbs
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project


def test_a_copy_needs_its_source(project: Project) -> None:
    with pytest.raises(RefusedError, match="copy of 'production', which has not been created"):
        envs.create(project, "staging")
    assert StateStore(project.state_dir).load("staging") is None


def test_create_never_overwrites_an_unowned_database(
    project: Project, pg_server: DatabaseServer
) -> None:
    database = project.config.database_name("staging")
    dbs.create_database(pg_server, database)
    try:
        with pytest.raises(RefusedError, match=r"already exists .* no environment owns it"):
            envs.create(project, "staging")
        assert dbs.database_exists(pg_server, database)
    finally:
        dbs.drop_database(pg_server, database, missing_ok=True)


def test_create_with_a_missing_import_file(project: Project) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        envs.create(project, "production", import_path=project.root / "nope.sql")
