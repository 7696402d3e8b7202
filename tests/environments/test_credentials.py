"""An environment's database credentials: its own role, a password kept 0600 in its
state, rotations recorded, odooplane's login never written for it (issue 10)."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from dataclasses import replace

import pytest

from odooplane.environments import credentials
from odooplane.environments.context import EnvContext
from odooplane.errors import ExternalToolError
from odooplane.postgres import databases as dbs
from odooplane.postgres import roles
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project


@pytest.fixture
def staging(project: Project, pg_server: DatabaseServer) -> Iterator[EnvContext]:
    ctx = EnvContext(project, "staging")
    yield ctx
    dbs.drop_database(pg_server, ctx.database, terminate=True, missing_ok=True)
    roles.retire_role(pg_server, ctx.database)


def test_login_is_the_environments_own_role(staging: EnvContext, pg_server: DatabaseServer) -> None:
    server, info = credentials.login(staging, pg_server)
    assert info.own_role and info.created and info.rotated is None
    assert server.user == staging.database != pg_server.user
    assert server.password and server.password != pg_server.password
    path = staging.dir / credentials.CREDENTIALS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    dbs.create_database(pg_server, staging.database)
    server.connect(staging.database).close()
    # Asked again: the same password, nothing rotated.
    again, info = credentials.login(EnvContext(staging.project, "staging"), pg_server)
    assert again.password == server.password and info.rotated is None and not info.created
    assert "password" not in credentials.describe(staging)


def test_rotation_is_recorded_never_silent(staging: EnvContext, pg_server: DatabaseServer) -> None:
    first, _ = credentials.login(staging, pg_server)
    dbs.create_database(pg_server, staging.database)
    rotated = credentials.rotate(staging, pg_server)
    assert rotated.rotated == "rotated on request"
    with pytest.raises(ExternalToolError, match="password authentication failed"):
        first.connect(staging.database).close()
    second, info = credentials.login(EnvContext(staging.project, "staging"), pg_server)
    second.connect(staging.database).close()
    assert info.rotated is None
    # The state lost its password while the role lives on: a new one, said so.
    path = staging.dir / credentials.CREDENTIALS_FILE
    kept = json.loads(path.read_text())
    del kept["password"]
    path.write_text(json.dumps(kept))
    third, info = credentials.login(EnvContext(staging.project, "staging"), pg_server)
    assert info.rotated == "the password was missing from the environment's state"
    reasons = [r["reason"] for r in credentials.describe(staging)["rotations"]]
    assert reasons == [
        "rotated on request",
        "the password was missing from the environment's state",
    ]
    third.connect(staging.database).close()


def test_a_server_login_without_createrole_is_used_with_a_warning(
    staging: EnvContext, pg_server: DatabaseServer
) -> None:
    from psycopg import sql

    plain = f"plain_{staging.database}"[:63]
    with pg_server.connect() as conn:
        ident = sql.Identifier(plain)
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD 'p'").format(ident))
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE postgres TO {}").format(ident))
    try:
        limited = replace(pg_server, user=plain, password="p", embedded=False)
        server, info = credentials.login(staging, limited)
        assert server is limited and not info.own_role
        assert info.warning and "may not create roles" in info.warning
    finally:
        with pg_server.connect() as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(plain)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(plain)))
