"""Names are validated before any SQL exists, and quoted when it does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from odooplane.errors import UsageError
from odooplane.postgres import databases as dbops
from odooplane.postgres.identifiers import (
    database_name,
    db_ident,
    role_ident,
    role_name,
    user_database_name,
)
from odooplane.postgres.server import DatabaseServer

HOSTILE = [
    'x"; DROP DATABASE y; --',
    "x'; DROP DATABASE y; --",
    "y; DROP DATABASE y",
    'a"b',
    "a b",
    "",
    " ",
    "a" * 64,
    "../etc",
    "a/b",
    ".hidden",
    "-flag",
    "x\n",
    "x\x00y",
    "zoé",
    "$(reboot)",
]
# '--' starts a comment only outside quotes; quoted, it is part of the name.
VALID = ["odoo", "acme_prod", "prod-2024", "17.0_db", "_private", "a" * 63, "A1", "x--"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_rejected_with_a_sentence(name: str) -> None:
    with pytest.raises(UsageError) as info:
        database_name(name)
    assert repr(name) in info.value.message
    assert info.value.hint
    with pytest.raises(UsageError):
        role_name(name)


@pytest.mark.parametrize("name", VALID)
def test_valid_names_pass(name: str) -> None:
    assert database_name(name) == name


def test_non_strings_are_rejected() -> None:
    with pytest.raises(UsageError, match="not a valid database name"):
        database_name(42)  # type: ignore[arg-type]


def test_system_databases_are_off_limits() -> None:
    for name in ("postgres", "template0", "template1"):
        assert database_name(name) == name
        with pytest.raises(UsageError, match="PostgreSQL's own"):
            user_database_name(name)


def test_roles_must_start_with_a_letter() -> None:
    assert role_name("odoo_17") == "odoo_17"
    with pytest.raises(UsageError):
        role_name("17odoo")


def test_identifiers_are_double_quoted(pg_server: DatabaseServer) -> None:
    with pg_server.connect() as conn:
        assert db_ident("acme-prod").as_string(conn) == '"acme-prod"'
        assert role_ident("Odoo").as_string(conn) == '"Odoo"'
        statement = sql.SQL("DROP DATABASE {}").format(db_ident("x--"))
        assert statement.as_string(conn) == 'DROP DATABASE "x--"'


def _operations(server: DatabaseServer, bad: str, root: Path) -> list[Callable[[], Any]]:
    return [
        lambda: dbops.create_database(server, bad),
        lambda: dbops.database_exists(server, bad),
        lambda: dbops.clone_database(server, bad, "canary_copy", filestore_root=root),
        lambda: dbops.clone_database(server, "y", bad, filestore_root=root),
        lambda: dbops.drop_database(server, bad, force=True, terminate=True),
        lambda: dbops.rename_database(server, "y", bad),
        lambda: dbops.swap_databases(server, "y", bad),
        lambda: dbops.snapshot_database(server, bad),
        lambda: dbops.snapshot_database(server, "y", name=bad),
        lambda: dbops.list_snapshots(server, bad),
        lambda: dbops.restore_snapshot(server, "y", bad),
        lambda: dbops.restore_snapshot(server, bad, "s1"),
        lambda: dbops.import_database(server, root / "dump.sql", bad),
        lambda: dbops.export_database(server, bad, root / "out.zip"),
        lambda: dbops.active_sessions(server, bad),
    ]


def test_nothing_reaches_the_server(pg_server: DatabaseServer, tmp_path: Path) -> None:
    """A hostile name fails before any connection: against a server that does not exist
    the error is still the name's UsageError, never a connection error."""
    nowhere = DatabaseServer(
        host="127.0.0.1", port=1, user="nobody", password="x", bin_dir=pg_server.bin_dir
    )
    (tmp_path / "dump.sql").write_text("SELECT 1;\n")
    for bad in ('x"; DROP DATABASE y; --', "y; DROP DATABASE y"):
        for operation in _operations(nowhere, bad, tmp_path):
            with pytest.raises(UsageError):
                operation()


def test_hostile_names_leave_every_database_intact(
    pg_server: DatabaseServer, tmp_path: Path
) -> None:
    dbops.create_database(pg_server, "y", exist_ok=True)
    try:
        with pg_server.connect("y") as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS canary (v text)")
            conn.execute("INSERT INTO canary VALUES ('alive')")
        before = {d.name for d in dbops.list_databases(pg_server)}
        (tmp_path / "dump.sql").write_text("SELECT 1;\n")
        bad = 'x"; DROP DATABASE y; --'
        for operation in _operations(pg_server, bad, tmp_path):
            with pytest.raises(UsageError):
                operation()
        assert {d.name for d in dbops.list_databases(pg_server)} == before
        with pg_server.connect("y") as conn:
            assert conn.execute("SELECT v FROM canary").fetchall() == [("alive",)]
        assert not (tmp_path / "out.zip").exists()
    finally:
        dbops.drop_database(pg_server, "y", terminate=True, missing_ok=True)
