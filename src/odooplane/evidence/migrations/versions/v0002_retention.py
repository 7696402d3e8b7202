"""retention: a recorded, archived path through the append-only guards.

Revision 0001 rejects every DELETE. Retention must remove records older than the
retention window, but only after archiving them, and only through one path. This
revision adds:

- ``ops.retention_runs``: one row per retention run, naming the archive (path and
  sha256) written *before* anything is deleted; append-only itself;
- DELETE guards that let a row go only inside a transaction that declared a recorded
  retention run: in PostgreSQL the transaction-local setting ``odooplane.retention_run``
  must hold the id of an ``ops.retention_runs`` row; in SQLite (no session settings) the
  transaction inserts that id into ``ops.retention_guard`` and removes it before commit;
- indexes on the timestamps retention selects by.

UPDATE stays rejected everywhere, retention included.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 12:01:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None
supabase_timestamp: str = "20261125120100"
supabase_name: str = "odooplane_evidence_retention"

SCHEMA = "ops"
GUARDED = (
    "environments",
    "builds",
    "deployments",
    "deployment_events",
    "migrations",
    "gate_runs",
    "neutralizations",
)


def upgrade() -> None:
    op.create_table(
        "retention_runs",
        sa.Column("id", sa.Uuid(as_uuid=True), primary_key=True),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cutoff", sa.DateTime(timezone=True), nullable=False),
        sa.Column("archive_path", sa.Text(), nullable=False),
        sa.Column("archive_sha256", sa.String(64), nullable=False),
        sa.Column(
            "counts",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_index("ix_builds_recorded_at", "builds", ["recorded_at"], schema=SCHEMA)
    op.create_index("ix_gate_runs_started_at", "gate_runs", ["started_at"], schema=SCHEMA)
    if op.get_context().dialect.name == "postgresql":
        _postgresql_upgrade()
    else:
        _sqlite_upgrade()


def _postgresql_upgrade() -> None:
    op.execute(
        f"""
CREATE OR REPLACE FUNCTION {SCHEMA}.reject_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
    run text := nullif(current_setting('odooplane.retention_run', true), '');
BEGIN
    IF TG_OP = 'DELETE' AND TG_LEVEL = 'ROW' AND run IS NOT NULL
       AND TG_TABLE_NAME <> 'retention_runs'
       AND EXISTS (SELECT 1 FROM {SCHEMA}.retention_runs r WHERE r.id::text = run) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '{SCHEMA}.% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING HINT = 'Evidence records are never edited; old records leave only through '
                     '`odooplane evidence prune`, which archives them first.';
END
$$"""
    )
    op.execute(
        f"CREATE TRIGGER retention_runs_append_only BEFORE UPDATE OR DELETE "
        f"ON {SCHEMA}.retention_runs FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.reject_change()"
    )
    op.execute(
        f"CREATE TRIGGER retention_runs_no_truncate BEFORE TRUNCATE ON {SCHEMA}.retention_runs "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.reject_change()"
    )
    op.execute(f"ALTER TABLE {SCHEMA}.retention_runs ENABLE ROW LEVEL SECURITY")


def _sqlite_upgrade() -> None:
    op.create_table(
        "retention_guard",
        sa.Column("run_id", sa.Uuid(as_uuid=True), primary_key=True),
        schema=SCHEMA,
    )
    for table in GUARDED:
        op.execute(f"DROP TRIGGER {SCHEMA}.{table}_no_delete")
        op.execute(
            f"CREATE TRIGGER {SCHEMA}.{table}_no_delete BEFORE DELETE ON {table} "
            "WHEN NOT EXISTS (SELECT 1 FROM retention_guard g "
            "JOIN retention_runs r ON r.id = g.run_id) "
            f"BEGIN SELECT RAISE(ABORT, '{SCHEMA}.{table} is append-only: "
            "DELETE is not allowed outside `odooplane evidence prune`'); END"
        )
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {SCHEMA}.retention_runs_no_{action.lower()} BEFORE {action} "
            f"ON retention_runs BEGIN SELECT RAISE(ABORT, '{SCHEMA}.retention_runs is "
            f"append-only: {action} is not allowed'); END"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            f"""
CREATE OR REPLACE FUNCTION {SCHEMA}.reject_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
    RAISE EXCEPTION '{SCHEMA}.% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING HINT = 'Evidence records are never edited; record a new event instead.';
END
$$"""
        )
        op.execute(f"DROP TRIGGER retention_runs_append_only ON {SCHEMA}.retention_runs")
        op.execute(f"DROP TRIGGER retention_runs_no_truncate ON {SCHEMA}.retention_runs")
    else:
        for table in GUARDED:
            op.execute(f"DROP TRIGGER {SCHEMA}.{table}_no_delete")
            op.execute(
                f"CREATE TRIGGER {SCHEMA}.{table}_no_delete BEFORE DELETE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{SCHEMA}.{table} is append-only: "
                "DELETE is not allowed'); END"
            )
        op.drop_table("retention_guard", schema=SCHEMA)
    op.drop_index("ix_gate_runs_started_at", "gate_runs", schema=SCHEMA)
    op.drop_index("ix_builds_recorded_at", "builds", schema=SCHEMA)
    op.drop_table("retention_runs", schema=SCHEMA)
