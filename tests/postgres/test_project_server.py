"""The server of a project: its embedded cluster or the external server it names."""

from __future__ import annotations

from pathlib import Path

import pytest

from odooplane.config import ProjectConfig
from odooplane.errors import NotFoundError
from odooplane.postgres.project_server import server_for
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project


def test_an_external_url_reaches_a_real_server(pg_server: DatabaseServer, tmp_path: Path) -> None:
    url = pg_server.url(redact=False)
    project = Project(
        root=tmp_path,
        config=ProjectConfig(
            project="demo",
            odoo={"series": "17.0", "source": "/opt/odoo"},
            database={"server": url},
        ),
    )
    external = server_for(project)
    assert not external.embedded
    assert (external.host, external.port, external.password) == (
        pg_server.host,
        pg_server.port,
        pg_server.password,
    )
    with external.connect() as conn:
        assert conn.execute("SELECT current_user").fetchone() == (pg_server.user,)
    assert external.server_version() >= 120000
    with pytest.raises(NotFoundError, match="does not exist"):
        external.connect("no_such_database_here")
    assert not (tmp_path / ".odooplane").exists()  # no embedded cluster was made
