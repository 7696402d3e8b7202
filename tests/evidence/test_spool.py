"""Nothing lost, nothing duplicated: a PostgreSQL evidence store that goes away mid-run.

The outage is real: the test database is closed to connections and its sessions are
terminated, exactly what a deployment sees when the evidence server goes down.
"""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from psycopg import sql

from odooplane.evidence import schema
from odooplane.evidence.spool import Spool
from odooplane.evidence.store import EvidenceStore
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project

SHA = "c" * 40


@pytest.fixture
def pg_project(
    tmp_path: Path,
    pg_server: DatabaseServer,
    pg_dbname: str,
    make_project: Callable[..., Project],
) -> Iterator[Project]:
    with pg_server.connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(pg_dbname)))
    project = make_project(tmp_path / "project", pg_server.url(pg_dbname, redact=False))
    yield project
    _set_reachable(pg_server, pg_dbname, True)


def _set_reachable(server: DatabaseServer, dbname: str, reachable: bool) -> None:
    with server.connect() as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                sql.Identifier(dbname), sql.SQL("true" if reachable else "false")
            )
        )
        if not reachable:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (dbname,),
            )


def _counts(store: EvidenceStore) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            table.name: int(
                conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            )
            for table in schema.RECORD_TABLES
        }


def test_outage_mid_deployment_loses_nothing_and_duplicates_nothing(
    pg_project: Project, pg_server: DatabaseServer, pg_dbname: str
) -> None:
    store = EvidenceStore.open(pg_project)
    store.offline_backoff_seconds = 0
    try:
        build = store.record_build(git_sha=SHA, branch="main")
        rec = store.start_deployment("staging", git_sha=SHA, build_id=build.id)
        with rec.step("before the outage") as step:
            step.line("stored directly")
        assert store.spool is not None and store.spool.is_empty()

        _set_reachable(pg_server, pg_dbname, False)
        with rec.step("during the outage") as step:
            step.run([sys.executable, "-c", "print('still captured')"])
        rec.record_migration("sale", from_version="17.0.1.0", to_version="17.0.1.1")
        rec.record_health_check("http", ok=True)
        rec.finish("succeeded")
        spooled = store.spool.pending_rows()
        # step started + finished, the migration, the health check, the outcome
        assert spooled == 5
        assert store.status().reachable is False

        _set_reachable(pg_server, pg_dbname, True)
        # The next recording call delivers the spool first, then writes its own row.
        store.record_gate_run("tests", "passed", git_sha=SHA)
        assert store.spool.is_empty()
        detail = store.deployment(rec.id)
        assert detail.summary.outcome == "succeeded"
        assert [s.name for s in detail.steps] == ["before the outage", "during the outage"]
        assert [e.seq for e in detail.events] == list(range(1, 7))
        assert [m.module for m in detail.migrations] == ["sale"]
        assert [g.gate for g in detail.gate_runs] == ["tests"]
        _, logs = store.logs(str(rec.id), step="during the outage")
        assert logs[0].text is not None and "still captured" in logs[0].text
        assert logs[0].verified is True
        before = _counts(store)
        assert store.sync().delivered == 0
        assert _counts(store) == before
    finally:
        store.close()


def test_redelivery_after_a_crash_stores_each_record_once(
    pg_project: Project, pg_server: DatabaseServer, pg_dbname: str
) -> None:
    _set_reachable(pg_server, pg_dbname, False)
    store = EvidenceStore.open(pg_project)
    try:
        rec = store.start_deployment("production", git_sha=SHA, approved_by="bob")
        with rec.step("upgrade") as step:
            step.line("offline all along")
        rec.finish("succeeded")
        assert store.spool is not None
        spool_copy = store.spool.path.with_name("spool.copy")
        shutil.copy(store.spool.path, spool_copy)
        assert store.sync().reachable is False

        _set_reachable(pg_server, pg_dbname, True)
        result = store.sync()
        assert result.reachable and result.delivered == 5 and result.pending == 0
        first = _counts(store)
        # A crash between the commit and the truncation leaves the spool in place:
        # delivering it again must not store anything twice.
        shutil.copy(spool_copy, store.spool.path)
        assert store.sync().delivered == 5
        assert _counts(store) == first
        assert first["deployments"] == 1 and first["deployment_events"] == 3
        assert store.history("production")[0].approved_by == "bob"
        # Records delivered from the spool are chained once, like any other.
        verified = store.verify()
        assert verified.ok, verified.breaks
        assert verified.entries == verified.records
    finally:
        store.close()


def test_the_next_command_delivers_what_an_unreachable_url_spooled(
    tmp_path: Path,
    pg_project: Project,
    make_project: Callable[..., Project],
) -> None:
    # Same project folder, evidence server down (nothing listens on port 1).
    down = make_project(pg_project.root, "postgresql://odoo:pw@127.0.0.1:1/evidence")
    offline = EvidenceStore.open(down)
    rec = offline.start_deployment("staging", git_sha=SHA)
    with rec.step("build") as step:
        step.line("hello")
    rec.finish("failed", error="boom")
    assert offline.spool is not None and offline.spool.pending_rows() == 5
    with pytest.raises(Exception, match="cannot be reached"):
        offline.history()
    offline.close()

    # The server is back (the real URL); opening the store delivers the spool.
    back = EvidenceStore.open(pg_project)
    try:
        assert back.spool is not None and back.spool.is_empty()
        summary = back.history()[0]
        assert summary.id == rec.id and summary.outcome == "failed"
    finally:
        back.close()


def test_a_torn_line_is_kept_aside_and_the_rest_delivered(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "evidence")
    first = {"id": uuid.uuid4(), "n": 1}
    spool.append([("builds", first)])
    with open(spool.path, "a") as fh:
        fh.write('{"batch": "torn", "rows": [{"tab')  # a crash mid-append
    second = {"id": uuid.uuid4(), "n": 2}
    spool.append([("builds", second)])
    assert [b.rows for b in spool.batches()] == [[("builds", first)], [("builds", second)]]
    delivered: list[object] = []
    assert spool.drain(lambda batches: delivered.extend(batches)) == 2
    assert spool.is_empty()
    kept = list((tmp_path / "evidence").glob("spool-torn-*.jsonl"))
    assert len(kept) == 1 and '"torn"' in kept[0].read_text()


def test_a_failed_delivery_keeps_the_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "evidence")
    spool.append([("builds", {"id": uuid.uuid4(), "data": {"$uuid": "not really"}})])

    def fail(batches: object) -> None:
        raise RuntimeError("server went away")

    with pytest.raises(RuntimeError):
        spool.drain(fail)
    rows = spool.batches()[0].rows
    assert rows[0][1]["data"] == {"$uuid": "not really"}
    assert spool.pending_rows() == 1
