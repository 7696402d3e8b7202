"""Schema migrations on SQLite and a real PostgreSQL: from empty, from the previous
revision, transactional, and in step with the tables the store queries."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from odooplane.evidence import migrate, schema
from odooplane.evidence.store import EvidenceStore

NOW = datetime(2026, 3, 14, 7, 30, tzinfo=timezone.utc)


def _tables(conn: sa.Connection) -> set[str]:
    return set(sa.inspect(conn).get_table_names(schema="ops"))


def test_head_constant_matches_the_revision_scripts() -> None:
    assert migrate.script_directory().get_current_head() == schema.HEAD_REVISION
    assert [s.revision for s in migrate.revisions()] == ["0001", "0002", "0003", "0004"]


def test_migrations_ship_inside_the_package() -> None:
    # A non-editable install ships packages only: the migrations folders must be ones.
    from setuptools import find_packages

    found = find_packages(str(migrate.MIGRATIONS_DIR.parents[2]))
    assert "odooplane.evidence.migrations" in found
    assert "odooplane.evidence.migrations.versions" in found
    assert (migrate.MIGRATIONS_DIR / "env.py").is_file()


def test_upgrade_from_empty(make_store: Callable[..., EvidenceStore]) -> None:
    store = make_store()
    assert store.revision() is None
    before, after = store.migrate()
    assert (before, after) == (None, "0004")
    with store.engine.connect() as conn:
        assert _tables(conn) >= {
            "environments",
            "builds",
            "deployments",
            "deployment_events",
            "migrations",
            "gate_runs",
            "neutralizations",
            "retention_runs",
            "record_chain",
            "build_images",
            "alembic_version",
        }
    # Migrating again is a no-op.
    assert store.migrate() == ("0004", "0004")


def test_upgrade_from_previous_revision_keeps_data(
    make_store: Callable[..., EvidenceStore],
) -> None:
    store = make_store()
    with store._write_connection() as conn:
        migrate.upgrade(conn, "0001")
    deployment_id = uuid.uuid4()
    with store._write_connection() as conn:
        assert store._current_revision(conn) == "0001"
        assert "retention_runs" not in _tables(conn)
        conn.execute(
            sa.insert(schema.deployments),
            [
                {
                    "id": deployment_id,
                    "project": "acme",
                    "environment": "staging",
                    "kind": "deploy",
                    "git_sha": "a" * 40,
                    "started_at": NOW,
                    "recorded_at": NOW,
                }
            ],
        )
    # Revision 0001 rejects every DELETE.
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), store._write_connection() as conn:
        conn.execute(sa.delete(schema.deployments))

    assert store.migrate() == ("0001", "0004")
    with store.engine.connect() as conn:
        assert "retention_runs" in _tables(conn)
        rows = conn.execute(sa.select(schema.deployments.c.id)).scalars().all()
    assert rows == [deployment_id]
    # Still append-only outside a retention run after the upgrade.
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), store._write_connection() as conn:
        conn.execute(sa.delete(schema.deployments))
    assert store.history()[0].id == deployment_id


def test_a_failing_upgrade_leaves_the_previous_revision(
    make_store: Callable[..., EvidenceStore],
) -> None:
    store = make_store()
    with store._write_connection() as conn:
        migrate.upgrade(conn, "0001")
        # An index under the name revision 0002 creates after its first table: 0002
        # fails half-way, and must leave nothing behind.
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("CREATE INDEX ops.ix_gate_runs_started_at ON environments (name)")
        else:
            conn.exec_driver_sql("CREATE INDEX ix_gate_runs_started_at ON ops.environments (name)")
    with pytest.raises(sa.exc.DBAPIError):
        store.migrate()
    with store.engine.connect() as conn:
        assert store._current_revision(conn) == "0001"
        assert "retention_runs" not in _tables(conn)


def test_downgrade_and_upgrade_again(make_store: Callable[..., EvidenceStore]) -> None:
    store = make_store()
    store.migrate()
    with store._write_connection() as conn:
        migrate.downgrade(conn, "0001")
    with store.engine.connect() as conn:
        assert store._current_revision(conn) == "0001"
        assert "retention_runs" not in _tables(conn)
    assert store.migrate() == ("0001", "0004")
    with store._write_connection() as conn:
        migrate.downgrade(conn, "base")
    with store.engine.connect() as conn:
        assert _tables(conn) <= {"alembic_version"}


def test_migrated_schema_matches_the_query_tables(
    make_store: Callable[..., EvidenceStore],
) -> None:
    store = make_store()
    store.migrate()
    with store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_schemas": True,
                "version_table_schema": "ops",
                "include_name": lambda name, type_, parent: (
                    (type_ != "schema" or name == "ops")
                    and name not in ("alembic_version", "retention_guard")
                ),
                "compare_type": True,
            },
        )
        diff = compare_metadata(context, schema.metadata)
    assert diff == []


def test_a_newer_schema_is_refused(make_store: Callable[..., EvidenceStore]) -> None:
    from odooplane.errors import RefusedError

    store = make_store()
    store.migrate()
    with store._write_connection() as conn:
        conn.execute(sa.text("UPDATE ops.alembic_version SET version_num = '0099'"))
    fresh = make_store()
    with pytest.raises(RefusedError, match="0099"):
        fresh.history()
