"""chain: every record vouched for by a hash chain; SQLite refuses INSERT OR REPLACE.

The append-only triggers stop an UPDATE or DELETE through SQL, but not someone with the
file (SQLite) or the owner's password (PostgreSQL): SQLite's ``INSERT OR REPLACE``
deletes the conflicting row without firing its DELETE trigger (recursive triggers are
off by default) and rewrote a deployment's commit and approver. This revision adds:

- ``ops.record_chain``: one entry per record (its hash, a hash per field, the hash of
  the entry chained to the previous one), and one per record retention archives;
  append-only like the records, retention included;
- in SQLite, a BEFORE INSERT trigger on every record table refusing a row whose id is
  stored already (so ``INSERT OR REPLACE`` aborts instead of replacing);
- in PostgreSQL, retention's exception to the DELETE guard excludes the chain.

The records stored before this revision are chained by
:func:`odooplane.evidence.chain.backfill`, run by ``EvidenceStore.migrate`` in the same
transaction (and by ``odooplane evidence migrate`` after a Supabase push of this SQL).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None
supabase_timestamp: str = "20261201120000"
supabase_name: str = "odooplane_evidence_chain"

SCHEMA = "ops"
RECORDS = (
    "environments",
    "builds",
    "deployments",
    "deployment_events",
    "migrations",
    "gate_runs",
    "neutralizations",
    "retention_runs",
)


def upgrade() -> None:
    op.create_table(
        "record_chain",
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
        schema=SCHEMA,
    )
    op.create_index(
        "ix_record_chain_record", "record_chain", ["table_name", "record_id"], schema=SCHEMA
    )
    if op.get_context().dialect.name == "postgresql":
        _postgresql_upgrade()
    else:
        _sqlite_upgrade()


def _reject_change(exempt: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {SCHEMA}.reject_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
    run text := nullif(current_setting('odooplane.retention_run', true), '');
BEGIN
    IF TG_OP = 'DELETE' AND TG_LEVEL = 'ROW' AND run IS NOT NULL
       AND TG_TABLE_NAME NOT IN ({exempt})
       AND EXISTS (SELECT 1 FROM {SCHEMA}.retention_runs r WHERE r.id::text = run) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '{SCHEMA}.% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING HINT = 'Evidence records are never edited; old records leave only through '
                     '`odooplane evidence prune`, which archives them first.';
END
$$"""


def _postgresql_upgrade() -> None:
    op.execute(_reject_change("'retention_runs', 'record_chain'"))
    op.execute(
        f"CREATE TRIGGER record_chain_append_only BEFORE UPDATE OR DELETE "
        f"ON {SCHEMA}.record_chain FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.reject_change()"
    )
    op.execute(
        f"CREATE TRIGGER record_chain_no_truncate BEFORE TRUNCATE ON {SCHEMA}.record_chain "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.reject_change()"
    )
    op.execute(f"ALTER TABLE {SCHEMA}.record_chain ENABLE ROW LEVEL SECURITY")


def _sqlite_upgrade() -> None:
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {SCHEMA}.record_chain_no_{action.lower()} BEFORE {action} "
            f"ON record_chain BEGIN SELECT RAISE(ABORT, '{SCHEMA}.record_chain is "
            f"append-only: {action} is not allowed'); END"
        )
    for table in (*RECORDS, "record_chain"):
        key = "seq" if table == "record_chain" else "id"
        op.execute(
            f"CREATE TRIGGER {SCHEMA}.{table}_no_replace BEFORE INSERT ON {table} "
            f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {key} = NEW.{key}) "
            f"BEGIN SELECT RAISE(ABORT, '{SCHEMA}.{table} is append-only: a record with "
            "this id exists (INSERT OR REPLACE is not allowed)'); END"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(_reject_change("'retention_runs'"))
        op.execute(f"DROP TRIGGER record_chain_append_only ON {SCHEMA}.record_chain")
        op.execute(f"DROP TRIGGER record_chain_no_truncate ON {SCHEMA}.record_chain")
    else:
        for table in (*RECORDS, "record_chain"):
            op.execute(f"DROP TRIGGER {SCHEMA}.{table}_no_replace")
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER {SCHEMA}.record_chain_no_{action}")
    op.drop_index("ix_record_chain_record", "record_chain", schema=SCHEMA)
    op.drop_table("record_chain", schema=SCHEMA)
