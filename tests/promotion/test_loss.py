"""Counting rows written since a moment in a real Odoo 17 database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from odooplane.postgres.server import DatabaseServer
from odooplane.promotion.loss import written_since


def test_rows_written_since_by_write_date(pg_server: DatabaseServer, prodlike_db: str) -> None:
    with pg_server.connect(prodlike_db) as conn:
        now = conn.execute("SELECT now() AT TIME ZONE 'UTC'").fetchone()[0]
        moment = now.replace(tzinfo=timezone.utc)
        assert written_since(conn, moment).total == 0
        conn.execute(
            "UPDATE res_partner SET name = name || ' (edited)', write_date = now() AT TIME "
            "ZONE 'UTC' WHERE id IN (SELECT id FROM res_partner ORDER BY id LIMIT 2)"
        )
        conn.execute("UPDATE ir_cron SET write_date = now() AT TIME ZONE 'UTC'")
        found = written_since(conn, moment - timedelta(seconds=1))
    assert found.tables == {"res_partner": 2}
    assert found.total == 2
    assert "2 row(s) written since" in found.describe() and "2 in res_partner" in found.describe()
    assert found.since.endswith("+00:00")
    older = datetime(2000, 1, 1, tzinfo=timezone.utc)
    with pg_server.connect(prodlike_db) as conn:
        assert written_since(conn, older).total > 2
