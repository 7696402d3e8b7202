"""Production-like databases of every series, made by the tests themselves.

``series_prodlike_template`` (session, one per ``series_source``) is the database
:func:`prodlike.build_prodlike` makes for that series, built once per session and closed
to connections; ``series_prodlike_db`` is a fresh ``CREATE DATABASE ... TEMPLATE`` clone.
On the primary series the shared dump itself is used (``prodlike_template``): it is the
one the depth tests know.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from psycopg import sql

from fixtures_odoo import is_primary
from fixtures_postgres import unique_name
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.source import OdooSource
from odooplane.postgres.databases import clone_database, drop_database, list_snapshots
from odooplane.postgres.server import DatabaseServer
from prodlike import build_prodlike


@pytest.fixture(scope="session")
def series_prodlike_template(
    request: pytest.FixtureRequest,
    pg_server: DatabaseServer,
    series_source: OdooSource,
    series_runtime: Runtime,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    if is_primary(series_source) and series_source.series == "17.0":
        yield str(request.getfixturevalue("prodlike_template"))
        return
    name = f"prodlike_{series_source.series.replace('.', '_')}_{uuid.uuid4().hex[:6]}"
    build_prodlike(
        pg_server,
        series_source,
        series_runtime,
        name,
        tmp_path_factory.mktemp(f"prodlike-{series_source.series}") / "project",
    )
    with pg_server.connect(name) as conn:
        conn.execute("VACUUM (ANALYZE)")
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
def series_prodlike_db(pg_server: DatabaseServer, series_prodlike_template: str) -> Iterator[str]:
    """A fresh clone of the production-like database of the series under test."""
    name = unique_name("prodlike")
    clone_database(pg_server, series_prodlike_template, name)
    yield name
    for snap in list_snapshots(pg_server, name):
        drop_database(pg_server, snap.snapshot_db, terminate=True, missing_ok=True)
    drop_database(pg_server, name, terminate=True, missing_ok=True)
