"""Alembic environment of the evidence store.

Two ways in, both driven from Python (see :mod:`odooplane.evidence.store` and
:mod:`odooplane.evidence.supabase`):

- online: the caller opens a transaction and hands its connection over in
  ``config.attributes["connection"]``; every revision runs inside that one transaction,
  so a failed upgrade leaves the database at the revision it had;
- offline: ``config.attributes["dialect_name"]`` names the dialect and the SQL is
  written to the config's output buffer (``odooplane evidence export-sql``).
"""

from __future__ import annotations

from alembic import context

SCHEMA = "ops"
config = context.config


def run_offline() -> None:
    context.configure(
        dialect_name=str(config.attributes.get("dialect_name", "postgresql")),
        literal_binds=True,
        # Plain SQL for people and psql: no pyformat escaping of '%' in function bodies.
        dialect_opts={"paramstyle": "named"},
        version_table_schema=SCHEMA,
        # Supabase applies each migration file in its own transaction already.
        transactional_ddl=False,
    )
    if config.attributes.get("create_schema"):
        context.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes["connection"]
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    context.configure(
        connection=connection,
        version_table_schema=SCHEMA,
        # SQLite supports transactional DDL once the driver stops auto-committing
        # (the store's engine does that); Alembic's SQLite default is off.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
