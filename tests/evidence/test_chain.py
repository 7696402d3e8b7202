"""Tamper evidence on SQLite and a real PostgreSQL: every record is chained by hash and
`evidence verify` names what was edited outside odooplane (issue 10: INSERT OR REPLACE
rewrote a deployment's commit and approver in SQLite, silently)."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from odooplane.evidence import chain, migrate, schema
from odooplane.evidence.store import EvidenceStore

SHA_A = "a" * 40
SHA_B = "b" * 40
EVIL = "e" * 40


@pytest.fixture
def recorded(store: EvidenceStore) -> Iterator[tuple[EvidenceStore, uuid.UUID]]:
    build = store.record_build(git_sha=SHA_A, branch="main")
    with store.start_deployment(
        "production", git_sha=SHA_A, build_id=build.id, approved_by="alice"
    ) as rec:
        with rec.step("update modules") as step:
            step.line("updated")
        rec.finish("succeeded")
    store.record_gate_run("tests", status="passed", git_sha=SHA_A, environment="staging")
    yield store, rec.id


def _raw(store: EvidenceStore, statements: list[str]) -> None:
    """Run SQL as someone holding the store's file or the owner's password would:
    outside odooplane, guards switched off first."""
    if store.location.sqlite_path is not None:
        conn = sqlite3.connect(store.location.sqlite_path)
        try:
            for statement in statements:
                conn.execute(statement)
            conn.commit()
        finally:
            conn.close()
        return
    with store.engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def _drop_sqlite_guards(table: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {table}_{kind}"
        for kind in ("no_update", "no_delete", "no_replace")
    ]


def _disable_pg_guards(table: str) -> list[str]:
    return [f"ALTER TABLE ops.{table} DISABLE TRIGGER USER"]


def _unguard(store: EvidenceStore, table: str) -> list[str]:
    if store.location.sqlite_path is not None:
        return _drop_sqlite_guards(table)
    return _disable_pg_guards(table)


def test_an_image_swapped_under_a_build_is_reported(
    recorded: tuple[EvidenceStore, uuid.UUID],
) -> None:
    """The image a build ran from is evidence too: replacing its id is found."""
    store, deployment = recorded
    build_id = store.deployment(deployment).summary.build_id
    assert build_id is not None
    image = store.record_build_image(build_id, git_sha=SHA_A, image_id="sha256:" + "c" * 64)
    assert store.verify().ok
    key = image.id.hex if store.location.sqlite_path is not None else str(image.id)
    _raw(
        store,
        [
            *_unguard(store, "build_images"),
            f"UPDATE {'ops.' if store.location.sqlite_path is None else ''}build_images "
            f"SET image_id = 'sha256:{'e' * 64}' WHERE id = '{key}'",
        ],
    )
    [found] = store.verify().breaks
    assert (found.table, found.record_id, found.fields) == (
        "build_images",
        str(image.id),
        ["image_id"],
    )


def test_an_honest_store_verifies(recorded: tuple[EvidenceStore, uuid.UUID]) -> None:
    store, _ = recorded
    result = store.verify()
    assert result.ok, result.breaks
    assert result.entries == result.records > 5
    assert len(result.head) == 64


def test_insert_or_replace_is_refused_by_sqlite(
    recorded: tuple[EvidenceStore, uuid.UUID],
) -> None:
    store, deployment = recorded
    if store.location.sqlite_path is None:
        pytest.skip("INSERT OR REPLACE is SQLite's")
    statement = (
        "INSERT OR REPLACE INTO deployments (id, project, environment, kind, git_sha, "
        "approved_by, started_at, recorded_at) "
        f"VALUES ('{deployment.hex}', 'acme', 'production', 'deploy', '{EVIL}', 'mallory', "
        "'2026-03-14 07:30:00.000000', '2026-03-14 07:30:00.000000')"
    )
    with pytest.raises(sqlite3.IntegrityError, match="INSERT OR REPLACE is not allowed"):
        _raw(store, [statement])
    summary = store.deployment(deployment).summary
    assert summary.git_sha == SHA_A and summary.approved_by == "alice"
    assert store.verify().ok


def test_a_rewritten_deployment_is_reported_with_its_fields(
    recorded: tuple[EvidenceStore, uuid.UUID],
) -> None:
    """With the guards dropped (what INSERT OR REPLACE amounted to before), the edit
    is still found, naming the table, the record, its chain entry and the fields."""
    store, deployment = recorded
    key = deployment.hex if store.location.sqlite_path is not None else str(deployment)
    _raw(
        store,
        [
            *_unguard(store, "deployments"),
            f"UPDATE {'ops.' if store.location.sqlite_path is None else ''}deployments "
            f"SET git_sha = '{EVIL}', approved_by = 'mallory' WHERE id = '{key}'",
        ],
    )
    result = store.verify()
    assert not result.ok
    [found] = result.breaks
    assert (found.table, found.record_id, found.fields) == (
        "deployments",
        str(deployment),
        ["approved_by", "git_sha"],
    )
    assert found.seq is not None
    assert f"ops.deployments record {deployment}" in found.describe()
    assert "approved_by, git_sha changed" in found.describe()


def test_deleted_forged_and_altered_records_are_each_reported(
    recorded: tuple[EvidenceStore, uuid.UUID],
) -> None:
    store, deployment = recorded
    sqlite = store.location.sqlite_path is not None
    prefix = "" if sqlite else "ops."
    forged = uuid.uuid4()
    forged_key = forged.hex if sqlite else str(forged)
    _raw(
        store,
        [
            *_unguard(store, "gate_runs"),
            *_unguard(store, "record_chain"),
            f"DELETE FROM {prefix}gate_runs",
            f"INSERT INTO {prefix}builds (id, project, git_sha, recorded_at) "
            f"VALUES ('{forged_key}', 'acme', '{SHA_B}', '2026-03-14 07:30:00')",
            f"UPDATE {prefix}record_chain SET note = 'looks fine' WHERE seq = 1",
        ],
    )
    result = store.verify()
    problems = {(b.table, b.problem) for b in result.breaks}
    assert ("gate_runs", "was deleted outside retention") in problems
    assert (
        "builds",
        "no chain entry vouches for it (added or replaced outside odooplane)",
    ) in problems
    assert any(b.seq == 1 and "altered" in b.problem for b in result.breaks)
    # The deployment itself was not touched.
    assert not any(b.record_id == str(deployment) for b in result.breaks)


def test_a_chain_rewritten_from_some_point_ends_at_another_head(
    recorded: tuple[EvidenceStore, uuid.UUID],
) -> None:
    store, _ = recorded
    head = store.verify().head
    sqlite = store.location.sqlite_path is not None
    prefix = "" if sqlite else "ops."
    # Someone recomputes the last entry consistently: it verifies against itself, but
    # not against the head kept elsewhere.
    with store.engine.connect() as conn:
        last = dict(
            conn.execute(
                sa.select(schema.record_chain).order_by(schema.record_chain.c.seq.desc()).limit(1)
            )
            .mappings()
            .one()
        )
    last["note"] = "rewritten"
    rewritten = chain.entry_hash(last)
    _raw(
        store,
        [
            *_unguard(store, "record_chain"),
            f"UPDATE {prefix}record_chain SET note = 'rewritten', entry_hash = '{rewritten}' "
            f"WHERE seq = {last['seq']}",
        ],
    )
    result = store.verify()
    assert result.ok and result.head == rewritten != head


def test_records_from_before_the_chain_are_chained_by_the_migration(
    make_store: Callable[..., EvidenceStore],
) -> None:
    store = make_store()
    with store._write_connection() as conn:
        migrate.upgrade(conn, "0002")
        now = datetime(2026, 3, 14, tzinfo=timezone.utc)
        conn.execute(
            sa.insert(schema.deployments),
            [
                {
                    "id": uuid.uuid4(),
                    "project": "acme",
                    "environment": "production",
                    "kind": "deploy",
                    "git_sha": SHA_A,
                    "started_at": now,
                    "recorded_at": now,
                }
            ],
        )
    assert store.migrate() == ("0002", "0004")
    result = store.verify()
    assert result.ok and result.entries == result.records == 1
    with store.engine.connect() as conn:
        note = conn.execute(sa.select(schema.record_chain.c.note)).scalar_one()
    assert note == chain.BACKFILLED
    # A second migrate chains nothing twice.
    store.migrate()
    assert store.verify().entries == 1


def test_a_fake_retention_run_does_not_launder_a_deletion(
    recorded: tuple[EvidenceStore, uuid.UUID],
) -> None:
    """Retention's escape through the DELETE guard (a declared run) needs a recorded
    run; one inserted by hand is not chained, and the deletion it covered is reported."""
    store, _ = recorded
    run = uuid.uuid4()
    now = datetime.now(timezone.utc)
    with store._write_connection() as conn:
        conn.execute(
            sa.insert(schema.retention_runs),
            [
                {
                    "id": run,
                    "project": "acme",
                    "started_at": now,
                    "cutoff": now,
                    "archive_path": "/nowhere",
                    "archive_sha256": "0" * 64,
                    "counts": {},
                    "recorded_at": now,
                }
            ],
        )
        if conn.dialect.name == "postgresql":
            conn.execute(
                sa.text("SELECT set_config('odooplane.retention_run', :r, true)"), {"r": str(run)}
            )
        else:
            conn.execute(
                sa.text("INSERT INTO ops.retention_guard (run_id) VALUES (:r)"), {"r": run.hex}
            )
        conn.execute(sa.delete(schema.gate_runs))
        if conn.dialect.name != "postgresql":
            conn.execute(sa.text("DELETE FROM ops.retention_guard"))
    problems = {(b.table, b.problem) for b in store.verify().breaks}
    assert ("gate_runs", "was deleted outside retention") in problems
    assert (
        "retention_runs",
        "no chain entry vouches for it (added or replaced outside odooplane)",
    ) in problems
