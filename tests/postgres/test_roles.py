"""Environment roles on a real PostgreSQL: one role per environment, owner of its own
database only; copies, snapshots, restores and swaps leave each database owned by the
right role (issue 10: every environment connected as the same superuser)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from fixtures_postgres import seed, unique_name
from odooplane.errors import ExternalToolError, RefusedError
from odooplane.postgres import databases as dbops
from odooplane.postgres import roles
from odooplane.postgres.server import DatabaseServer


def login(server: DatabaseServer, role: str, password: str) -> DatabaseServer:
    return replace(server, user=role, password=password, maintenance_db=role)


def owners(server: DatabaseServer, database: str) -> set[str]:
    """The owners of the database and of every object in its user schemas."""
    with server.connect(server.maintenance_db) as conn:
        row = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
    assert row is not None
    found = {str(row[0])}
    with server.connect(database) as conn:
        rows = conn.execute(
            "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg_toast%'"
        ).fetchall()
    return found | {str(r[0]) for r in rows}


def cannot_connect(server: DatabaseServer, database: str) -> str:
    with pytest.raises(ExternalToolError) as info:
        server.connect(database).close()
    return info.value.message


@pytest.fixture
def names(pg_server: DatabaseServer) -> Iterator[dict[str, str]]:
    made = {key: unique_name(key) for key in ("prod", "staging", "other")}
    yield made
    for name in made.values():
        for snap in dbops.list_snapshots(pg_server, name):
            dbops.drop_database(pg_server, snap.snapshot_db, terminate=True, missing_ok=True)
        dbops.drop_database(pg_server, name, terminate=True, missing_ok=True)
        roles.retire_role(pg_server, name)


def test_each_environment_opens_its_own_database_only(
    pg_server: DatabaseServer, prodlike_template: str, names: dict[str, str]
) -> None:
    prod, staging = names["prod"], names["staging"]
    roles.ensure_role(pg_server, prod, "prod-password-0123456789")
    roles.ensure_role(pg_server, staging, "staging-password-0123456789")
    dbops.clone_database(pg_server, prodlike_template, prod)
    # staging is a copy of production: its tables came owned by production's role.
    dbops.clone_database(pg_server, prod, staging)
    assert owners(pg_server, prod) == {prod}
    assert owners(pg_server, staging) == {staging}

    as_prod = login(pg_server, prod, "prod-password-0123456789")
    as_staging = login(pg_server, staging, "staging-password-0123456789")
    with as_staging.connect(staging) as conn:
        conn.execute("UPDATE res_partner SET name = name WHERE id = 1")
        conn.execute("CREATE TABLE staging_scratch (id int)")
        row = conn.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert row == (False, False, False)
    assert "CONNECT privilege" in cannot_connect(as_staging, prod)
    assert "CONNECT privilege" in cannot_connect(as_prod, staging)
    # Odoo opens `postgres` at start (to see whether its database exists): allowed, and
    # nothing of another environment is there. template1 stays closed.
    with as_staging.connect("postgres") as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_class WHERE relkind = 'r' "
            "AND relnamespace = 'public'::regnamespace"
        ).fetchone() == (0,)
    assert "CONNECT privilege" in cannot_connect(as_staging, "template1")
    # A role no environment has cannot open anything either (CONNECT is not PUBLIC's).
    with pg_server.connect() as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'nobody-pass'").format(
                sql.Identifier(names["other"])
            )
        )
    try:
        stranger = login(pg_server, names["other"], "nobody-pass")
        assert "CONNECT privilege" in cannot_connect(stranger, prod)
    finally:
        with pg_server.connect() as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(names["other"])))


def test_snapshots_restores_and_swaps_keep_owners(
    pg_server: DatabaseServer, names: dict[str, str], tmp_path: Path
) -> None:
    prod = names["prod"]
    roles.ensure_role(pg_server, prod, "prod-password-0123456789")
    seed(pg_server, prod, ["before"])
    # Tables made by odooplane's own login (an environment from before roles existed)
    # move to the environment's role when it is settled.
    assert owners(pg_server, prod) == {prod, pg_server.user}
    assert roles.settle(pg_server, prod).reassigned == 1
    assert owners(pg_server, prod) == {prod}
    admin = pg_server.user
    snap = dbops.snapshot_database(pg_server, prod, name="s1")
    # A snapshot is odooplane's: the environment cannot reopen or change it.
    assert owners_of_database(pg_server, snap.snapshot_db) == admin
    with pg_server.connect(prod) as conn:
        conn.execute("INSERT INTO note (body) VALUES ('after')")
    dbops.restore_snapshot(pg_server, prod, "s1", terminate=True)
    assert owners(pg_server, prod) == {prod}
    dbops.snapshot_database(pg_server, prod, name="s2")
    kept = dbops.swap_in_snapshot(pg_server, prod, "s2", keep_as="replaced", terminate=True)
    assert owners(pg_server, prod) == {prod}
    assert owners_of_database(pg_server, kept.snapshot_db) == admin
    as_prod = login(pg_server, prod, "prod-password-0123456789")
    with as_prod.connect(prod) as conn:
        assert conn.execute("SELECT count(*) FROM note").fetchone() == (1,)
    with pytest.raises(psycopg.Error), as_prod.connect(prod) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(
                sql.Identifier(kept.snapshot_db)
            )
        )


def owners_of_database(server: DatabaseServer, database: str) -> str:
    with server.connect(server.maintenance_db) as conn:
        row = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
    assert row is not None
    return str(row[0])


def test_a_role_made_by_someone_else_is_never_taken_over(
    pg_server: DatabaseServer, names: dict[str, str]
) -> None:
    name = names["other"]
    with pg_server.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'theirs'").format(sql.Identifier(name)))
    try:
        with pytest.raises(RefusedError, match="was not made by odooplane"):
            roles.ensure_role(pg_server, name, "mine-0123456789")
        with pytest.raises(RefusedError, match="was not made by odooplane"):
            roles.ensure_role(pg_server, pg_server.user, "mine-0123456789")
        assert roles.retire_role(pg_server, name) is False
    finally:
        with pg_server.connect() as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def test_password_is_never_sent_in_clear(pg_server: DatabaseServer, names: dict[str, str]) -> None:
    name = names["prod"]
    roles.ensure_role(pg_server, name, "first-password-0123456789")
    dbops.create_database(pg_server, name)
    with pg_server.connect() as conn:
        stored = conn.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (name,)
        ).fetchone()
    assert stored is not None and str(stored[0]).startswith("SCRAM-SHA-256$4096:")
    # Rotating is setting another password: the old one stops working.
    roles.ensure_role(pg_server, name, "second-password-0123456789")
    assert "password authentication failed" in cannot_connect(
        login(pg_server, name, "first-password-0123456789"), name
    )
    login(pg_server, name, "second-password-0123456789").connect(name).close()


def test_retiring_a_role(pg_server: DatabaseServer, names: dict[str, str]) -> None:
    name = names["prod"]
    roles.ensure_role(pg_server, name, "prod-password-0123456789")
    seed(pg_server, name, ["x"])
    roles.settle(pg_server, name)
    dbops.snapshot_database(pg_server, name, name="kept")
    dbops.drop_database(pg_server, name, terminate=True)
    # Its objects live on inside the kept snapshot: the role stays, unable to log in.
    assert roles.retire_role(pg_server, name) is False
    with pg_server.connect() as conn:
        assert conn.execute(
            "SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (name,)
        ).fetchone() == (False,)
    for snap in dbops.list_snapshots(pg_server, name):
        dbops.drop_database(pg_server, snap.snapshot_db, terminate=True)
    assert roles.retire_role(pg_server, name) is True


@pytest.fixture
def limited_admin(pg_server: DatabaseServer) -> Iterator[tuple[DatabaseServer, DatabaseServer]]:
    """Two logins of an 'external server': one with CREATEROLE (a managed service's
    admin), one without (a plain application role)."""
    manager, plain = unique_name("manager"), unique_name("plain")
    with pg_server.connect() as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEDB CREATEROLE PASSWORD 'm'").format(
                sql.Identifier(manager)
            )
        )
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD 'p'").format(sql.Identifier(plain))
        )
        for role in (manager, plain):
            conn.execute(
                sql.SQL("GRANT CONNECT ON DATABASE postgres TO {}").format(sql.Identifier(role))
            )
    as_manager = replace(pg_server, user=manager, password="m", embedded=False)
    as_plain = replace(pg_server, user=plain, password="p", embedded=False)
    yield as_manager, as_plain
    with pg_server.connect() as conn:
        for role in (manager, plain):
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_external_server_with_createrole_gets_the_same_scheme(
    pg_server: DatabaseServer,
    limited_admin: tuple[DatabaseServer, DatabaseServer],
    names: dict[str, str],
) -> None:
    manager, _plain = limited_admin
    prod, staging = names["prod"], names["staging"]
    assert roles.authority(manager).per_environment
    roles.ensure_role(manager, prod, "prod-password-0123456789")
    roles.ensure_role(manager, staging, "staging-password-0123456789")
    seed(manager, prod, ["row"])
    dbops.clone_database(manager, prod, staging)
    assert owners(pg_server, staging) == {staging}
    as_staging = login(pg_server, staging, "staging-password-0123456789")
    assert "CONNECT privilege" in cannot_connect(as_staging, prod)


def test_external_server_without_createrole_is_a_warning(
    limited_admin: tuple[DatabaseServer, DatabaseServer],
) -> None:
    _manager, plain = limited_admin
    authority = roles.authority(plain)
    assert not authority.per_environment
    warning = authority.warning(plain)
    assert warning is not None and "may not create roles" in warning
    assert "staging's odoo.conf opens production's database" in warning
    with pytest.raises(RefusedError, match="may not create roles"):
        roles.ensure_role(plain, unique_name("x"), "whatever-0123456789")


def test_odoo_may_open_postgres_where_public_may_not(
    pg_server: DatabaseServer, names: dict[str, str]
) -> None:
    """Odoo opens `postgres` at start to see whether its database exists, and dies if it
    cannot. PUBLIC's CONNECT there may be gone (the embedded cluster locks it down, an
    administrator may too): environment roles and throw-away roles still get in, on an
    external server as well."""
    with pg_server.connect() as conn:
        row = conn.execute("SELECT has_database_privilege('public', 'postgres', 'CONNECT')")
        public_before = row.fetchone() == (True,)
        conn.execute("REVOKE ALL ON DATABASE postgres FROM PUBLIC")
    try:
        external = replace(pg_server, embedded=False)
        staging = names["staging"]
        roles.ensure_role(external, staging, "staging-password-0123456789")
        login(pg_server, staging, "staging-password-0123456789").connect("postgres").close()
        dbops.create_database(pg_server, names["prod"])
        with roles.temporary_owner(external, names["prod"]) as throwaway:
            throwaway.connect("postgres").close()
            temporary = throwaway.user
        assert roles.retire_role(external, staging)
        with pg_server.connect() as conn:
            left = conn.execute(
                "SELECT rolname FROM pg_roles WHERE rolname IN (%s, %s)", (staging, temporary)
            ).fetchall()
        assert left == []
    finally:
        if public_before:
            with pg_server.connect() as conn:
                conn.execute("GRANT CONNECT ON DATABASE postgres TO PUBLIC")
