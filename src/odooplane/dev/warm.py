"""The session side of the warm pre-forked Odoo (:mod:`odooplane.dev.warm_server`).

Strategies measured on Odoo 17 before choosing this one (docs/dev.md has the numbers):
a standby ``odoo-bin`` started ahead pays the 0.8-1 s of imports on every change and
doubles the memory; SO_REUSEPORT between two processes loses the connections queued on
the socket of the process that stops. Here one listening socket, created by the session,
is inherited by the warm parent and every child it forks: a child loads the registry
first and only then accepts, the old child stops accepting afterwards, and the kernel
keeps connections in the shared backlog in between, so none is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odooplane.errors import CheckFailedError
from odooplane.odoo import in_runtime

SERVER_SCRIPT = Path(__file__).with_name("warm_server.py")
# What of Odoo's Python API the server calls, per series; loaded by path in the runtime.
IN_RUNTIME = Path(in_runtime.__file__)

# Receives each line Odoo prints (stdout and stderr, already decoded).
OutputCallback = Callable[[str], None]


def listening_socket(port: int, host: str = "127.0.0.1") -> socket.socket:
    """The one socket every generation of Odoo accepts on, inheritable by children."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


@dataclass
class ReloadResult:
    """How a generation switch went."""

    ok: bool
    gen: int
    seconds: float
    child_seconds: float = 0.0
    error: str = ""
    file: str | None = None
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "gen": self.gen,
            "seconds": round(self.seconds, 3),
            "child_seconds": self.child_seconds,
            "error": self.error,
            "file": self.file,
            "line": self.line,
        }


