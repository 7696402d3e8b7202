"""Backups of a real Odoo 17 database (the production-like fixture) on real PostgreSQL:
create, list, verify, restore into staging (neutralized and verified), restore into
production only with --force, retention."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from fixtures_postgres import add_attachment, files_of, unique_name
from odooplane.cli import main
from odooplane.config import load_config
from odooplane.errors import CheckFailedError, RefusedError
from odooplane.neutralize import verify_environment
from odooplane.postgres import databases as dbs
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project
from odooplane.promotion import backups
from odooplane.promotion.backups import BackupInfo, Retention


@pytest.fixture
def project(tmp_path: Path, pg_server: DatabaseServer, prodlike_db: str) -> Iterator[Project]:
    root = tmp_path / "project"
    root.mkdir()
    staging_db = unique_name("staging")
    (root / "odooplane.yaml").write_text(
        "project: acme\n"
        "odoo:\n"
        "  series: '17.0'\n"
        "  source: /opt/odoo-src/17.0\n"
        "database:\n"
        f"  server: '{pg_server.url(redact=False)}'\n"
        "environments:\n"
        "  production:\n"
        "    kind: production\n"
        f"    database: {prodlike_db}\n"
        "  staging:\n"
        "    kind: staging\n"
        f"    database: {staging_db}\n"
        "    data: {copy: production}\n"
    )
    project = Project(root=root, config=load_config(root / "odooplane.yaml"))
    yield project
    for db in dbs.list_databases(pg_server):
        if db.name.startswith((staging_db, f"{prodlike_db}__snap__")):
            dbs.drop_database(pg_server, db.name, terminate=True, missing_ok=True)


def test_create_list_verify_and_restore_into_staging(
    project: Project, pg_server: DatabaseServer
) -> None:
    filestores = project.odoo_data_dir / "filestore"
    production = project.config.database_name("production")
    add_attachment(filestores, production, b"invoice scan")
    info = backups.create_backup(project, "production", kind="update", server=pg_server)
    assert info.kind == "update" and info.modules == 31 and info.filestore_files == 1
    with zipfile.ZipFile(info.archive) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("manifest.json"))
    assert "dump.sql" in names and manifest["version"] == "17.0"
    assert any(n.startswith("filestore/") for n in names)
    assert [b.name for b in backups.list_backups(project, "production")] == [info.name]

    verified = backups.verify_backup(project, "production", server=pg_server)
    assert verified.ok and verified.checksum_ok, verified
    assert verified.installed_modules == 31 and verified.users > 0
    assert not dbs.database_exists(pg_server, verified.database)

    result = backups.restore_backup(project, "staging", source_environment="production")
    assert result.neutralized and not result.restarted
    staging = project.config.database_name("staging")
    assert files_of(filestores, staging) == files_of(filestores, production)
    report = verify_environment(project, "staging", server=pg_server)
    assert [c.id for c in report.failures if not c.id.startswith(("files.", "secrets."))] == []
    with pg_server.connect(staging) as conn:
        active = conn.execute("SELECT count(*) FROM ir_mail_server WHERE active").fetchone()
    with pg_server.connect(production) as conn:
        live = conn.execute("SELECT count(*) FROM ir_mail_server WHERE active").fetchone()
    assert live is not None and live[0] >= 1
    assert active is not None
    assert "mail.outgoing" not in [c.id for c in report.failures]


def test_damaged_backup_does_not_verify_or_restore(
    project: Project, pg_server: DatabaseServer
) -> None:
    info = backups.create_backup(project, "production", server=pg_server)
    with info.archive.open("r+b") as fh:
        fh.seek(100)
        fh.write(b"garbage")
    result = backups.verify_backup(project, "production", info.name, server=pg_server)
    assert not result.ok and not result.checksum_ok
    assert "SHA-256" in (result.error or "")
    with pytest.raises(CheckFailedError, match="SHA-256"):
        backups.restore_backup(project, "staging", info.name, source_environment="production")


def test_production_restore_needs_force_and_takes_a_snapshot(
    project: Project, pg_server: DatabaseServer
) -> None:
    production = project.config.database_name("production")
    info = backups.create_backup(project, "production", server=pg_server)
    with pytest.raises(RefusedError, match="--force"):
        backups.restore_backup(project, "production", info.name)
    with pg_server.connect(production) as conn:
        conn.execute("UPDATE res_partner SET name = 'written after the backup' WHERE id = 1")
    result = backups.restore_backup(project, "production", info.name, force=True)
    assert result.snapshot is not None and result.snapshot.startswith("pre-restore-")
    assert not result.neutralized
    with pg_server.connect(production) as conn:
        row = conn.execute("SELECT name FROM res_partner WHERE id = 1").fetchone()
    assert row is not None and row[0] != "written after the backup"
    snapshots = [s.name for s in dbs.list_snapshots(pg_server, production)]
    assert result.snapshot in snapshots


def _fake(project: Project, moment: datetime) -> BackupInfo:
    folder = backups.environment_folder(project, "production") / moment.strftime("%Y%m%dT%H%M%S")
    folder.mkdir(parents=True)
    info = BackupInfo(
        name=folder.name,
        environment="production",
        database="x",
        kind="scheduled",
        created_at=moment.isoformat(),
        path=str(folder),
        sha256="0" * 64,
        bytes=1,
        seconds=0.1,
    )
    (folder / "backup.json").write_text(json.dumps(info.to_dict()))
    return info


def test_retention_keeps_daily_weekly_monthly_and_removes_unfinished(project: Project) -> None:
    now = datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)
    made = [_fake(project, now - timedelta(days=d)) for d in range(0, 120)]
    # Two backups on the newest day: only the newest of that day counts as its daily.
    _fake(project, now - timedelta(hours=1))
    unfinished = backups.environment_folder(project, "production") / "20261130T000000-manual"
    unfinished.mkdir()
    old = (now - timedelta(days=2)).timestamp()
    os.utime(unfinished, (old, old))
    plan = backups.prune_backups(project, "production", dry_run=True)
    kept = {datetime.fromisoformat(b.created_at) for b in made if b.name in plan.kept}
    days = sorted({(now - k).days for k in kept})
    assert days[:7] == [0, 1, 2, 3, 4, 5, 6]
    assert len(plan.kept) <= 7 + 4 + 3
    assert len({k.strftime("%Y-%m") for k in kept}) == 3
    assert plan.unfinished_removed == [unfinished.name]
    assert unfinished.is_dir()  # dry run
    done = backups.prune_backups(project, "production")
    assert sorted(b.name for b in backups.list_backups(project, "production")) == sorted(done.kept)
    assert not unfinished.exists()
    tight = backups._select(backups.list_backups(project, "production"), Retention(1, 0, 0))
    assert len(tight) == 1


def test_cli_backup_commands(
    project: Project, pg_server: DatabaseServer, capfd: pytest.CaptureFixture[str]
) -> None:
    def run(*args: str) -> tuple[int, str, str]:
        capfd.readouterr()
        try:
            main(["-C", str(project.root), *args])
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capfd.readouterr()
        return code, out, " ".join(err.split())

    code, out, err = run("backup", "create", "production", "--json")
    assert code == 0, err
    name = json.loads(out)["name"]
    code, out, _ = run("backup", "list", "production", "--json")
    assert [b["name"] for b in json.loads(out)] == [name]
    code, out, err = run("backup", "verify", "production", name[:10])
    assert code == 0 and "Verified" in out, err
    code, _, err = run("backup", "restore", "production", name)
    assert code == 1 and "--force" in err
    code, _, err = run("backup", "verify", "production", "nope")
    assert code == 1 and "No backup named 'nope'" in err
    code, _, err = run("backup", "schedule", "production", "--at", "25:00")
    assert code == 2 and "25:00" in err
    shutil.rmtree(backups.environment_folder(project, "production"))
    code, _, err = run("backup", "verify", "production")
    assert code == 1 and "has no backup" in err
