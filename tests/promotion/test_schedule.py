"""`backup schedule` with what this machine has (cron here: no systemd runs in the
container), fired for real by the cron daemon."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from odooplane.config import load_config
from odooplane.errors import UsageError
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project
from odooplane.promotion import backups
from odooplane.promotion.schedule import has_systemd, schedule_backups

pytestmark = pytest.mark.skipif(
    has_systemd() or shutil.which("crontab") is None or shutil.which("cron") is None,
    reason="this test drives cron; the machine runs systemd or has no cron (apt-get install cron)",
)


@pytest.fixture
def project(tmp_path: Path, pg_server: DatabaseServer, prodlike_db: str) -> Project:
    root = tmp_path / "project"
    root.mkdir()
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
    )
    return Project(root=root, config=load_config(root / "odooplane.yaml"))


@pytest.fixture
def cron_daemon() -> Iterator[None]:
    running = subprocess.run(["pgrep", "-x", "cron"], capture_output=True, check=False)
    if running.returncode == 0:
        yield
        return
    proc = subprocess.Popen(["cron", "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(10)


def _crontab() -> str:
    done = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
    return done.stdout if done.returncode == 0 else ""


def test_cron_entry_runs_create_and_prune(project: Project, cron_daemon: None) -> None:
    moment = datetime.now() + timedelta(minutes=1)
    if moment.second > 45:
        moment += timedelta(minutes=1)
    at = moment.strftime("%H:%M")
    try:
        result = schedule_backups(project, "production", at=at)
        assert result.mechanism == "cron" and result.installed
        table = _crontab()
        assert f"{moment.minute} {moment.hour} * * * " in table
        assert "backup create production --kind scheduled" in table
        # Scheduling again replaces the entry, never adds a second one.
        schedule_backups(project, "production", at=at)
        assert _crontab().count(f"# odooplane-backup {project.root} production") == 1
        deadline = time.monotonic() + 150
        found: list[backups.BackupInfo] = []
        while time.monotonic() < deadline and not found:
            time.sleep(3)
            found = backups.list_backups(project, "production")
        log = project.state_dir / "logs" / "backup-production.log"
        text = log.read_text() if log.exists() else "-"
        assert found, f"cron did not run the backup; its log: {text}"
        assert found[0].kind == "scheduled"
    finally:
        schedule_backups(project, "production", at=at, remove=True)
    assert str(project.root) not in _crontab()


def test_bad_time_is_a_sentence(project: Project) -> None:
    with pytest.raises(UsageError, match="'7pm' is not a time of day"):
        schedule_backups(project, "production", at="7pm")
