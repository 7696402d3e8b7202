"""Retention on SQLite and a real PostgreSQL: exactly the old records go, archived first;
old artifacts go, older logs are compressed; a second run does nothing."""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from filelock import FileLock

from odooplane.errors import LockedError, UsageError
from odooplane.evidence import schema
from odooplane.evidence.retention import prune, read_archive
from odooplane.evidence.store import EvidenceStore
from odooplane.project import Project

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def _ids(store: EvidenceStore, table: sa.Table) -> set[uuid.UUID]:
    with store.engine.connect() as conn:
        return set(conn.execute(sa.select(table.c.id)).scalars())


def _deploy(store: EvidenceStore, clock: object, days_ago: float, **kwargs: object) -> uuid.UUID:
    clock.set(NOW - timedelta(days=days_ago))  # type: ignore[attr-defined]
    rec = store.start_deployment("staging", git_sha="a" * 40, **kwargs)  # type: ignore[arg-type]
    with rec.step("upgrade") as step:
        step.line(f"deployment of {days_ago} days ago")
    rec.record_migration("sale", from_version="1", to_version="2")
    rec.finish("succeeded")
    return rec.id


def test_prune_keeps_exactly_what_it_must(store: EvidenceStore, clock: object) -> None:
    clock.set(NOW - timedelta(days=40))  # type: ignore[attr-defined]
    lonely_build = store.record_build(git_sha="1" * 40)
    shared_build = store.record_build(git_sha="2" * 40)
    # Images go with their build, and stay with a build that stays.
    store.record_build_image(lonely_build.id, git_sha="1" * 40, image_id="sha256:" + "1" * 64)
    kept_image = store.record_build_image(
        shared_build.id, git_sha="2" * 40, image_id="sha256:" + "2" * 64
    )
    clock.set(NOW - timedelta(days=50))  # type: ignore[attr-defined]
    store.insert_records(
        [
            (
                "environments",
                {
                    "id": uuid.uuid4(),
                    "project": "acme",
                    "name": "staging",
                    "kind": "staging",
                    "recorded_at": NOW - timedelta(days=50),
                },
            )
        ]
    )
    gone_deployment = _deploy(store, clock, 40, build_id=lonely_build.id)
    gone_too = _deploy(store, clock, 30.01, build_id=shared_build.id)
    kept_edge = _deploy(store, clock, 29.99)
    kept_recent = _deploy(store, clock, 5, build_id=shared_build.id)
    clock.set(NOW - timedelta(days=31))  # type: ignore[attr-defined]
    old_gate = store.record_gate_run("tests", "passed", git_sha="1" * 40, output="old\n").id
    clock.set(NOW - timedelta(days=1))  # type: ignore[attr-defined]
    new_gate = store.record_gate_run("tests", "passed", git_sha="2" * 40).id
    clock.set(NOW - timedelta(days=45))  # type: ignore[attr-defined]
    old_neutralization = store.record_neutralization("staging", "acme_staging", status="succeeded")
    other_project = EvidenceStore(
        location=store.location,
        project_name="other",
        project_root=store.project_root,
        state_dir=store.state_dir,
        layout=store.layout,
        redactor=store.redactor,
        clock=lambda: NOW - timedelta(days=60),
    )
    foreign = other_project.start_deployment("staging", git_sha="f" * 40)
    foreign.finish("succeeded")
    other_project.close()

    environments_before = _ids(store, schema.environments)
    dry = prune(store, now=NOW, dry_run=True)
    expected = {
        # step_started, step_finished and finished, for each of the two old deployments
        "deployment_events": 2 * 3,
        "migrations": 2,
        "deployments": 2,
        "gate_runs": 1,
        "build_images": 1,
        "builds": 1,
        "neutralizations": 1,
        "environments": 1,
    }
    assert dry.records == expected
    assert _ids(store, schema.environments) == environments_before

    report = prune(store, now=NOW)
    assert report.records == expected
    assert _ids(store, schema.deployments) == {kept_edge, kept_recent, foreign.id}
    assert _ids(store, schema.builds) == {shared_build.id}
    assert _ids(store, schema.build_images) == {kept_image.id}
    assert _ids(store, schema.gate_runs) == {new_gate}
    assert _ids(store, schema.neutralizations) == set()
    # The superseded definition went; the latest one of each environment stays.
    assert len(_ids(store, schema.environments)) == len(environments_before) - 1
    remaining = [s.id for s in store.history(limit=10)]
    assert remaining == [kept_recent, kept_edge]

    # The archive was written first and holds exactly what was deleted.
    assert report.archive is not None
    archive = Path(report.archive)
    rows = read_archive(archive)
    archived = {(r["table"], r["row"]["id"]) for r in rows}
    assert ("deployments", str(gone_deployment)) in archived
    assert ("deployments", str(gone_too)) in archived
    assert ("gate_runs", str(old_gate)) in archived
    assert ("builds", str(lonely_build.id)) in archived
    assert ("neutralizations", str(old_neutralization.id)) in archived
    assert len(rows) == sum(expected.values())
    with store.engine.connect() as conn:
        run = conn.execute(sa.select(schema.retention_runs)).mappings().one()
    assert run["archive_sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert run["counts"] == expected

    # Retention is the one way out the chain accepts: each removed record is archived
    # in it, by a recorded run.
    verified = store.verify()
    assert verified.ok, verified.breaks
    assert verified.archived == sum(expected.values())

    # Idempotent: nothing left to do.
    again = prune(store, now=NOW)
    assert again.records_total == 0 and again.archive is None
    # The guard is closed again: a normal DELETE is still rejected.
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), store._write_connection() as conn:
        conn.execute(sa.delete(schema.deployments))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), store._write_connection() as conn:
        conn.execute(sa.delete(schema.retention_runs))


