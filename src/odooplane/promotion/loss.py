"""What a database rollback would discard: rows written since a moment, by ``write_date``.

Odoo stamps ``write_date`` (UTC) on every create and write of a stored model, so rows
with a ``write_date`` after the moment a deployment started serving are what users
(and crons) wrote since. Deleted rows leave no trace and cannot be counted; the
message says so. Bookkeeping that Odoo rewrites by itself (the bus, cron timestamps,
login logs, generated asset bundles) is left out: rolling it back loses nothing anyone
entered.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from psycopg import sql

# Tables Odoo writes on its own while serving; they never hold what a person entered.
BOOKKEEPING = frozenset(
    {
        "bus_bus",
        "bus_presence",
        "ir_cron",
        "ir_cron_trigger",
        "ir_cron_progress",
        "res_users_log",
        "res_users_apikeys",
        "ir_config_parameter",
        "ir_module_module",
        "ir_model_data",
        "ir_ui_view",
        "ir_asset",
        "ir_translation",
        "ir_qweb_fields",
        "auth_totp_device",
        "mail_presence",
        "base_registry_signaling",
        "base_cache_signaling",
    }
)
# Rows of these tables that Odoo generated itself (compiled asset bundles).
_GENERATED = {"ir_attachment": "(url IS NULL OR url NOT LIKE '/web/assets/%%')"}


@dataclass
class WrittenSince:
    since: str
    total: int
    tables: dict[str, int] = field(default_factory=dict)
    note: str = "rows created or changed since then, by write_date; deleted rows cannot be counted"

    def top(self, count: int = 8) -> list[tuple[str, int]]:
        return sorted(self.tables.items(), key=lambda kv: (-kv[1], kv[0]))[:count]

    def describe(self) -> str:
        if not self.total:
            return f"nothing was written since {self.since}"
        tables = ", ".join(f"{n} in {t}" for t, n in self.top())
        more = len(self.tables) - len(self.top())
        return (
            f"{self.total} row(s) written since {self.since} ({tables}"
            + (f", and {more} more table(s)" if more > 0 else "")
            + ")"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def written_since(conn: Any, since: datetime) -> WrittenSince:
    """Count rows with ``write_date > since`` in every table of ``conn``'s database."""
    moment = since.astimezone(timezone.utc).replace(tzinfo=None)
    rows = conn.execute(
        "SELECT c.table_name FROM information_schema.columns c "
        "JOIN information_schema.tables t ON t.table_schema = c.table_schema "
        "AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE' "
        "WHERE c.table_schema = 'public' AND c.column_name = 'write_date' "
        "ORDER BY 1"
    ).fetchall()
    tables = [str(r[0]) for r in rows if str(r[0]) not in BOOKKEEPING]
    counts: dict[str, int] = {}
    if tables:
        parts = []
        for table in tables:
            extra = sql.SQL(" AND " + _GENERATED[table]) if table in _GENERATED else sql.SQL("")
            query = sql.SQL("SELECT {name}, count(*) FROM {table} WHERE write_date > %(t)s{extra}")
            parts.append(
                query.format(name=sql.Literal(table), table=sql.Identifier(table), extra=extra)
            )
        union = sql.SQL(" UNION ALL ").join(parts)
        for name, count in conn.execute(union, {"t": moment}).fetchall():
            if count:
                counts[str(name)] = int(count)
    return WrittenSince(
        since=since.astimezone(timezone.utc).isoformat(timespec="seconds"),
        total=sum(counts.values()),
        tables=counts,
    )