@dataclass
class WarmOdoo:
    """One warm parent and its generations of children serving ``sock``."""

    python: Path
    odoo_path: Path
    odoo_args: list[str]
    database: str
    sock: socket.socket
    env: Mapping[str, str]
    log_path: Path
    preload: Sequence[str] = ()
    on_output: OutputCallback | None = None
    cwd: Path | None = None
    popen: subprocess.Popen[bytes] | None = None
    gen: int = 0  # the generation serving now (0: none yet)
    started_seconds: float = 0.0
    _events: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)
    _threads: list[threading.Thread] = field(default_factory=list)
    _reply_r: int = -1
    # The last generation number handed out. Never reused: a failed child still sends
    # "exited" after "failed", which must not be taken for the answer of the next spawn.
    _spawned: int = 0

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self, *, install: Sequence[str] = (), timeout: float = 300.0) -> ReloadResult:
        """Start the parent, then serve the first generation (installing ``install``)."""
        began = time.monotonic()
        reply_r, reply_w = os.pipe()
        os.set_inheritable(reply_w, True)
        self._reply_r = reply_r
        argv = [
            str(self.python),
            str(SERVER_SCRIPT),
            "--reply-fd",
            str(reply_w),
            "--socket-fd",
            str(self.sock.fileno()),
            "--database",
            self.database,
            "--odoo-path",
            str(self.odoo_path),
            "--in-runtime",
            str(IN_RUNTIME),
            "--preload",
            ",".join(self.preload),
            "--",
            *self.odoo_args,
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n$ {' '.join(argv)}\n".encode())
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dict(self.env),
            cwd=self.cwd,
            pass_fds=(reply_w, self.sock.fileno()),
            # Its own process group: Ctrl-C in the terminal reaches the session only, which
            # then stops the whole group, children included.
            start_new_session=True,
        )
        os.close(reply_w)
        for target in (self._read_replies, self._read_output):
            thread = threading.Thread(target=target, daemon=True, name=f"warm-{target.__name__}")
            thread.start()
            self._threads.append(thread)
        event = self._wait(lambda e: e.get("event") == "started", timeout, "to import Odoo")
        self.started_seconds = float(event.get("seconds", 0.0))
        result = self.reload(install=install, timeout=timeout)
        result.seconds = time.monotonic() - began
        if not result.ok:
            self.stop()
            where = f" ({result.file}:{result.line})" if result.file else ""
            raise CheckFailedError(
                f"Odoo could not load the database {self.database}{where}.",
                hint=f"{result.error.strip()}\n\nFull log: {self.log_path}",
            )
        return result

    def reload(
        self,
        *,
        check: Sequence[Path] = (),
        update: Iterable[str] = (),
        install: Iterable[str] = (),
        timeout: float = 300.0,
    ) -> ReloadResult:
        """Fork the next generation; once it serves, retire the current one. On a syntax
        or load error the current generation keeps serving and the result says why."""
        began = time.monotonic()
        self._spawned = gen = max(self._spawned, self.gen) + 1
        self._send(
            {
                "cmd": "spawn",
                "gen": gen,
                "check": [str(p) for p in check],
                "update": sorted(update),
                "init": sorted(install),
            }
        )
        event = self._wait(
            lambda e: (
                e.get("gen") == gen and e.get("event") in ("ready", "failed", "syntax", "exited")
            ),
            timeout,
            f"to load generation {gen}",
        )
        kind = event["event"]
        elapsed = time.monotonic() - began
        if kind == "ready":
            old = self.gen
            self.gen = gen
            if old:
                self._send({"cmd": "stop", "gen": old})
            return ReloadResult(True, gen, elapsed, float(event.get("seconds", 0.0)))
        if kind == "syntax":
            return ReloadResult(
                False,
                gen,
                elapsed,
                error=str(event.get("message", "")),
                file=event.get("file"),
                line=event.get("line"),
            )
        error = str(event.get("error") or f"generation {gen} exited with code {event.get('code')}")
        file, line = _last_frame(error)
        return ReloadResult(False, gen, elapsed, error=error, file=file, line=line)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the parent and every child (the whole process group)."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            with contextlib.suppress(OSError, BrokenPipeError):
                self._send({"cmd": "exit"})
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                _killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        # A child that ignored its parent's SIGTERM would still hold the socket.
        _killpg(self.popen.pid, signal.SIGKILL)
        if self.popen.stdin:
            with contextlib.suppress(OSError):
                self.popen.stdin.close()
        for thread in self._threads:
            thread.join(2)

    # -- plumbing ------------------------------------------------------------------------

    def _send(self, command: dict[str, Any]) -> None:
        assert self.popen is not None and self.popen.stdin is not None
        self.popen.stdin.write((json.dumps(command) + "\n").encode())
        self.popen.stdin.flush()

    def _wait(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float, what: str
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CheckFailedError(
                    f"Odoo took more than {timeout:.0f} s {what}.",
                    hint=f"See {self.log_path}.",
                )
            try:
                event = self._events.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                if not self.alive() and self._events.empty():
                    code = self.popen.returncode if self.popen else None
                    raise CheckFailedError(
                        f"The warm Odoo process exited (code {code}) while waiting {what}.",
                        hint=f"See {self.log_path}.",
                    ) from None
                continue
            if predicate(event):
                return event

    def _read_replies(self) -> None:
        with os.fdopen(self._reply_r, "rb") as replies:
            for raw in replies:
                with contextlib.suppress(ValueError):
                    self._events.put(json.loads(raw))

    def _read_output(self) -> None:
        assert self.popen is not None and self.popen.stdout is not None
        with self.log_path.open("ab") as log:
            for raw in self.popen.stdout:
                log.write(raw)
                log.flush()
                if self.on_output:
                    self.on_output(raw.decode("utf-8", errors="replace").rstrip("\n"))


def _killpg(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


_PARSING = re.compile(r"while parsing (\S+?):(\d+)")


def _last_frame(error: str) -> tuple[str | None, int | None]:
    """Where the error is: the data file and line Odoo names ("while parsing x.xml:3")
    when it failed loading one, otherwise the innermost ``File "x", line n``."""
    parsing = _PARSING.search(error_summary(error))
    if parsing:
        return parsing.group(1), int(parsing.group(2))
    file: str | None = None
    line: int | None = None
    for text in error.splitlines():
        text = text.strip()
        if text.startswith('File "') and ", line " in text:
            with contextlib.suppress(ValueError, IndexError):
                file = text.split('"', 2)[1]
                line = int(text.split(", line ", 1)[1].split(",", 1)[0])
    return file, line


def error_summary(error: str) -> str:
    """The exception line of a traceback text (``KeyError: 'x'``), not the last line:
    Odoo's ParseError goes on with the XML of the record that failed."""
    lines = error.strip().splitlines()
    starts = [i for i, text in enumerate(lines) if text.startswith("Traceback (")]
    for text in lines[starts[-1] + 1 :] if starts else []:
        if text.strip() and not text[0].isspace():
            return text.strip()
    return lines[-1].strip() if lines else ""