def test_artifacts_are_removed_after_90_days_and_compressed_after_7(
    store: EvidenceStore, clock: object, project: Project
) -> None:
    very_old = _deploy(store, clock, 100)
    old = _deploy(store, clock, 50)
    week_old = _deploy(store, clock, 10)
    fresh = _deploy(store, clock, 2)
    folders = {}
    for deployment_id in (very_old, old, week_old, fresh):
        summary = store.resolve(str(deployment_id))
        assert summary.artifacts_dir is not None
        folders[deployment_id] = project.root / summary.artifacts_dir
        for log in folders[deployment_id].glob("logs/*.log"):
            # Files carry the age of their deployment, as they would in real life.
            stamp = summary.started_at.timestamp()
            os.utime(log, (stamp, stamp))
    stray = store.layout.root / "notes-kept-by-hand"
    stray.mkdir(parents=True)

    report = prune(store, now=NOW)
    assert not folders[very_old].parent.exists()
    assert folders[old].exists() and list(folders[old].glob("logs/*.log.gz"))
    assert list(folders[week_old].glob("logs/*.log.gz"))
    assert list(folders[fresh].glob("logs/*.log")) and not list(folders[fresh].glob("logs/*.gz"))
    assert stray.is_dir()
    assert len(report.artifact_dirs_removed) == 1
    assert len(report.logs_compressed) == 2

    # A compressed log still reads back, and still matches its recorded sha256.
    _, logs = store.logs(str(week_old))
    assert logs[0].text == "deployment of 10 days ago\n"
    assert logs[0].verified is True

    second = prune(store, now=NOW)
    assert second.artifact_dirs_removed == [] and second.logs_compressed == []


def test_prune_refuses_to_run_twice_at_once(store: EvidenceStore) -> None:
    store.evidence_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(store.evidence_dir / "prune.lock")), pytest.raises(LockedError):
        prune(store, now=NOW)


def test_prune_refuses_a_window_shorter_than_a_day(store: EvidenceStore) -> None:
    with pytest.raises(UsageError):
        prune(store, record_days=0)
