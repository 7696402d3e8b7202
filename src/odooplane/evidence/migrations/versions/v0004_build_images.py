"""build images: the OCI image a build ran from, recorded with the build.

A build is (git SHA, Odoo revision, dependencies hash); on the Docker backend it runs
from an image made of it (``odooplane build --image``, or the first deploy of the build
to a container). The image is made after the build is recorded, and may be made again
(another base image gives another id), so it is a record of its own rather than a
column of ``ops.builds`` (whose rows are never edited, and whose chained hashes cover
their columns). This revision adds:

- ``ops.build_images``: one row per (build, image id): the image id, its tag, the base
  image it started from, the ids of its layer images and its size; append-only like
  every record (PostgreSQL: the ``reject_change`` triggers and row level security;
  SQLite: UPDATE, DELETE outside a retention run and INSERT OR REPLACE refused);
- nothing to backfill: the chain covers new records as they are written.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 12:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None
supabase_timestamp: str = "20261202120000"
supabase_name: str = "odooplane_evidence_build_images"

SCHEMA = "ops"
TABLE = "build_images"


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Uuid(as_uuid=True), primary_key=True),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column(
            "build_id", sa.Uuid(as_uuid=True), sa.ForeignKey("ops.builds.id"), nullable=False
        ),
        sa.Column("git_sha", sa.String(40), nullable=False),
        sa.Column("image_id", sa.String(80), nullable=False),
        sa.Column("tag", sa.Text()),
        sa.Column("base_image", sa.Text()),
        sa.Column("base_image_id", sa.String(80)),
        sa.Column("layers", _json()),
        sa.Column("size_bytes", sa.BigInteger()),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_index("ix_build_images_build", TABLE, ["build_id"], schema=SCHEMA)
    if op.get_context().dialect.name == "postgresql":
        _postgresql_upgrade()
    else:
        _sqlite_upgrade()


def _postgresql_upgrade() -> None:
    # reject_change (revisions 0002-0003) lets retention's declared run delete rows.
    op.execute(
        f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {SCHEMA}.{TABLE} "
        f"FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.reject_change()"
    )
    op.execute(
        f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {SCHEMA}.{TABLE} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.reject_change()"
    )
    op.execute(f"ALTER TABLE {SCHEMA}.{TABLE} ENABLE ROW LEVEL SECURITY")


def _sqlite_upgrade() -> None:
    op.execute(
        f"CREATE TRIGGER {SCHEMA}.{TABLE}_no_update BEFORE UPDATE ON {TABLE} "
        f"BEGIN SELECT RAISE(ABORT, '{SCHEMA}.{TABLE} is append-only: "
        "UPDATE is not allowed'); END"
    )
    op.execute(
        f"CREATE TRIGGER {SCHEMA}.{TABLE}_no_delete BEFORE DELETE ON {TABLE} "
        "WHEN NOT EXISTS (SELECT 1 FROM retention_guard g "
        "JOIN retention_runs r ON r.id = g.run_id) "
        f"BEGIN SELECT RAISE(ABORT, '{SCHEMA}.{TABLE} is append-only: "
        "DELETE is not allowed outside `odooplane evidence prune`'); END"
    )
    op.execute(
        f"CREATE TRIGGER {SCHEMA}.{TABLE}_no_replace BEFORE INSERT ON {TABLE} "
        f"WHEN EXISTS (SELECT 1 FROM {TABLE} WHERE id = NEW.id) "
        f"BEGIN SELECT RAISE(ABORT, '{SCHEMA}.{TABLE} is append-only: a record with "
        "this id exists (INSERT OR REPLACE is not allowed)'); END"
    )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {TABLE}_append_only ON {SCHEMA}.{TABLE}")
        op.execute(f"DROP TRIGGER {TABLE}_no_truncate ON {SCHEMA}.{TABLE}")
    else:
        for name in ("no_update", "no_delete", "no_replace"):
            op.execute(f"DROP TRIGGER {SCHEMA}.{TABLE}_{name}")
    op.drop_index("ix_build_images_build", TABLE, schema=SCHEMA)
    op.drop_table(TABLE, schema=SCHEMA)
