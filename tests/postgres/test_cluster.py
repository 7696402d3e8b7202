"""The embedded cluster's life: first start, idempotent start, crash, recovery, stop.

Each test here starts a cluster of its own (about two seconds); everything else shares
the session's ``pg_server``.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psutil
import psycopg
import pytest

from fixtures_postgres import TEST_SETTINGS
from odooplane.config import ProjectConfig
from odooplane.errors import ExternalToolError, RefusedError
from odooplane.postgres.cluster import EXTERNAL_ROOT, SOCKET_PATH_MAX, EmbeddedCluster
from odooplane.postgres.project_server import server_for
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (the service-user path)")


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A temporary folder the server's OS user can enter (pytest's own are 0700)."""
    base = Path(tempfile.mkdtemp(prefix="odooplane-test-cluster-"))
    os.chmod(base, 0o711)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def wait_gone(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.05)
    raise AssertionError(f"PID {pid} still runs")


def test_lifecycle_start_twice_crash_recover_stop(open_dir: Path) -> None:
    # A long project path: the socket cannot live beside the data (107-byte limit).
    state = open_dir / ("a-project-with-a-rather-long-folder-name-" * 2) / ".odooplane"
    cluster = EmbeddedCluster(state)
    try:
        assert cluster.status().state == "uninitialized"
        assert not (state / "pg").exists()  # status never creates anything

        first = cluster.start()
        assert first.state == "running" and first.accepting and first.pid
        assert first.data_dir == state / "pg" / "cluster" / "data"
        assert any("Created a PostgreSQL" in note for note in first.notes)
        password_file = state / "pg" / "superuser.password"
        assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
        assert password_file.stat().st_uid == os.geteuid()
        assert first.socket_dir is not None
        assert len(os.fsencode(first.socket_dir / f".s.PGSQL.{first.port}")) <= SOCKET_PATH_MAX
        assert not first.socket_dir.is_relative_to(state)
        if os.geteuid() == 0:
            service = pwd.getpwnam(str(first.os_user))
            assert service.pw_uid != 0
            assert first.data_dir.stat().st_uid == service.pw_uid
            assert psutil.Process(first.pid).username() == first.os_user

        again = cluster.start()
        assert again.pid == first.pid
        assert "The server was already running." in again.notes

        server = cluster.server()
        with server.connect() as conn:
            conn.execute("CREATE TABLE survivor (v int)")
            conn.execute("INSERT INTO survivor VALUES (42)")
        # The unix socket works too, and also wants the password.
        with psycopg.connect(
            host=str(first.socket_dir),
            port=first.port,
            user=server.user,
            password=server.password,
            dbname="postgres",
        ) as conn:
            assert conn.execute("SELECT v FROM survivor").fetchone() == (42,)

        os.kill(first.pid, signal.SIGKILL)
        wait_gone(first.pid)
        crashed = cluster.status()
        assert crashed.state == "crashed"
        assert not crashed.accepting
        assert any("postmaster.pid" in note for note in crashed.notes)

        recovered = cluster.start()
        assert recovered.state == "running" and recovered.accepting
        assert recovered.pid != first.pid
        assert any("unclean shutdown" in note for note in recovered.notes)
        with cluster.server().connect() as conn:
            assert conn.execute("SELECT v FROM survivor").fetchone() == (42,)

        stopped = cluster.stop()
        assert stopped.state == "stopped" and stopped.pid is None
        assert not psutil.pid_exists(recovered.pid) or (
            psutil.Process(recovered.pid).status() == psutil.STATUS_ZOMBIE
        )
        assert "The server was not running." in cluster.stop().notes
        assert cluster.status().state == "stopped"
        with pytest.raises(ExternalToolError, match="Could not connect"):
            cluster.server().connect()
    finally:
        cluster.destroy()
    assert not (state / "pg").exists()


def test_password_authentication(pg_server: DatabaseServer) -> None:
    with pg_server.connect() as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("odooplane",)
        rules = conn.execute(
            "SELECT DISTINCT auth_method FROM pg_hba_file_rules WHERE error IS NULL"
        ).fetchall()
        stored = conn.execute(
            "SELECT rolpassword LIKE 'SCRAM-SHA-256$%%' FROM pg_authid WHERE rolname = current_user"
        ).fetchone()
        listen = conn.execute("SHOW listen_addresses").fetchone()
    assert rules == [("scram-sha-256",)]
    assert stored == (True,)
    assert listen == ("127.0.0.1",)
    with pytest.raises(ExternalToolError, match="password authentication failed"):
        replace(pg_server, password="wrong").connect()
    with pytest.raises(ExternalToolError, match="password"):
        replace(pg_server, password=None).connect()
    # No role gets in on trust, not even the conventional superuser name.
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            host="127.0.0.1", port=pg_server.port, user="postgres", password="x", dbname="postgres"
        )


@as_root
def test_unreachable_state_folder_and_taken_port(tmp_path: Path) -> None:
    """Under pytest's 0700 tmp_path the server's user cannot enter the state folder:
    the data goes to /var/lib/odooplane/clusters, pointed at by cluster.json."""
    project = Project(
        root=tmp_path / "project",
        config=ProjectConfig(project="demo", odoo={"series": "17.0", "source": "/opt/odoo"}),
    )
    with pytest.raises(RefusedError, match="odooplane db server start"):
        server_for(project, start=False)
    cluster = EmbeddedCluster(project.state_dir, settings=TEST_SETTINGS)
    try:
        server = server_for(project)  # creates and starts the embedded cluster
        with server.connect() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        status = cluster.status()
        assert status.running and status.data_dir is not None
        assert status.data_dir.is_relative_to(EXTERNAL_ROOT)
        info = json.loads((project.state_dir / "pg" / "cluster.json").read_text())
        assert Path(info["data_root"]) == status.data_dir.parent
        owner = json.loads((status.data_dir.parent / "owner.json").read_text())
        assert owner == {"state_dir": str(project.state_dir)}

        cluster.stop()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
            # The connections just closed leave the port in TIME_WAIT; a listener is what
            # makes it taken, as PostgreSQL (which sets SO_REUSEADDR too) would see it.
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            squatter.bind(("127.0.0.1", status.port or 0))
            squatter.listen()
            moved = cluster.start()
        assert moved.running and moved.port != status.port
        assert any(f"Port {status.port}" in note and "taken" in note for note in moved.notes)
        assert server_for(project).port == moved.port
        with cluster.server().connect() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        cluster.destroy()
    assert not status.data_dir.parent.exists()
    assert not (project.state_dir / "pg").exists()
