"""One-shot commands die with the odooplane process that runs them (real processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from odooplane.runner import run_logged

PARENT = """
import sys
from pathlib import Path
from odooplane.runner import run_logged
def spawned(pid, started):
    Path(sys.argv[1]).write_text(str(pid))
run_logged([sys.executable, "-c", "import time; print('child up', flush=True); time.sleep(120)"],
           env={"PATH": "/usr/bin:/bin"}, cwd=Path("."), log_path=Path(sys.argv[2]),
           on_spawn=spawned)
"""


def test_output_is_logged_and_returned(tmp_path: Path) -> None:
    seen: list[str] = []
    result = run_logged(
        [
            sys.executable,
            "-c",
            "import sys; print('one'); print('two', file=sys.stderr); sys.exit(3)",
        ],
        env={"PATH": os.environ["PATH"]},
        cwd=tmp_path,
        log_path=tmp_path / "x.log",
        sink=seen.append,
    )
    assert result.code == 3
    assert "one" in result.output and "two" in result.output
    assert "".join(seen) == result.output
    log = (tmp_path / "x.log").read_text()
    assert "one" in log and "[exit 3]" in log


def test_stdin_and_timeout(tmp_path: Path) -> None:
    result = run_logged(
        [sys.executable, "-c", "import sys; print(sys.stdin.read().upper())"],
        env={"PATH": os.environ["PATH"]},
        cwd=tmp_path,
        log_path=tmp_path / "a.log",
        stdin_text="hello",
    )
    assert "HELLO" in result.output
    slow = run_logged(
        [sys.executable, "-c", "import time; time.sleep(30)"],
        env={"PATH": os.environ["PATH"]},
        cwd=tmp_path,
        log_path=tmp_path / "b.log",
        timeout=1,
    )
    assert slow.timed_out and slow.code != 0


def test_child_dies_when_the_parent_is_sigkilled(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(pid_file), str(tmp_path / "p.log")], cwd=tmp_path
    )
    deadline = time.monotonic() + 30
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    child = int(pid_file.read_text())
    assert psutil.pid_exists(child)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if psutil.Process(child).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"child {child} outlived its SIGKILLed parent")
