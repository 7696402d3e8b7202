"""Running a program to completion: output streamed line by line, a timeout, a log.

The one subprocess runner of odooplane: one-shot Odoo commands of the lifecycle
(install, update, scripts: :func:`run_logged`) and the steps recorded into the
evidence store (:meth:`odooplane.evidence.recorder.OutputCapture.run`) both use
:func:`run_streaming`.

With ``die_with_parent`` the child is bound to its parent with ``PR_SET_PDEATHSIG``
(Linux): if odooplane is killed, even by SIGKILL, the Odoo updating the database dies
with it instead of writing on while the next command restores a snapshot underneath
it. (The signal follows the *thread* that started the child: use it from a thread that
outlives the child.) Its pid and start time are handed to ``on_spawn`` so the
operation journal can name it too.
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


class CannotStart(ExternalToolError):
    """The program could not be started at all (missing, not executable...)."""

    def __init__(self, program: str, strerror: str) -> None:
        super().__init__(f"Cannot run {program}: {strerror}.")
        self.program = program
        self.strerror = strerror


@dataclass(frozen=True)
class RunResult:
    code: int
    output: str
    timed_out: bool

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


def run_streaming(
    argv: Sequence[str | Path],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float | None = None,
    on_line: Callable[[str], None] | None = None,
    on_spawn: Callable[[int, float], None] | None = None,
    stdin_text: str | None = None,
    keep_output: int = 2_000_000,
    die_with_parent: bool = False,
) -> RunResult:
    """Run ``argv`` to completion, stdout and stderr merged, each line to ``on_line``.

    ``env`` None inherits this process's environment. The last ``keep_output``
    characters of output are returned (0 keeps none). A timeout kills the program and
    sets ``timed_out``. Raises :class:`CannotStart` when it cannot be started.
    """
    try:
        proc = subprocess.Popen(
            [str(a) for a in argv],
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            preexec_fn=_die_with_parent if die_with_parent else None,
        )
    except OSError as exc:
        raise CannotStart(str(argv[0]), exc.strerror or str(exc)) from None
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
        assert proc.stdout is not None
        for line in proc.stdout:
            if on_line is not None:
                on_line(line)
            if keep_output > 0:
                chunks.append(line)
                size += len(line)
                while size > keep_output and len(chunks) > 1:
                    size -= len(chunks.pop(0))
        code = proc.wait()
    finally:
        if timer is not None:
            timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return RunResult(code=code, output="".join(chunks), timed_out=timed_out.is_set())


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
    """Run a one-shot Odoo command bound to this process; its output is appended to
    ``log_path``, handed line by line to ``sink`` and returned."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as log:

        def spawned(pid: int, started: float) -> None:
            log.write(f"$ {' '.join(str(a) for a in argv)}\n")
            if on_spawn is not None:
                on_spawn(pid, started)

        def line(text: str) -> None:
            log.write(text)
            log.flush()
            if sink is not None:
                sink(text)

        result = run_streaming(
            argv,
            env=env,
            cwd=cwd,
            timeout=timeout,
            on_line=line,
            on_spawn=spawned,
            stdin_text=stdin_text,
            keep_output=keep_output,
            die_with_parent=True,
        )
        log.write(f"[exit {result.code}]\n")
    return result
