"""Running the evidence schema's Alembic revisions from Python, online and offline.

No ``alembic.ini``: the script location is this package's ``migrations`` folder, found
next to this file whether odooplane is installed editable or from a wheel.
"""

from __future__ import annotations

import io
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import Script, ScriptDirectory

from odooplane.evidence.schema import SCHEMA, VERSION_TABLE

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Key of the PostgreSQL advisory lock serializing migrations of one evidence database.
_PG_MIGRATION_LOCK = 0x0D00_E71D


def alembic_config(**attributes: object) -> Config:
    cfg = Config(output_buffer=io.StringIO())
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes.update(attributes)
    return cfg


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def revisions() -> list[Script]:
    """Every revision, oldest first."""
    return list(reversed(list(script_directory().walk_revisions())))


def current_revision(conn: sa.Connection) -> str | None:
    """The revision the database is at; None for an empty database."""
    if not sa.inspect(conn).has_table(VERSION_TABLE, schema=SCHEMA):
        return None
    value = conn.execute(sa.text(f"SELECT version_num FROM {SCHEMA}.{VERSION_TABLE}")).scalar()
    return None if value is None else str(value)


def upgrade(conn: sa.Connection, target: str = "head") -> None:
    """Upgrade inside the caller's transaction on ``conn`` (commit is the caller's)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    command.upgrade(alembic_config(connection=conn), target)


def downgrade(conn: sa.Connection, target: str) -> None:
    """Downgrade inside the caller's transaction (for tests and emergencies)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    command.downgrade(alembic_config(connection=conn), target)


def offline_sql(start: str | None, end: str, *, dialect: str = "postgresql") -> str:
    """The SQL taking a database from ``start`` (None: empty) to ``end``."""
    cfg = alembic_config(dialect_name=dialect, create_schema=start is None)
    command.upgrade(cfg, f"{start}:{end}" if start else end, sql=True)
    buffer = cfg.output_buffer
    assert isinstance(buffer, io.StringIO)
    return buffer.getvalue()
