"""Per-environment locks held by real separate processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from odooplane.environments.locks import environment_lock, lock_holder, owners_of, read_holder
from odooplane.errors import LockedError
from odooplane.postgres import databases as dbs
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project

HOLDER = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from odooplane.environments.locks import environment_lock\n"
    "with environment_lock(Path(sys.argv[1]), 'staging',\n"
    "                      command='odooplane env deploy staging main'):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(60)\n"
)


def _hold(state_dir: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(state_dir)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_lock_is_exclusive_and_names_its_holder(tmp_path: Path) -> None:
    proc = _hold(tmp_path)
    try:
        holder = lock_holder(tmp_path, "staging")
        assert holder is not None and holder["pid"] == proc.pid
        started = time.monotonic()
        with (
            pytest.raises(LockedError) as err,
            environment_lock(tmp_path, "staging", timeout=1.0),
        ):
            pass
        assert time.monotonic() - started >= 0.9
        text = str(err.value)
        assert f"pid {proc.pid}" in text
        assert "odooplane env deploy staging main" in text
        # Another environment is not blocked.
        with environment_lock(tmp_path, "production", timeout=1.0):
            pass
    finally:
        proc.kill()
        proc.wait()


def test_sigkilled_holder_releases_the_lock(tmp_path: Path) -> None:
    proc = _hold(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # The description file is left behind, but it no longer means anything.
    assert read_holder(tmp_path, "staging") is not None
    assert lock_holder(tmp_path, "staging") is None
    with environment_lock(tmp_path, "staging", timeout=2.0, command="second"):
        holder = read_holder(tmp_path, "staging")
        assert holder is not None and holder["command"] == "second"
        assert holder["pid"] == os.getpid()
    assert read_holder(tmp_path, "staging") is None


def test_waiting_command_gets_the_lock_when_released(tmp_path: Path) -> None:
    proc = _hold(tmp_path)
    try:
        started = time.monotonic()
        killer = subprocess.Popen(
            [sys.executable, "-c", f"import os,time; time.sleep(1); os.kill({proc.pid}, 15)"]
        )
        with environment_lock(tmp_path, "staging", timeout=20.0):
            waited = time.monotonic() - started
        killer.wait()
        assert 0.5 < waited < 15
    finally:
        proc.kill()
        proc.wait()


def test_database_commands_take_the_lock_of_the_environment_owning_the_database(
    project: Project, pg_server: DatabaseServer
) -> None:
    """`db snapshot --terminate` (and drop, restore, clone over...) must wait for a deploy
    of the environment whose database it touches, never end its sessions mid-update."""
    staging_db = project.config.database_name("staging")
    dbs.create_database(pg_server, staging_db)
    assert owners_of(project, [staging_db, f"{staging_db}__snap__pre-1", "other"]) == ["staging"]
    proc = _hold(project.state_dir)
    try:
        env = {**os.environ, "ODOOPLANE_LOCK_TIMEOUT": "1"}
        refused = subprocess.run(
            [
                sys.executable,
                "-m",
                "odooplane",
                "-C",
                str(project.root),
                "db",
                "snapshot",
                staging_db,
                "--name",
                "during",
                "--terminate",
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert refused.returncode == 1, refused.stderr
        assert "Environment 'staging' is busy" in refused.stderr
        assert f"pid {proc.pid}" in refused.stderr
        assert [s.name for s in dbs.list_snapshots(pg_server, staging_db)] == []
    finally:
        proc.kill()
        proc.wait()
    taken = subprocess.run(
        [
            sys.executable,
            "-m",
            "odooplane",
            "-C",
            str(project.root),
            "db",
            "snapshot",
            staging_db,
            "--name",
            "after",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert taken.returncode == 0, taken.stderr
    assert [s.name for s in dbs.list_snapshots(pg_server, staging_db)] == ["after"]
    dbs.drop_database(pg_server, staging_db, terminate=True)
    for snap in dbs.list_snapshots(pg_server, staging_db):
        dbs.drop_database(pg_server, snap.snapshot_db, terminate=True)
