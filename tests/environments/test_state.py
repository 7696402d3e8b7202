"""Environment state files and the operation journal, with real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from odooplane.environments.state import (
    EnvState,
    StateStore,
    interrupted_operation,
    process_alive,
)
from odooplane.errors import ConfigError


def test_roundtrip_and_names(tmp_path: Path) -> None:
    store = StateStore(tmp_path / ".odooplane")
    assert store.load("production") is None
    assert store.names() == []
    state = EnvState(name="production", kind="production", database="p_production")
    state.http_port = 8100
    store.save(state)
    loaded = store.load("production")
    assert loaded is not None
    assert loaded.http_port == 8100
    assert loaded.database == "p_production"
    assert store.names() == ["production"]
    raw = json.loads(store.path("production").read_text())
    assert raw["version"] == 1
    store.delete("production")
    assert store.names() == []


def test_history_is_bounded(tmp_path: Path) -> None:
    state = EnvState(name="s", kind="staging", database="d")
    for i in range(30):
        state.add_history({"id": i})
    assert len(state.history) == 20
    assert state.history[0] == {"id": 29}
    assert state.last_deployment == {"id": 29}


def test_corrupt_state_is_a_sentence(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.path("x").parent.mkdir(parents=True)
    store.path("x").write_text("{not json")
    with pytest.raises(ConfigError, match="is not valid JSON"):
        store.load("x")


def test_operation_of_this_process_is_not_interrupted(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    state = EnvState(name="e", kind="development", database="d")
    store.begin(state, "deploy", "odooplane env deploy e main", target_build="abc")
    store.phase(state, "updating", snapshot="snap1")
    reloaded = store.load("e")
    assert reloaded is not None and reloaded.operation is not None
    assert reloaded.operation.phase == "updating"
    assert reloaded.operation.snapshot == "snap1"
    assert [p["phase"] for p in reloaded.operation.phases] == ["updating"]
    assert interrupted_operation(reloaded) is None
    store.end(state)
    assert store.load("e").operation is None  # type: ignore[union-attr]


def test_operation_of_a_killed_process_is_interrupted(tmp_path: Path) -> None:
    """A separate process begins an operation and dies by SIGKILL mid-way."""
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from odooplane.environments.state import EnvState, StateStore\n"
        "store = StateStore(Path(sys.argv[1]))\n"
        "st = EnvState(name='e', kind='production', database='d')\n"
        "store.begin(st, 'deploy', 'odooplane env deploy e main')\n"
        "store.phase(st, 'updating')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=False)
    assert proc.returncode == -9
    state = StateStore(tmp_path).load("e")
    assert state is not None
    op = interrupted_operation(state)
    assert op is not None
    assert op.phase == "updating"
    assert not process_alive(op.pid, op.pid_started)


def test_process_alive_checks_start_time() -> None:
    import os

    import psutil

    me = psutil.Process(os.getpid())
    assert process_alive(me.pid, me.create_time())
    # Same pid, another start time: a recycled pid is not our process.
    assert not process_alive(me.pid, me.create_time() - 1000)
    assert not process_alive(None, None)
