"""The keeper recovers an environment whose command died, without waiting for a lock."""

from __future__ import annotations

import subprocess
import sys

from odooplane.environments import keeper
from odooplane.environments.locks import environment_lock
from odooplane.environments.state import StateStore
from odooplane.project import Project

DIES_MID_WAY = (
    "import os, signal, sys\n"
    "from pathlib import Path\n"
    "from odooplane.environments.state import EnvState, StateStore\n"
    "store = StateStore(Path(sys.argv[1]))\n"
    "st = EnvState(name='staging', kind='staging', database='d', desired='stopped',\n"
    "              status='stopping')\n"
    "store.begin(st, 'stop', 'odooplane env stop staging')\n"
    "store.phase(st, 'stopping')\n"
    "os.kill(os.getpid(), signal.SIGKILL)\n"
)


def _died_mid_way(project: Project) -> None:
    done = subprocess.run(
        [sys.executable, "-c", DIES_MID_WAY, str(project.state_dir)], check=False
    )
    assert done.returncode == -9


def test_a_dead_command_is_recovered_on_the_next_look(project: Project) -> None:
    _died_mid_way(project)
    store = StateStore(project.state_dir)
    assert store.load("staging").operation is not None  # type: ignore[union-attr]
    found = keeper.look_once(project)
    assert found.recovered == ["staging"] and found.failed == {}
    state = store.load("staging")
    assert state is not None and state.operation is None
    assert state.history[0]["status"] == "interrupted"
    assert state.history[0]["action"] == "stop"
    # Nothing left to do: a second look changes nothing.
    assert keeper.look_once(project).recovered == []


def test_a_locked_environment_is_left_to_its_holder(project: Project) -> None:
    _died_mid_way(project)
    with environment_lock(project.state_dir, "staging", command="another command", timeout=5):
        assert keeper.look_once(project).recovered == []
    assert StateStore(project.state_dir).load("staging").operation is not None  # type: ignore[union-attr]
    assert keeper.look_once(project).recovered == ["staging"]
