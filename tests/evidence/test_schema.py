"""The ``ops`` tables' column types on both backends: timestamps stored in UTC and read
back timezone-aware, JSON documents, and naive datetimes refused."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import StatementError

from odooplane.evidence import schema
from odooplane.evidence.engine import create_store_engine, resolve_location
from odooplane.postgres.server import DatabaseServer


def test_every_table_lives_in_the_ops_schema() -> None:
    assert schema.SCHEMA == "ops"
    names = {table.name for table in schema.metadata.sorted_tables}
    assert {"deployments", "deployment_events", "gate_runs", "builds", "record_chain"} <= names
    assert all(table.schema == "ops" for table in schema.metadata.sorted_tables)
    assert schema.HEAD_REVISION.isdigit()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        eng = create_store_engine(resolve_location("sqlite", tmp_path))
    else:
        server: DatabaseServer = request.getfixturevalue("pg_server")
        eng = create_store_engine(resolve_location(server.url("postgres", redact=False), tmp_path))
        with eng.begin() as conn:
            conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS ops")
            conn.exec_driver_sql("DROP TABLE IF EXISTS ops.type_probe")
    yield eng
    if request.param == "postgresql":
        with eng.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS ops.type_probe")
    eng.dispose()


def test_utc_timestamps_and_json_round_trip(engine: Any) -> None:
    table = sa.Table(
        "type_probe",
        sa.MetaData(schema="ops"),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", schema.UtcDateTime()),
        sa.Column("doc", schema.json_type()),
    )
    table.create(engine)
    paris = timezone(timedelta(hours=1))
    later = datetime(2026, 3, 14, 9, 0, tzinfo=paris)
    earlier = datetime(2026, 3, 14, 7, 30, tzinfo=timezone.utc)
    with engine.begin() as conn:
        conn.execute(table.insert(), [
            {"id": 1, "at": later, "doc": {"steps": [1, 2], "ok": True}},
            {"id": 2, "at": earlier, "doc": None},
            {"id": 3, "at": None, "doc": ["x"]},
        ])  # fmt: skip
    with engine.connect() as conn:
        rows = conn.execute(sa.select(table).order_by(table.c.at)).all()
    by_id = {r.id: r for r in rows}
    assert by_id[1].at == later and by_id[1].at.tzinfo == timezone.utc
    assert by_id[1].at.hour == 8  # stored and read back in UTC
    assert by_id[2].at == earlier
    assert by_id[3].at is None
    assert by_id[1].doc == {"steps": [1, 2], "ok": True} and by_id[3].doc == ["x"]
    # Chronological order on both backends (SQLite compares the UTC text).
    assert [r.id for r in rows if r.at is not None] == [2, 1]


def test_naive_datetimes_are_refused(engine: Any) -> None:
    table = sa.Table(
        "type_probe",
        sa.MetaData(schema="ops"),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", schema.UtcDateTime()),
    )
    table.create(engine)
    with pytest.raises(StatementError, match=r"naive datetime .* pass UTC"), engine.begin() as conn:
        conn.execute(table.insert(), {"id": 1, "at": datetime(2026, 1, 1)})
