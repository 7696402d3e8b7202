"""Detached operations: a worker in its own session, followed through its events."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from odooplane.environments import detach
from odooplane.environments.locks import environment_lock
from odooplane.environments.state import EnvState, StateStore
from odooplane.project import Project

FOLLOWER = (
    "import sys\n"
    "from odooplane.environments import detach\n"
    "from odooplane.project import load_project\n"
    "from pathlib import Path\n"
    "ticket = detach.start(load_project(Path(sys.argv[1])), 'start', 'production',\n"
    "                      lock_timeout=float(sys.argv[2]))\n"
    "print(ticket.pid, ticket.events, flush=True)\n"
    "detach.follow(ticket)\n"
)


def test_an_error_of_the_worker_comes_back_as_a_sentence(project: Project) -> None:
    ticket = detach.start(project, "start", "production")
    with pytest.raises(detach.OperationError) as failure:
        detach.follow(ticket)
    assert "has not been created yet" in failure.value.message
    assert failure.value.exit_code == 1
    assert ticket.log.is_file() and ticket.events.is_file()


def test_killing_the_follower_leaves_the_operation_running(project: Project) -> None:
    StateStore(project.state_dir).save(
        EnvState(name="production", kind="production", database="x", status="stopped")
    )
    with environment_lock(project.state_dir, "production", command="a deploy", timeout=5):
        follower = subprocess.Popen(
            [sys.executable, "-c", FOLLOWER, str(project.root), "6"],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=False,
        )
        assert follower.stdout is not None
        pid_text, events_path = follower.stdout.readline().split()
        worker = psutil.Process(int(pid_text))
        # The worker is a session of its own: no terminal signal reaches it.
        assert os.getsid(worker.pid) == worker.pid != os.getsid(follower.pid)
        follower.send_signal(signal.SIGKILL)
        follower.wait()
        time.sleep(1)
        assert worker.is_running() and worker.status() != psutil.STATUS_ZOMBIE
    # The worker goes on alone: it waits for the lock (held above), then does its work
    # and writes its outcome for whoever follows it next.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not Path(events_path).read_text().count('"error"'):
        time.sleep(0.2)
    text = Path(events_path).read_text()
    assert '"type": "error"' in text
    assert "busy" not in text, "the lock was released in time: the worker got it"
