"""The ``ops`` tables as SQLAlchemy Core objects: what the store reads and writes.

The tables are *created* by the Alembic revisions in ``migrations/versions`` (which keep
their own frozen definitions, as migrations must); this module describes the head
revision for queries. A test compares the two so they cannot drift apart.

Every table is append-only (database triggers reject UPDATE and DELETE): a deployment's
progress and outcome are rows of ``deployment_events``, never edits of ``deployments``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

SCHEMA = "ops"
# The head Alembic revision; a test checks it against the migration scripts, so the
# store can tell whether a database is current without loading Alembic on every read.
HEAD_REVISION = "0004"
VERSION_TABLE = "alembic_version"

metadata = sa.MetaData(schema=SCHEMA)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so values are converted
    to UTC before they are written (its text form then sorts chronologically).
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the evidence store; pass UTC")
        utc = value.astimezone(timezone.utc)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class JsonDocument(sa.TypeDecorator[Any]):
    """JSON text in SQLite, ``jsonb`` in PostgreSQL.

    A decorator rather than ``JSON().with_variant(JSONB())`` so that a SQLite-only
    command never imports SQLAlchemy's PostgreSQL dialect (a tenth of a second of
    start-up for `odooplane history`).
    """

    impl = sa.JSON()
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(sa.JSON())


def json_type() -> sa.types.TypeEngine[Any]:
    return JsonDocument()


def _uuid() -> sa.Uuid[Any]:
    return sa.Uuid(as_uuid=True)


environments = sa.Table(
    "environments",
    metadata,
    sa.Column("id", _uuid(), primary_key=True),
    sa.Column("project", sa.String(64), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("database", sa.String(63)),
    sa.Column("url", sa.Text()),
    sa.Column("definition", json_type()),
    sa.Column("recorded_at", UtcDateTime(), nullable=False),
    sa.Index("ix_environments_project_name", "project", "name", "recorded_at"),
)

builds = sa.Table(
    "builds",
    metadata,
    sa.Column("id", _uuid(), primary_key=True),
    sa.Column("project", sa.String(64), nullable=False),
    sa.Column("git_sha", sa.String(40), nullable=False),
    sa.Column("branch", sa.String(255)),
    sa.Column("commit_message", sa.Text()),
    sa.Column("author", sa.String(255)),
    sa.Column("committed_at", UtcDateTime()),
    sa.Column("odoo_series", sa.String(8)),
    sa.Column("odoo_revision", sa.String(64)),
    sa.Column("dependencies_hash", sa.String(64)),
    sa.Column("recorded_at", UtcDateTime(), nullable=False),
    sa.Index("ix_builds_project_sha", "project", "git_sha"),
    sa.Index("ix_builds_recorded_at", "recorded_at"),
)

deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("id", _uuid(), primary_key=True),
    sa.Column("project", sa.String(64), nullable=False),
    sa.Column("environment", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("build_id", _uuid(), sa.ForeignKey("ops.builds.id")),
    sa.Column("git_sha", sa.String(40), nullable=False),
    # Soft references: retention may archive an older deployment a newer one points at.
    sa.Column("previous_deployment_id", _uuid()),
    sa.Column("rollback_of", _uuid()),
    sa.Column("approved_by", sa.String(255)),
    sa.Column("recorded_by", sa.String(255)),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("artifacts_dir", sa.Text()),
    sa.Column("recorded_at", UtcDateTime(), nullable=False),
    sa.Index("ix_deployments_project_env_started", "project", "environment", "started_at"),
    sa.Index("ix_deployments_project_started", "project", "started_at"),
)

deployment_events = sa.Table(
    "deployment_events",
    metadata,
    sa.Column("id", _uuid(), primary_key=True),
    sa.Column("deployment_id", _uuid(), sa.ForeignKey("ops.deployments.id"), nullable=False),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("step", sa.String(128)),
    sa.Column("status", sa.String(16)),
    sa.Column("duration_ms", sa.BigInteger()),
    sa.Column("artifact_path", sa.Text()),
    sa.Column("artifact_sha256", sa.String(64)),
    sa.Column("artifact_bytes", sa.BigInteger()),
    sa.Column("data", json_type()),
    sa.UniqueConstraint("deployment_id", "seq", name="uq_deployment_events_seq"),
    sa.Index("ix_deployment_events_kind", "deployment_id", "kind"),
)

migrations = sa.Table(
    "migrations",
    metadata,
    sa.Column("id", _uuid(), primary_key=True),
    sa.Column("deployment_id", _uuid(), sa.ForeignKey("ops.deployments.id"), nullable=False),
    sa.Column("module", sa.String(128), nullable=False),
    sa.Column("from_version", sa.String(32)),
    sa.Column("to_version", sa.String(32)),
    sa.Column("scripts", json_type()),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("duration_ms", sa.BigInteger()),
    sa.Column("recorded_at", UtcDateTime(), nullable=False),
    sa.Index("ix_migrations_deployment", "deployment_id"),
)

gate_runs = sa.Table(
    "gate_runs",
    metadata,
    sa.Column("id", _uuid(), primary_key=True),
    sa.Column("project", sa.String(64), nullable=False),
    sa.Column("gate", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("git_sha", sa.String(40)),
    sa.Column("build_id", _uuid(), sa.ForeignKey("ops.builds.id")),
    sa.Column("environment", sa.String(64)),
    sa.Column("deployment_id", _uuid()),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("duration_ms", sa.BigInteger()),
    sa.Column("summary", sa.Text()),
    sa.Column("details", json_type()),
    sa.Column("artifact_path", sa.Text()),
    sa.Column("artifact_sha256", sa.String(64)),
    sa.Column("recorded_at", UtcDateTime(), nullable=False),
    sa.Index("ix_gate_runs_project_sha", "project", "git_sha"),
    sa.Index("ix_gate_runs_started_at", "started_at"),
)

neutralizations = sa.Table(
    "neutralizations",
    metadata,
    sa.Column("id", _uuid(), primary_key=True),
    sa.Column("project", sa.String(64), nullable=False),
    sa.Column("environment", sa.String(64), nullable=False),
    sa.Column("database", sa.String(63), nullable=False),
    sa.Column("source_database", sa.String(63)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("duration_ms", sa.BigInteger()),
    sa.Column("rules", json_type()),
    sa.Column("verification", json_type()),
    sa.Column("artifact_path", sa.Text()),
    sa.Column("artifact_sha256", sa.String(64)),
    sa.Column("recorded_at", UtcDateTime(), nullable=False),
    sa.Index("ix_neutralizations_project_env", "project", "environment", "started_at"),
)

# Added by revision 0002: every retention run, with the archive it wrote before deleting.
retention_runs = sa.Table(
    "retention_runs",
    metadata,
    sa.Column("id", _uuid(), primary_key=True),
    sa.Column("project", sa.String(64), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("cutoff", UtcDateTime(), nullable=False),
    sa.Column("archive_path", sa.Text(), nullable=False),
    sa.Column("archive_sha256", sa.String(64), nullable=False),
    sa.Column("counts", json_type(), nullable=False),
    sa.Column("recorded_at", UtcDateTime(), nullable=False),
)

# Added by revision 0003: the hash chain over every record (odooplane.evidence.chain).
# Plain text and integers only, so an entry's hash never depends on a driver's types.
record_chain = sa.Table(
    "record_chain",
    metadata,
    sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("at", sa.String(32), nullable=False),
    sa.Column("table_name", sa.String(32), nullable=False),
    sa.Column("record_id", sa.String(36), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("record_hash", sa.String(64), nullable=False),
    sa.Column("fields", sa.Text(), nullable=False),
    sa.Column("retention_run", sa.String(36)),
    sa.Column("note", sa.Text()),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("entry_hash", sa.String(64), nullable=False),
    sa.Index("ix_record_chain_record", "table_name", "record_id"),
)

# Added by revision 0004: the OCI image a build ran from (Docker backend), one row per
# (build, image id); a record of its own since build rows are never edited.
build_images = sa.Table(
    "build_images",
    metadata,
    sa.Column("id", _uuid(), primary_key=True),
    sa.Column("project", sa.String(64), nullable=False),
    sa.Column("build_id", _uuid(), sa.ForeignKey("ops.builds.id"), nullable=False),
    sa.Column("git_sha", sa.String(40), nullable=False),
    sa.Column("image_id", sa.String(80), nullable=False),
    sa.Column("tag", sa.Text()),
    sa.Column("base_image", sa.Text()),
    sa.Column("base_image_id", sa.String(80)),
    sa.Column("layers", json_type()),
    sa.Column("size_bytes", sa.BigInteger()),
    sa.Column("recorded_at", UtcDateTime(), nullable=False),
    sa.Index("ix_build_images_build", "build_id"),
)

# Tables holding evidence records, in an order where a row's parents come first.
RECORD_TABLES: tuple[sa.Table, ...] = (
    environments,
    builds,
    build_images,
    deployments,
    deployment_events,
    migrations,
    gate_runs,
    neutralizations,
    retention_runs,
)
TABLES_BY_NAME: dict[str, sa.Table] = {table.name: table for table in RECORD_TABLES}
