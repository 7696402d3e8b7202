"""Running one-shot Odoo commands (install, update, scripts) from a lifecycle command.

The child is bound to its parent with ``PR_SET_PDEATHSIG`` (Linux): if odooplane is
killed, even by SIGKILL, the Odoo updating the database dies with it instead of
writing on while the next command restores a snapshot underneath it. Its pid and
start time are handed to ``on_spawn`` so the operation journal can name it too.
Output goes to a log file and, line by line, to an optional sink (the evidence step).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil  # type: ignore[import-untyped, unused-ignore]

from odooplane.errors import ExternalToolError

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return
    libc = ctypes.CDLL(libc_name, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@dataclass(frozen=True)
class RunResult:
    code: int
    output: str
    timed_out: bool

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


def run_logged(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    timeout: float | None = None,
    on_spawn: Callable[[int, float], None] | None = None,
    sink: Callable[[str], None] | None = None,
    stdin_text: str | None = None,
    keep_output: int = 2_000_000,
) -> RunResult:
    """Run ``argv`` to completion; its combined output is logged and returned."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            preexec_fn=_die_with_parent,
        )
    except OSError as exc:
        raise ExternalToolError(f"Cannot run {argv[0]}: {exc.strerror}.") from None
    if on_spawn is not None:
        try:
            on_spawn(proc.pid, psutil.Process(proc.pid).create_time())
        except psutil.Error:
            on_spawn(proc.pid, 0.0)
    if stdin_text is not None:
        assert proc.stdin is not None
        proc.stdin.write(stdin_text)
        proc.stdin.close()
    timed_out = threading.Event()
    timer: threading.Timer | None = None
    if timeout is not None:

        def _kill() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(timeout, _kill)
        timer.daemon = True
        timer.start()
    chunks: list[str] = []
    size = 0
    try:
        with log_path.open("a", encoding="utf-8") as log:
            log.write(f"$ {' '.join(str(a) for a in argv)}\n")
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                log.flush()
                if sink is not None:
                    sink(line)
                chunks.append(line)
                size += len(line)
                while size > keep_output and len(chunks) > 1:
                    size -= len(chunks.pop(0))
            code = proc.wait()
            log.write(f"[exit {code}]\n")
    finally:
        if timer is not None:
            timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return RunResult(code=code, output="".join(chunks), timed_out=timed_out.is_set())
