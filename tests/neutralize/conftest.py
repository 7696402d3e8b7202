"""Fixtures of the neutralization tests: real databases cloned from the prodlike fixture.

``neutralized_template`` is the prodlike database neutralized once per session (with
Odoo's own neutralize.sql files when the Odoo source is present) and closed to
connections; tests that re-open a leak clone it in well under a second.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from odooplane.neutralize import NeutralizeSettings, neutralize_with
from odooplane.postgres.databases import clone_database, drop_database
from odooplane.postgres.server import DatabaseServer

STAGING_URL = "https://staging.acme.test"
CATCHER = ("127.0.0.1", 2599)


def odoo_source() -> Path | None:
    path = Path(os.environ.get("ODOOPLANE_TEST_ODOO_SRC", "/opt/odoo-src/17.0"))
    return path if (path / "odoo" / "addons" / "base").is_dir() else None


def make_settings(**overrides: Any) -> NeutralizeSettings:
    values: dict[str, Any] = {
        "catcher_host": CATCHER[0],
        "catcher_port": CATCHER[1],
        "base_url": STAGING_URL,
        "environment": "staging",
        "odoo_source": odoo_source(),
    }
    values.update(overrides)
    return NeutralizeSettings(**values)


Query = Callable[..., list[tuple[Any, ...]]]


def run_sql(
    server: DatabaseServer, database: str, query: str, params: Any = None
) -> list[tuple[Any, ...]]:
    """Run one statement in its own committed transaction; return its rows if any."""
    with server.connect(database) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        return list(cur.fetchall()) if cur.description is not None else []


@pytest.fixture
def q(pg_server: DatabaseServer) -> Query:
    def query(database: str, text: str, params: Any = None) -> list[tuple[Any, ...]]:
        return run_sql(pg_server, database, text, params)

    return query


@pytest.fixture(scope="session")
def neutralized_template(pg_server: DatabaseServer, prodlike_template: str) -> Iterator[str]:
    name = f"neutralized_{uuid.uuid4().hex[:8]}"
    clone_database(pg_server, prodlike_template, name)
    neutralize_with(pg_server, name, make_settings())
    with pg_server.connect() as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(name))
        )
    yield name
    with pg_server.connect() as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(name))
        )
    drop_database(pg_server, name, terminate=True, missing_ok=True)


@pytest.fixture
def neutralized_db(pg_server: DatabaseServer, neutralized_template: str) -> Iterator[str]:
    """A fresh clone of the neutralized prodlike database, dropped afterwards."""
    name = f"neutralized_copy_{uuid.uuid4().hex[:8]}"
    clone_database(pg_server, neutralized_template, name)
    yield name
    drop_database(pg_server, name, terminate=True, missing_ok=True)


@pytest.fixture
def settings() -> Callable[..., NeutralizeSettings]:
    """``settings(**overrides)``: the staging settings the tests neutralize with."""
    return make_settings


@pytest.fixture
def cur(pg_server: DatabaseServer, pg_dbname: str) -> Iterator[Any]:
    """An autocommit cursor on a new, empty database: unit tests of one rule or check
    create just the tables they need."""
    with pg_server.connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(pg_dbname)))
    with pg_server.connect(pg_dbname) as conn, conn.cursor() as cursor:
        yield cursor
