"""Production's databases on a real PostgreSQL: every replacing or removing operation is
refused unless forced, whoever calls it, because the project's server carries the rule."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from fixtures_postgres import rows_of, seed, unique_name
from odooplane.config import ProjectConfig
from odooplane.errors import RefusedError
from odooplane.policy import production_databases
from odooplane.postgres import databases as dbs
from odooplane.postgres.project_server import server_for
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project


class Case:
    def __init__(self, server: DatabaseServer, project: Project, prod: str, other: str) -> None:
        self.server, self.project, self.prod, self.other = server, project, prod, other


@pytest.fixture
def case(pg_server: DatabaseServer, tmp_path: Path) -> Iterator[Case]:
    prod, other = unique_name("prod"), unique_name("other")
    config = ProjectConfig(
        project="acme",
        odoo={"series": "17.0", "source": "/x"},
        database={"server": pg_server.url(redact=False)},
        environments={
            "production": {"kind": "production", "database": prod},
            "staging": {"kind": "staging", "database": other},
        },
    )
    project = Project(root=tmp_path, config=config)
    server = replace(pg_server, protection=production_databases(project))
    seed(pg_server, prod, ["live"])
    seed(pg_server, other, ["copy"])
    yield Case(server, project, prod, other)
    for name in (prod, other):
        for snap in dbs.list_snapshots(pg_server, name):
            dbs.drop_database(pg_server, snap.snapshot_db, terminate=True, missing_ok=True)
        dbs.drop_database(pg_server, name, terminate=True, missing_ok=True)


def test_the_project_server_carries_the_rule(case: Case) -> None:
    server = server_for(case.project)
    assert server.protection.owners == {case.prod: "production"}
    assert (server.host, server.port) == (case.server.host, case.server.port)


def test_drop_is_refused_for_production_and_its_snapshots(case: Case) -> None:
    snap = dbs.snapshot_database(case.server, case.prod, name="keep")  # snapshots are fine
    with pytest.raises(RefusedError, match="is a production database; odooplane does not drop"):
        dbs.drop_database(case.server, case.prod)
    with pytest.raises(RefusedError, match="is a snapshot of the production database"):
        dbs.drop_database(case.server, snap.snapshot_db)
    assert dbs.database_exists(case.server, case.prod)
    assert dbs.drop_database(case.server, snap.snapshot_db, force=True)
    assert dbs.drop_database(case.server, case.other)  # not production's


def test_restore_over_production_needs_force(case: Case) -> None:
    dbs.snapshot_database(case.server, case.prod, name="before")
    with case.server.connect(case.prod) as conn:
        conn.execute("UPDATE note SET body = 'changed'")
    with pytest.raises(RefusedError, match="does not restore a snapshot over it"):
        dbs.restore_snapshot(case.server, case.prod, "before")
    assert rows_of(case.server, case.prod) == ["changed"]
    dbs.restore_snapshot(case.server, case.prod, "before", terminate=True, force=True)
    assert rows_of(case.server, case.prod) == ["live"]


def test_clone_over_import_over_swap_and_rename_need_force(case: Case, tmp_path: Path) -> None:
    with pytest.raises(RefusedError, match="does not clone over it"):
        dbs.clone_database(case.server, case.other, case.prod)
    dump = tmp_path / "dump.sql"
    dump.write_text("CREATE TABLE other (x int);\n")
    with pytest.raises(RefusedError, match="does not replace it"):
        dbs.import_database(case.server, dump, case.prod, replace=True)
    with pytest.raises(RefusedError, match="does not swap it"):
        dbs.swap_databases(case.server, case.other, case.prod)
    with pytest.raises(RefusedError, match="does not rename it"):
        dbs.rename_database(case.server, case.prod, unique_name("moved"))
    assert rows_of(case.server, case.prod) == ["live"]
    assert rows_of(case.server, case.other) == ["copy"]
    dbs.swap_databases(case.server, case.other, case.prod, force=True)
    assert rows_of(case.server, case.prod) == ["copy"]
