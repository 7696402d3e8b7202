"""initial evidence schema: environments, builds, deployments and their events,
migrations, gate runs, neutralizations; append-only triggers; row level security.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 12:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None
# File name stamp of this revision in `odooplane evidence export-sql` (Supabase layout).
supabase_timestamp: str = "20261125120000"
supabase_name: str = "odooplane_evidence_initial"

SCHEMA = "ops"
TABLES = (
    "environments",
    "builds",
    "deployments",
    "deployment_events",
    "migrations",
    "gate_runs",
    "neutralizations",
)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _uuid() -> sa.Uuid[Any]:
    return sa.Uuid(as_uuid=True)


def upgrade() -> None:
    op.create_table(
        "environments",
        sa.Column("id", _uuid(), primary_key=True),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("database", sa.String(63)),
        sa.Column("url", sa.Text()),
        sa.Column("definition", _json()),
        sa.Column("recorded_at", _ts(), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_environments_project_name",
        "environments",
        ["project", "name", "recorded_at"],
        schema=SCHEMA,
    )
    op.create_table(
        "builds",
        sa.Column("id", _uuid(), primary_key=True),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("git_sha", sa.String(40), nullable=False),
        sa.Column("branch", sa.String(255)),
        sa.Column("commit_message", sa.Text()),
        sa.Column("author", sa.String(255)),
        sa.Column("committed_at", _ts()),
        sa.Column("odoo_series", sa.String(8)),
        sa.Column("odoo_revision", sa.String(64)),
        sa.Column("dependencies_hash", sa.String(64)),
        sa.Column("recorded_at", _ts(), nullable=False),
        schema=SCHEMA,
    )
    op.create_index("ix_builds_project_sha", "builds", ["project", "git_sha"], schema=SCHEMA)
    op.create_table(
        "deployments",
        sa.Column("id", _uuid(), primary_key=True),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("environment", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("build_id", _uuid()),
        sa.Column("git_sha", sa.String(40), nullable=False),
        sa.Column("previous_deployment_id", _uuid()),
        sa.Column("rollback_of", _uuid()),
        sa.Column("approved_by", sa.String(255)),
        sa.Column("recorded_by", sa.String(255)),
        sa.Column("started_at", _ts(), nullable=False),
        sa.Column("artifacts_dir", sa.Text()),
        sa.Column("recorded_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(["build_id"], [f"{SCHEMA}.builds.id"]),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_deployments_project_env_started",
        "deployments",
        ["project", "environment", "started_at"],
        schema=SCHEMA,
    )
    op.create_index(
        "ix_deployments_project_started", "deployments", ["project", "started_at"], schema=SCHEMA
    )
    op.create_table(
        "deployment_events",
        sa.Column("id", _uuid(), primary_key=True),
        sa.Column("deployment_id", _uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", _ts(), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("step", sa.String(128)),
        sa.Column("status", sa.String(16)),
        sa.Column("duration_ms", sa.BigInteger()),
        sa.Column("artifact_path", sa.Text()),
        sa.Column("artifact_sha256", sa.String(64)),
        sa.Column("artifact_bytes", sa.BigInteger()),
        sa.Column("data", _json()),
        sa.ForeignKeyConstraint(["deployment_id"], [f"{SCHEMA}.deployments.id"]),
        sa.UniqueConstraint("deployment_id", "seq", name="uq_deployment_events_seq"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_deployment_events_kind",
        "deployment_events",
        ["deployment_id", "kind"],
        schema=SCHEMA,
    )
    op.create_table(
        "migrations",
        sa.Column("id", _uuid(), primary_key=True),
        sa.Column("deployment_id", _uuid(), nullable=False),
        sa.Column("module", sa.String(128), nullable=False),
        sa.Column("from_version", sa.String(32)),
        sa.Column("to_version", sa.String(32)),
        sa.Column("scripts", _json()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", _ts(), nullable=False),
        sa.Column("duration_ms", sa.BigInteger()),
        sa.Column("recorded_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(["deployment_id"], [f"{SCHEMA}.deployments.id"]),
        schema=SCHEMA,
    )
    op.create_index("ix_migrations_deployment", "migrations", ["deployment_id"], schema=SCHEMA)
    op.create_table(
        "gate_runs",
        sa.Column("id", _uuid(), primary_key=True),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("gate", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("git_sha", sa.String(40)),
        sa.Column("build_id", _uuid()),
        sa.Column("environment", sa.String(64)),
        sa.Column("deployment_id", _uuid()),
        sa.Column("started_at", _ts(), nullable=False),
        sa.Column("duration_ms", sa.BigInteger()),
        sa.Column("summary", sa.Text()),
        sa.Column("details", _json()),
        sa.Column("artifact_path", sa.Text()),
        sa.Column("artifact_sha256", sa.String(64)),
        sa.Column("recorded_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(["build_id"], [f"{SCHEMA}.builds.id"]),
        schema=SCHEMA,
    )
    op.create_index("ix_gate_runs_project_sha", "gate_runs", ["project", "git_sha"], schema=SCHEMA)
    op.create_table(
        "neutralizations",
        sa.Column("id", _uuid(), primary_key=True),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("environment", sa.String(64), nullable=False),
        sa.Column("database", sa.String(63), nullable=False),
        sa.Column("source_database", sa.String(63)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", _ts(), nullable=False),
        sa.Column("duration_ms", sa.BigInteger()),
        sa.Column("rules", _json()),
        sa.Column("verification", _json()),
        sa.Column("artifact_path", sa.Text()),
        sa.Column("artifact_sha256", sa.String(64)),
        sa.Column("recorded_at", _ts(), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_neutralizations_project_env",
        "neutralizations",
        ["project", "environment", "started_at"],
        schema=SCHEMA,
    )
    if op.get_context().dialect.name == "postgresql":
        _postgresql_guards()
    else:
        _sqlite_guards()


def _postgresql_guards() -> None:
    # search_path is pinned so the function cannot be redirected by a caller's settings.
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
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {SCHEMA}.{table} "
            f"FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.reject_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {SCHEMA}.{table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.reject_change()"
        )
        op.execute(f"ALTER TABLE {SCHEMA}.{table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {SCHEMA}.alembic_version ENABLE ROW LEVEL SECURITY")


def _sqlite_guards() -> None:
    for table in TABLES:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {SCHEMA}.{table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{SCHEMA}.{table} is append-only: "
                f"{action} is not allowed'); END"
            )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {SCHEMA}.{table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {SCHEMA}.{table}")
        op.execute(f"DROP FUNCTION IF EXISTS {SCHEMA}.reject_change()")
    for table in reversed(TABLES):
        op.drop_table(table, schema=SCHEMA)
