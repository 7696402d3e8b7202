"""Retention: 30 days of records, 90 days of artifacts, old logs compressed.

The only path through the append-only guards. One run:

1. selects this project's records older than the record window (deployments with
   their events and migrations, gate runs, neutralizations, builds no kept record
   refers to with their images, environment definitions superseded by a newer one);
2. writes them to a compressed JSON Lines archive under ``.odooplane/evidence/archive``
   and fsyncs it, *before* touching the database;
3. in one transaction: records the run in ``ops.retention_runs`` (archive path and
   sha256), declares it to the triggers (PostgreSQL: the transaction-local setting
   ``odooplane.retention_run``; SQLite: a row in ``ops.retention_guard`` removed again
   before commit), and deletes exactly the archived rows by id;
4. deletes artifact folders older than the artifact window and gzips logs older than
   ``evidence.compress_after_days``.

A crash after 2 leaves an archive of rows that still exist; the next run archives them
again (archives may overlap, never miss). A file lock makes concurrent runs (cron)
safe; a second run finds nothing left to do.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from filelock import FileLock, Timeout

from odooplane.errors import LockedError, UsageError
from odooplane.evidence import chain, schema
from odooplane.evidence.artifacts import compress, parse_stamp
from odooplane.evidence.store import EvidenceStore
from odooplane.fsutil import write_atomic
from odooplane.results import jsonable

RECORD_RETENTION_DAYS = 30
ARTIFACT_RETENTION_DAYS = 90
_CHUNK = 500
# Children before parents: the order rows are deleted in.
_DELETE_ORDER = (
    "deployment_events",
    "migrations",
    "deployments",
    "gate_runs",
    "build_images",
    "builds",
    "neutralizations",
    "environments",
)


@dataclass
class PruneReport:
    dry_run: bool
    now: datetime
    record_cutoff: datetime
    artifact_cutoff: datetime
    compress_cutoff: datetime | None
    records: dict[str, int] = field(default_factory=dict)
    archive: str | None = None
    archive_sha256: str | None = None
    run_id: uuid.UUID | None = None
    artifact_dirs_removed: list[str] = field(default_factory=list)
    logs_compressed: list[str] = field(default_factory=list)

    @property
    def records_total(self) -> int:
        return sum(self.records.values())

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = jsonable(
            {
                "dry_run": self.dry_run,
                "now": self.now,
                "record_cutoff": self.record_cutoff,
                "artifact_cutoff": self.artifact_cutoff,
                "compress_cutoff": self.compress_cutoff,
                "records": self.records,
                "records_total": self.records_total,
                "archive": self.archive,
                "archive_sha256": self.archive_sha256,
                "run_id": self.run_id,
                "artifact_dirs_removed": self.artifact_dirs_removed,
                "logs_compressed": self.logs_compressed,
            }
        )
        return data


def prune(
    store: EvidenceStore,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    record_days: int = RECORD_RETENTION_DAYS,
    artifact_days: int = ARTIFACT_RETENTION_DAYS,
    compress_days: int | None = None,
) -> PruneReport:
    """Apply the retention policy (see the module doc); ``now`` freezes time for tests."""
    if record_days < 1 or artifact_days < record_days:
        raise UsageError(
            f"Retention of {record_days} day(s) of records and {artifact_days} of artifacts "
            "is not allowed: keep records at least a day and artifacts at least as long."
        )
    moment = (now or store.now()).astimezone(timezone.utc)
    days = store.compress_after_days if compress_days is None else compress_days
    report = PruneReport(
        dry_run=dry_run,
        now=moment,
        record_cutoff=moment - timedelta(days=record_days),
        artifact_cutoff=moment - timedelta(days=artifact_days),
        compress_cutoff=moment - timedelta(days=days) if days > 0 else None,
    )
    store.evidence_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(store.evidence_dir / "prune.lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise LockedError(
            "Another `odooplane evidence prune` is running for this project.",
            hint="It will finish on its own; run this one again afterwards if needed.",
        ) from None
    try:
        if not dry_run:
            store.sync()
        _prune_records(store, report)
        _prune_artifacts(store, report)
    finally:
        lock.release()
    return report


def _select(store: EvidenceStore, cutoff: datetime) -> dict[str, list[dict[str, Any]]]:
    project = store.project_name
    d = schema.deployments
    ev = schema.deployment_events
    mig = schema.migrations
    gr = schema.gate_runs
    b = schema.builds
    n = schema.neutralizations
    e = schema.environments
    selected: dict[str, list[dict[str, Any]]] = {}
    with store._read() as conn:

        def rows(query: sa.Select[Any]) -> list[dict[str, Any]]:
            return [dict(row) for row in conn.execute(query).mappings()]

        old_deployments = sa.select(d.c.id).where(d.c.project == project, d.c.started_at < cutoff)
        selected["deployments"] = rows(
            sa.select(d).where(d.c.project == project, d.c.started_at < cutoff)
        )
        selected["deployment_events"] = rows(
            sa.select(ev).where(ev.c.deployment_id.in_(old_deployments))
        )
        selected["migrations"] = rows(
            sa.select(mig).where(mig.c.deployment_id.in_(old_deployments))
        )
        selected["gate_runs"] = rows(
            sa.select(gr).where(gr.c.project == project, gr.c.started_at < cutoff)
        )
        kept_deployment = sa.select(d.c.id).where(d.c.build_id == b.c.id, d.c.started_at >= cutoff)
        kept_gate = sa.select(gr.c.id).where(gr.c.build_id == b.c.id, gr.c.started_at >= cutoff)
        selected["builds"] = rows(
            sa.select(b).where(
                b.c.project == project,
                b.c.recorded_at < cutoff,
                ~sa.exists(kept_deployment),
                ~sa.exists(kept_gate),
            )
        )
        # A build's images go with it (they are records of the build).
        bi = schema.build_images
        gone_builds = [row["id"] for row in selected["builds"]]
        selected["build_images"] = [
            row
            for start in range(0, len(gone_builds), _CHUNK)
            for row in rows(
                sa.select(bi).where(bi.c.build_id.in_(gone_builds[start : start + _CHUNK]))
            )
        ]
        selected["neutralizations"] = rows(
            sa.select(n).where(n.c.project == project, n.c.started_at < cutoff)
        )
        newer = e.alias("newer")
        superseded = sa.select(newer.c.id).where(
            newer.c.project == e.c.project,
            newer.c.name == e.c.name,
            newer.c.recorded_at > e.c.recorded_at,
        )
        selected["environments"] = rows(
            sa.select(e).where(
                e.c.project == project, e.c.recorded_at < cutoff, sa.exists(superseded)
            )
        )
    return selected


def _prune_records(store: EvidenceStore, report: PruneReport) -> None:
    selected = _select(store, report.record_cutoff)
    report.records = {name: len(selected[name]) for name in _DELETE_ORDER}
    if report.dry_run or report.records_total == 0:
        return
    run_id = uuid.uuid4()
    archive = _write_archive(store, selected, report, run_id)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    report.archive = str(archive)
    report.archive_sha256 = digest
    report.run_id = run_id
    run_row = store._clean(
        schema.retention_runs,
        {
            "id": run_id,
            "project": store.project_name,
            "started_at": report.now,
            "cutoff": report.record_cutoff,
            "archive_path": str(archive),
            "archive_sha256": digest,
            "counts": report.records,
            "recorded_at": store.now(),
        },
    )
    with store._write_connection() as conn:
        chain.insert_chained(conn, [(schema.retention_runs, run_row)])
        _declare_run(conn, run_id)
        for name in _DELETE_ORDER:
            table = schema.TABLES_BY_NAME[name]
            # The chain keeps what left, and by which run: `evidence verify` tells this
            # from a record deleted any other way.
            chain.archive_chained(conn, table, selected[name], run_id)
            ids = [row["id"] for row in selected[name]]
            for start in range(0, len(ids), _CHUNK):
                conn.execute(sa.delete(table).where(table.c.id.in_(ids[start : start + _CHUNK])))
        _end_run(conn, run_id)


def _declare_run(conn: sa.Connection, run_id: uuid.UUID) -> None:
    if conn.dialect.name == "postgresql":
        # Transaction-local (third argument true): gone at commit or rollback.
        conn.execute(
            sa.text("SELECT set_config('odooplane.retention_run', :run, true)"),
            {"run": str(run_id)},
        )
    else:
        conn.execute(
            sa.text(f"INSERT INTO {schema.SCHEMA}.retention_guard (run_id) VALUES (:run)"),
            {"run": run_id.hex},
        )


def _end_run(conn: sa.Connection, run_id: uuid.UUID) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT set_config('odooplane.retention_run', '', true)"))
    else:
        conn.execute(
            sa.text(f"DELETE FROM {schema.SCHEMA}.retention_guard WHERE run_id = :run"),
            {"run": run_id.hex},
        )


def _write_archive(
    store: EvidenceStore,
    selected: Mapping[str, Sequence[Mapping[str, Any]]],
    report: PruneReport,
    run_id: uuid.UUID,
) -> Path:
    lines = [
        json.dumps(
            jsonable(
                {
                    "odooplane_evidence_archive": 1,
                    "project": store.project_name,
                    "run_id": run_id,
                    "cutoff": report.record_cutoff,
                    "counts": report.records,
                }
            ),
            sort_keys=True,
        )
    ]
    # Parents first, so the archive reads (and could be re-imported) in order.
    for name in reversed(_DELETE_ORDER):
        for row in selected[name]:
            lines.append(json.dumps({"table": name, "row": jsonable(row)}, sort_keys=True))
    stamp = report.now.strftime("%Y%m%dT%H%M%SZ")
    path = store.evidence_dir / "archive" / f"records-{stamp}-{run_id.hex[:8]}.jsonl.gz"
    write_atomic(path, gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), mtime=0))
    return path


def read_archive(path: Path) -> list[dict[str, Any]]:
    """The rows of an archive written by :func:`prune` (``{"table": ..., "row": ...}``)."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        lines = [json.loads(line) for line in fh if line.strip()]
    return [line for line in lines if "table" in line]


def _prune_artifacts(store: EvidenceStore, report: PruneReport) -> None:
    root = store.layout.root
    if not root.is_dir():
        return
    for folder in sorted(root.iterdir()):
        moment = parse_stamp(folder.name)
        if moment is None or not folder.is_dir():
            # Only folders odooplane named are ever touched.
            continue
        if moment < report.artifact_cutoff:
            report.artifact_dirs_removed.append(store.layout.to_record(folder))
            if not report.dry_run:
                shutil.rmtree(folder)
            continue
        if report.compress_cutoff is None or moment >= report.compress_cutoff:
            continue
        cutoff_ts = report.compress_cutoff.timestamp()
        for log in sorted(folder.glob("*/logs/*.log")):
            # A log still being written (a deployment that has run for days) is left alone.
            if log.stat().st_mtime >= cutoff_ts:
                continue
            report.logs_compressed.append(store.layout.to_record(log))
            if not report.dry_run:
                compress(log)
