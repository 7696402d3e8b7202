"""What the database at hand looks like: tables and columns, read from the catalog.

Odoo 16 to 19 differ in small ways (``payment_provider`` vs ``payment_acquirer``, the
webhook columns of ``ir_act_server`` from 17, modules that are not installed at all), so
every rule asks this object before touching a table or a column instead of assuming.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

Cursor = psycopg.Cursor[Any]

TEXT_TYPES = frozenset({"character varying", "text", "character", "jsonb", "json", "bytea"})


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    nullable: bool

    @property
    def is_text(self) -> bool:
        return self.data_type in TEXT_TYPES


@dataclass
class Schema:
    """Columns of the ``public`` tables, loaded once per connection."""

    tables: dict[str, dict[str, Column]] = field(default_factory=dict)

    @classmethod
    def load(cls, cur: Cursor) -> Schema:
        # pg_catalog rather than information_schema: the same answer, 100x faster on
        # an Odoo database's thousands of columns.
        cur.execute(
            """
            SELECT c.relname, a.attname, format_type(a.atttypid, NULL), NOT a.attnotnull
              FROM pg_attribute a
              JOIN pg_class c ON c.oid = a.attrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
               AND a.attnum > 0 AND NOT a.attisdropped
            """
        )
        tables: dict[str, dict[str, Column]] = {}
        for table, column, data_type, nullable in cur.fetchall():
            tables.setdefault(table, {})[column] = Column(column, data_type, bool(nullable))
        return cls(tables)

    def has_table(self, table: str) -> bool:
        return table in self.tables

    def has(self, table: str, *columns: str) -> bool:
        cols = self.tables.get(table)
        return cols is not None and all(c in cols for c in columns)

    def columns(self, table: str) -> dict[str, Column]:
        return self.tables.get(table, {})

    def existing(self, table: str, columns: list[str] | tuple[str, ...]) -> list[str]:
        """The subset of ``columns`` that ``table`` has, in the given order."""
        cols = self.tables.get(table, {})
        return [c for c in columns if c in cols]

    def payment_table(self) -> str | None:
        """``payment_provider`` from Odoo 16 on, ``payment_acquirer`` before."""
        for name in ("payment_provider", "payment_acquirer"):
            if name in self.tables:
                return name
        return None
