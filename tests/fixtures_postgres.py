"""PostgreSQL fixtures: one real embedded cluster per test session.

- ``pg_server`` (session): a :class:`DatabaseServer` of an embedded cluster started in a
  private temporary folder, destroyed at the end of the session;
- ``pg_dbname`` (function): a unique database name, dropped afterwards (with its
  snapshots) whether or not the test created it;
- ``prodlike_template`` (session): the real Odoo 17 database of
  ``$ODOOPLANE_SHARED_DIR/fixtures/odoo17-prodlike.sql.gz`` restored once (skipped with
  the reason when the file is missing); closed to connections, only cloned;
- ``prodlike_db`` (function): a fresh ``CREATE DATABASE ... TEMPLATE`` clone of it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg import sql

from odooplane.postgres.cluster import EmbeddedCluster
from odooplane.postgres.databases import (
    clone_database,
    create_database,
    drop_database,
    import_database,
    list_snapshots,
)
from odooplane.postgres.server import DatabaseServer
from odooplane.postgres.templates import server_id

# Durability is pointless for a throw-away test cluster and costs seconds per clone.
TEST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
PRODLIKE_TEMPLATE = "odoo17_prodlike_template"
_TEST_CACHE = Path(os.environ.get("ODOOPLANE_TEST_CACHE", "/tmp/odooplane-test-cache"))


def shared_dir() -> Path:
    default = Path(__file__).resolve().parents[1].parent / "shared"
    return Path(os.environ.get("ODOOPLANE_SHARED_DIR", str(default)))


def prodlike_dump() -> Path:
    return shared_dir() / "fixtures" / "odoo17-prodlike.sql.gz"


def unique_name(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


# -- small helpers for tests that need a database with content -------------------------


def seed(server: DatabaseServer, name: str, rows: list[str]) -> None:
    """Create ``name`` holding a ``note`` table with ``rows``."""
    create_database(server, name)
    with server.connect(name) as conn:
        conn.execute("CREATE TABLE note (id serial PRIMARY KEY, body text NOT NULL)")
        for body in rows:
            conn.execute("INSERT INTO note (body) VALUES (%s)", (body,))


def rows_of(server: DatabaseServer, name: str) -> list[str]:
    with server.connect(name) as conn:
        return [r[0] for r in conn.execute("SELECT body FROM note ORDER BY id").fetchall()]


def add_attachment(root: Path, database: str, content: bytes) -> Path:
    """Write ``content`` into the filestore of ``database`` the way Odoo names files."""
    digest = hashlib.sha1(content).hexdigest()
    path = root / database / digest[:2] / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path.relative_to(root / database)


def files_of(root: Path, database: str) -> dict[str, bytes]:
    folder = root / database
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


TEST_CLUSTER_PREFIX = "odooplane-test-pg-"


def _reap_abandoned_clusters() -> None:
    """Stop and delete the clusters of test sessions that were killed before their
    teardown ran (each folder records the PID of the pytest process that made it)."""
    for base in Path(tempfile.gettempdir()).glob(f"{TEST_CLUSTER_PREFIX}*"):
        try:
            owner = int((base / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        try:
            os.kill(owner, 0)
            continue  # that session is still running
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        EmbeddedCluster(base / "state").destroy()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[DatabaseServer]:
    _reap_abandoned_clusters()
    # Not pytest's tmp_path: its 0700 parents would push the data to /var/lib when the
    # suite runs as root. This folder is enterable by the server's user and removed below.
    base = Path(tempfile.mkdtemp(prefix=TEST_CLUSTER_PREFIX))
    os.chmod(base, 0o711)
    (base / "owner.pid").write_text(str(os.getpid()))
    cluster = EmbeddedCluster(base / "state", settings=TEST_SETTINGS)
    templates: Path | None = None
    try:
        cluster.start()
        server = cluster.server()
        # Template filestores of this cluster live in the (shared) test cache, which the
        # per-test fixture selects after this session fixture started.
        templates = _TEST_CACHE / "db-templates" / server_id(server)
        yield server
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)
        if templates is not None:
            shutil.rmtree(templates, ignore_errors=True)


def _drop_with_snapshots(server: DatabaseServer, name: str) -> None:
    for snap in list_snapshots(server, name):
        drop_database(server, snap.snapshot_db, terminate=True, missing_ok=True)
    drop_database(server, name, terminate=True, missing_ok=True)


@pytest.fixture
def pg_dbname(pg_server: DatabaseServer) -> Iterator[str]:
    name = unique_name()
    yield name
    _drop_with_snapshots(pg_server, name)


@pytest.fixture(scope="session")
def prodlike_template(pg_server: DatabaseServer) -> str:
    dump = prodlike_dump()
    if not dump.is_file():
        pytest.skip(
            f"{dump} is missing: set ODOOPLANE_SHARED_DIR to the folder holding "
            "fixtures/odoo17-prodlike.sql.gz"
        )
    import_database(pg_server, dump, PRODLIKE_TEMPLATE)
    with pg_server.connect(PRODLIKE_TEMPLATE) as conn:
        # Otherwise autovacuum visits every freshly loaded table, and each clone waits
        # for its workers to leave the template.
        conn.execute("VACUUM (ANALYZE)")
    with pg_server.connect() as conn:
        # Nobody may connect to the template: a session on it would make clones fail.
        conn.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(
                sql.Identifier(PRODLIKE_TEMPLATE)
            )
        )
    return PRODLIKE_TEMPLATE


@pytest.fixture
def prodlike_db(pg_server: DatabaseServer, prodlike_template: str) -> Iterator[str]:
    name = unique_name("prodlike")
    clone_database(pg_server, prodlike_template, name)
    yield name
    _drop_with_snapshots(pg_server, name)
