"""Environments served in the foreground: recorded, refused twice, ended, stopped from
another command (same process or by SIGTERM), and a killed session seen as gone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from conftest import run_git, write_addon
from odooplane.config import load_config
from odooplane.environments import sessions
from odooplane.environments.prepare import PreparedEnvironment
from odooplane.environments.state import Serving, StateStore
from odooplane.errors import RefusedError
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.source import inspect_source
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project


@pytest.fixture
def prepared(
    tmp_path: Path, make_fake_odoo: Callable[..., Path], pg_server: DatabaseServer
) -> Iterator[PreparedEnvironment]:
    source = inspect_source(make_fake_odoo())
    root = tmp_path / "project"
    write_addon(root / "addons", "acme")
    (root / "odooplane.yaml").write_text(
        "project: acme\n"
        "odoo:\n"
        "  series: '17.0'\n"
        f"  source: '{source.path}'\n"
        "environments:\n"
        "  development:\n"
        "    kind: development\n"
        "    data: demo\n"
    )
    run_git(root, "init", "-q", "-b", "main")
    run_git(root, "add", "-A")
    run_git(root, "commit", "-q", "-m", "start")
    project = Project(root=root, config=load_config(root / "odooplane.yaml"))
    yield PreparedEnvironment(
        project=project,
        environment="development",
        kind="development",
        database="acme_development",
        code=project,
        source=source,
        runtime=Runtime(path=tmp_path / "rt", python=tmp_path / "rt/python", deps_hash="abc"),
        server=pg_server,
        modules=["base", "web", "acme"],
        demo=True,
        created_database=True,
    )


def begin(prepared: PreparedEnvironment, stop: Callable[[], None] = lambda: None) -> list[str]:
    return sessions.begin(
        prepared,
        url="http://127.0.0.1:8069",
        http_port=8069,
        generation=1,
        log="/tmp/dev.log",
        livereload_url=None,
        stop=stop,
    )


def test_recorded_served_updated_ended(prepared: PreparedEnvironment) -> None:
    project = prepared.project
    state = sessions.record_environment(prepared)
    assert state.status == "stopped" and state.build is None
    info = state.build_info or {}
    assert info["branch"] == "main" and len(info["sha"]) == 40
    assert info["working_tree"] == str(project.root) and info["deps_hash"] == "abc"

    assert begin(prepared) == []
    store = StateStore(project.state_dir)
    loaded = store.load("development")
    assert loaded is not None and loaded.status == "running"
    assert loaded.serving is not None and loaded.serving.pid == os.getpid()
    assert sessions.live_session(loaded) is not None

    sessions.update(project, "development", 4)
    loaded = store.load("development")
    assert loaded is not None and loaded.serving is not None and loaded.serving.generation == 4

    sessions.end(project, "development")
    loaded = store.load("development")
    assert loaded is not None and loaded.serving is None and loaded.status == "stopped"
    # Recording again keeps what is there (created once).
    assert len(sessions.record_environment(prepared).history) == 1


def _record_other(project: Project, pid: int) -> None:
    store = StateStore(project.state_dir)
    state = store.load("development")
    assert state is not None
    state.serving = Serving(
        pid=pid,
        pid_started=psutil.Process(pid).create_time(),
        command="odooplane dev",
        url="http://127.0.0.1:9999",
        http_port=9999,
        generation=2,
        started_at="2024-01-01T00:00:00+00:00",
        log="/tmp/other.log",
    )
    state.status = "running"
    store.save(state)


def test_a_second_session_is_refused_and_a_killed_one_is_gone(
    prepared: PreparedEnvironment,
) -> None:
    sessions.record_environment(prepared)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _record_other(prepared.project, other.pid)
        with pytest.raises(RefusedError, match=r"already served by `odooplane dev` \(pid"):
            begin(prepared)
        other.kill()
        other.wait(10)
        state = StateStore(prepared.project.state_dir).load("development")
        assert state is not None and sessions.live_session(state) is None
        begin(prepared)  # the dead session no longer holds the environment
    finally:
        if other.poll() is None:
            other.kill()
        sessions.end(prepared.project, "development")


def test_stop_session_in_this_process_and_in_another(prepared: PreparedEnvironment) -> None:
    project = prepared.project
    sessions.record_environment(prepared)
    stopped: list[bool] = []
    begin(prepared, stop=lambda: stopped.append(True))
    store = StateStore(project.state_dir)
    state = store.load("development")
    assert state is not None
    assert "stopped the odooplane dev session" in (sessions.stop_session(project, state) or "")
    assert stopped == [True]

    # Another process, as `odooplane dev` in a terminal: SIGTERM, like Ctrl-C.
    other = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, sys, time\n"
            "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
            "time.sleep(60)\n",
        ]
    )
    try:
        time.sleep(0.5)  # its handler is installed
        _record_other(project, other.pid)
        state = store.load("development")
        assert state is not None
        note = sessions.stop_session(project, state, timeout=20)
        assert note is not None and str(other.pid) in note
        assert other.wait(5) == 0
        assert sessions.stop_session(project, state) is None  # nothing serves it now
    finally:
        if other.poll() is None:
            other.kill()
