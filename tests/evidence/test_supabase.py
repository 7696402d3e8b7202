"""`export-sql`: Supabase migration files that apply cleanly to a real PostgreSQL, put
every table under row level security, and leave anonymous roles reading nothing."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from psycopg import sql

from odooplane.errors import RefusedError
from odooplane.evidence.store import EvidenceStore
from odooplane.evidence.supabase import export_sql, migration_files, tables_without_rls
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project


def test_export_writes_one_file_per_revision_and_is_idempotent(tmp_path: Path) -> None:
    written = export_sql(tmp_path)
    names = [item.path.name for item in written]
    assert names == [
        "20261125120000_odooplane_evidence_initial.sql",
        "20261125120100_odooplane_evidence_retention.sql",
        "20261201120000_odooplane_evidence_chain.sql",
        "20261202120000_odooplane_evidence_build_images.sql",
    ]
    assert all(item.path.parent == tmp_path / "supabase" / "migrations" for item in written)
    assert [item.status for item in written] == ["written"] * 4
    assert [item.status for item in export_sql(tmp_path)] == ["unchanged"] * 4
    first = written[0].path.read_text()
    assert first.startswith("-- odooplane evidence schema, revision 0001")
    assert "CREATE SCHEMA IF NOT EXISTS ops;" in first
    assert "%%" not in first and "BEGIN;" not in first
    written[1].path.write_text(written[1].path.read_text() + "-- edited by hand\n")
    with pytest.raises(RefusedError, match="differs"):
        export_sql(tmp_path)


def test_every_created_table_is_under_row_level_security() -> None:
    for item in migration_files():
        assert tables_without_rls(item.sql) == []
    assert tables_without_rls("CREATE TABLE ops.x (id int);") == ["ops.x"]


def test_exported_sql_applies_to_postgresql_with_rls_and_no_anon_access(
    tmp_path: Path,
    pg_server: DatabaseServer,
    pg_dbname: str,
    make_project: Callable[..., Project],
) -> None:
    with pg_server.connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(pg_dbname)))
    for item in export_sql(tmp_path):
        # As Supabase applies a migration: one file, one transaction, stop at the first error.
        result = subprocess.run(
            [
                str(pg_server.tool("psql")),
                "--no-psqlrc",
                "-v",
                "ON_ERROR_STOP=1",
                "--single-transaction",
                "-f",
                str(item.path),
            ],
            env=pg_server.tool_env(pg_dbname),
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr

    with pg_server.connect(pg_dbname) as conn:
        tables = conn.execute(
            "SELECT c.relname, c.relrowsecurity FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'ops' AND c.relkind = 'r' ORDER BY 1"
        ).fetchall()
        policies = conn.execute(
            "SELECT count(*) FROM pg_policies WHERE schemaname = 'ops'"
        ).fetchone()
    assert {name for name, _ in tables} >= {"deployments", "builds", "alembic_version"}
    assert all(rls for _, rls in tables), tables
    assert policies == (0,)

    # odooplane finds the schema current and records into it.
    project = make_project(tmp_path / "project", pg_server.url(pg_dbname, redact=False))
    store = EvidenceStore.open(project)
    try:
        assert store.revision() == "0004"
        store.start_deployment("staging", git_sha="a" * 40).finish("succeeded")
        assert store.migrate() == ("0004", "0004")
    finally:
        store.close()

    # A role like Supabase's anon, even granted SELECT, reads no row: no policy exists.
    role = f"{pg_dbname}_anon"
    with pg_server.connect(pg_dbname) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
        try:
            conn.execute(
                sql.SQL(
                    "GRANT USAGE ON SCHEMA ops TO {0}; "
                    "GRANT SELECT ON ALL TABLES IN SCHEMA ops TO {0}"
                ).format(sql.Identifier(role))
            )
            with conn.transaction():
                conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
                seen = conn.execute("SELECT count(*) FROM ops.deployments").fetchone()
            assert seen == (0,)
            owner_sees = conn.execute("SELECT count(*) FROM ops.deployments").fetchone()
            assert owner_sees == (1,)
        finally:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
