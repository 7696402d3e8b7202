"""Where the evidence store lives: ``evidence.url`` resolved to SQLite or PostgreSQL,
passwords kept out of messages, and connections that see the tables as ``ops.*``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from odooplane.errors import ConfigError
from odooplane.evidence.engine import (
    SQLITE_FILENAME,
    check_sqlite_file,
    create_store_engine,
    resolve_location,
)
from odooplane.postgres.server import DatabaseServer


def test_sqlite_locations(tmp_path: Path) -> None:
    state = tmp_path / "shop" / ".odooplane"
    default = resolve_location("sqlite", state)
    assert default.backend == "sqlite"
    assert default.sqlite_path == state / SQLITE_FILENAME
    assert default.display == str(state / SQLITE_FILENAME)
    assert default.password is None
    assert resolve_location("  ", state).sqlite_path == state / SQLITE_FILENAME
    relative = resolve_location("sqlite:///ops/evidence.db", state)
    assert relative.sqlite_path == tmp_path / "shop" / "ops" / "evidence.db"
    absolute = resolve_location(f"sqlite:///{tmp_path}/x.db", state)
    assert absolute.sqlite_path == tmp_path / "x.db"


def test_postgresql_locations_hide_the_password(tmp_path: Path) -> None:
    for scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        location = resolve_location(f"{scheme}://ops:s3cret@db.example.com:6543/evidence", tmp_path)
        assert location.backend == "postgresql"
        assert location.url.drivername == "postgresql+psycopg"
        assert location.password == "s3cret"
        assert location.display == "postgresql://ops:***@db.example.com:6543/evidence"
        assert location.sqlite_path is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("postgresql:///evidence", "evidence.url in odooplane.yaml has no host."),
        ("postgresql://u:p@host:notaport/db", "is not a valid PostgreSQL URL"),
        ("mysql://root:hunter2@db/evidence", "is 'mysql://root:***@db/evidence', which is neither"),
        ("file.db", "is 'file.db', which is neither 'sqlite' nor a postgresql:// URL"),
    ],
)
def test_bad_urls_are_sentences_without_secrets(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_location(value, tmp_path)
    assert message in str(info.value)
    assert "hunter2" not in str(info.value)
    assert info.value.hint is not None and "postgresql://USER:PASSWORD@HOST" in info.value.hint


def test_check_sqlite_file(tmp_path: Path) -> None:
    check_sqlite_file(tmp_path / "new.sqlite")  # missing: a new store
    (tmp_path / "empty.sqlite").write_bytes(b"")
    check_sqlite_file(tmp_path / "empty.sqlite")
    real = tmp_path / "real.sqlite"
    sqlite3.connect(real).execute("CREATE TABLE t (x)").connection.close()
    check_sqlite_file(real)
    with pytest.raises(ConfigError, match="is a folder, not an SQLite file"):
        check_sqlite_file(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ConfigError, match="is not an SQLite database"):
        check_sqlite_file(tmp_path / "notes.txt")


def test_sqlite_engine_attaches_the_file_as_ops(tmp_path: Path) -> None:
    location = resolve_location("sqlite", tmp_path / "state")
    engine = create_store_engine(location)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE ops.notes (body TEXT)")
            conn.exec_driver_sql("INSERT INTO ops.notes VALUES ('kept')")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA ops.journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA ops.synchronous").scalar() == 2  # FULL
        immediate = engine.connect().execution_options(sqlite_begin="IMMEDIATE")
        with immediate as conn, conn.begin():
            conn.exec_driver_sql("INSERT INTO ops.notes VALUES ('again')")
    finally:
        engine.dispose()
    # The file itself is a plain SQLite database holding the table.
    assert location.sqlite_path is not None
    rows = sqlite3.connect(location.sqlite_path).execute("SELECT body FROM notes").fetchall()
    assert rows == [("kept",), ("again",)]


def test_sqlite_engine_refuses_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    (tmp_path / "evidence.sqlite").write_text("not a database")
    with pytest.raises(ConfigError, match="is not an SQLite database"):
        create_store_engine(resolve_location("sqlite", tmp_path))


def test_postgresql_engine_reaches_a_real_server(pg_server: DatabaseServer, tmp_path: Path) -> None:
    location = resolve_location(pg_server.url("postgres", redact=False), tmp_path)
    engine = create_store_engine(location)
    try:
        with engine.connect() as conn:
            name = conn.execute(sa.text("SELECT current_setting('application_name')")).scalar()
            assert name == "odooplane-evidence"
    finally:
        engine.dispose()
