"""The warm Odoo parent of ``odooplane dev``, run by the *runtime's* Python (not odooplane's).

It imports Odoo, its heavy libraries and the Python of the Odoo-source addons installed in
the database once, then forks one child per generation of the project's code. A child
loads the registry (importing the project's addons fresh, since the parent never imports
them) and only then serves HTTP on the listening socket the parent inherited from the
dev session: every child accepts on that one socket, so while one generation replaces
another, connections wait in its backlog instead of being refused.

This file must import nothing from odooplane: the runtime has Odoo's requirements, not
odooplane's. It is run by path.

Protocol: JSON lines on stdin (commands) and on the file descriptor named by
``--reply-fd`` (events)::

    {"cmd": "spawn", "gen": 2, "check": ["/x/models.py"], "update": [], "init": []}
    {"cmd": "stop", "gen": 1}
    {"cmd": "exit"}

    {"event": "started", "pid": 123, "seconds": 0.9}           # parent imported Odoo
    {"event": "syntax", "gen": 2, "file": "...", "line": 3, "message": "..."}
    {"event": "ready", "gen": 2, "pid": 124, "seconds": 0.31}
    {"event": "failed", "gen": 2, "error": "...traceback..."}
    {"event": "exited", "gen": 1, "code": 0}
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import os
import select
import signal
import sys
import threading
import time
import traceback
from typing import Any

LISTEN_FD = 3  # systemd socket activation, which Odoo's threaded server understands


def _reply(fd: int, **event: Any) -> None:
    data = (json.dumps(event) + "\n").encode()
    # Under PIPE_BUF, a write to a pipe is atomic: parent and children share this pipe.
    os.write(fd, data)


def _compile_errors(paths: list[str]) -> dict[str, Any] | None:
    for path in paths:
        try:
            with open(path, "rb") as fh:
                source = fh.read()
            compile(source, path, "exec", dont_inherit=True)
        except SyntaxError as exc:
            return {
                "file": exc.filename or path,
                "line": exc.lineno or 0,
                "message": f"{type(exc).__name__}: {exc.msg}",
            }
        except OSError:
            # A file deleted since the change was seen is not a syntax error.
            continue
    return None


def _quiet_on_signal() -> None:
    """On SIGUSR2 this child stops accepting at once: its copy of the listening socket is
    replaced by a socket that never becomes readable. Connections stay in the shared
    backlog for the next generation; requests in progress finish."""
    quiet, _other = __import__("socket").socketpair()

    def handler(signum: int, frame: Any) -> None:
        server = getattr(sys.modules["odoo.service.server"], "server", None)
        httpd = getattr(server, "httpd", None)
        if httpd is not None:
            os.dup2(quiet.fileno(), httpd.socket.fileno())

    signal.signal(signal.SIGUSR2, handler)
    # Keep both ends alive for the life of the process.
    _quiet_on_signal.keep = (quiet, _other)  # type: ignore[attr-defined]


def _serve_child(
    inside: Any,
    gen: int,
    reply_fd: int,
    db: str,
    update: list[str],
    init: list[str],
    previous: list[int],
) -> None:
    """Runs in the forked child; never returns."""
    started = time.monotonic()
    code = 0
    try:
        odoo: Any = inside.import_odoo()
        server_mod: Any = sys.modules["odoo.service.server"]
        # The registry is loaded before the socket is served: a request never waits on a
        # half-loaded generation, and a failing one never accepts a connection.
        registry = inside.load_registry(db, update=update, install=init)
        # The routing map is built on the first request otherwise: build it now, while
        # the previous generation still serves.
        inside.warm_routing(registry)
        for pid in previous:
            _kill(pid, signal.SIGUSR2)
        os.environ["LISTEN_FDS"] = "1"
        os.environ["LISTEN_PID"] = str(os.getpid())
        server = server_mod.ThreadedServer(odoo.http.root)
        server_mod.server = server
        _quiet_on_signal()

        def announce() -> None:
            while server.httpd is None:
                time.sleep(0.005)
            _reply(
                reply_fd,
                event="ready",
                gen=gen,
                pid=os.getpid(),
                seconds=round(time.monotonic() - started, 3),
            )

        threading.Thread(target=announce, daemon=True).start()
        server.run(None, False)
    except BaseException:
        _reply(reply_fd, event="failed", gen=gen, error=traceback.format_exc()[-3000:])
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reply-fd", type=int, required=True)
    parser.add_argument("--socket-fd", type=int, required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--odoo-path", required=True, help="the Odoo source tree (holds odoo/)")
    parser.add_argument(
        "--in-runtime", required=True, help="odooplane/odoo/in_runtime.py: Odoo's API per series"
    )
    parser.add_argument(
        "--preload", default="", help="comma-separated Odoo-source addons to import"
    )
    parser.add_argument("odoo_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    started = time.monotonic()
    # Odoo takes its socket from fd 3 (systemd socket activation); the fds the session
    # passed may have any number, so move them out of the way first.
    reply_fd = _move_fd(args.reply_fd)
    sock_fd = _move_fd(args.socket_fd)
    os.dup2(sock_fd, LISTEN_FD)
    os.close(sock_fd)
    args.reply_fd = reply_fd
    # As odoo-bin does: the source tree first; never this script's folder (odooplane's
    # modules there must not shadow anything Odoo imports).
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path.insert(0, args.odoo_path)
    os.environ["TZ"] = "UTC"
    inside: Any = _load_in_runtime(args.in_runtime)
    inside.import_odoo()
    import csv

    odoo_args = [a for a in args.odoo_args if a != "--"]
    inside.config().parse_config(odoo_args)
    csv.field_size_limit(500 * 1024 * 1024)
    server_mod: Any = sys.modules["odoo.service.server"]
    server_mod.load_server_wide_modules()
    module_mod: Any = importlib.import_module("odoo.modules.module")
    for name in filter(None, args.preload.split(",")):
        try:
            module_mod.load_openerp_module(name)
        except Exception:
            # The child imports it again and reports the error where it matters.
            print(f"odooplane dev: could not pre-import {name}", file=sys.stderr)
    _reply(reply_fd, event="started", pid=os.getpid(), seconds=round(time.monotonic() - started, 3))

    children: dict[int, int] = {}  # pid -> generation
    stopping = False

    def on_term(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the session decides when to stop
    buffer = b""
    stdin_fd = sys.stdin.fileno()
    while not stopping:
        try:
            ready, _, _ = select.select([stdin_fd], [], [], 0.2)
        except InterruptedError:
            ready = []
        _reap(children, reply_fd)
        if not ready:
            continue
        chunk = os.read(stdin_fd, 65536)
        if not chunk:
            break  # the session is gone: stop everything
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if not line.strip():
                continue
            command = json.loads(line)
            kind = command.get("cmd")
            if kind == "exit":
                stopping = True
            elif kind == "stop":
                for pid, gen in list(children.items()):
                    if gen == command["gen"]:
                        _kill(pid, signal.SIGTERM)
            elif kind == "spawn":
                gen = int(command["gen"])
                error = _compile_errors(list(command.get("check", [])))
                if error:
                    _reply(reply_fd, event="syntax", gen=gen, **error)
                    continue
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    os.close(stdin_fd)
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                    signal.signal(signal.SIGINT, signal.SIG_DFL)
                    _serve_child(
                        inside,
                        gen,
                        reply_fd,
                        args.database,
                        list(command.get("update", [])),
                        list(command.get("init", [])),
                        list(children),
                    )
                children[pid] = gen
    for pid in list(children):
        _kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while children and time.monotonic() < deadline:
        _reap(children, reply_fd)
        time.sleep(0.05)
    for pid in list(children):
        _kill(pid, signal.SIGKILL)
    while children:
        _reap(children, reply_fd)
        time.sleep(0.02)
    return 0


def _load_in_runtime(path: str) -> Any:
    spec = importlib.util.spec_from_file_location("_odooplane_in_runtime", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _move_fd(fd: int, minimum: int = 10) -> int:
    import fcntl

    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, minimum)
    os.close(fd)
    return moved


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _reap(children: dict[int, int], reply_fd: int) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            children.clear()
            return
        if pid == 0:
            return
        gen = children.pop(pid, None)
        if gen is not None:
            _reply(reply_fd, event="exited", gen=gen, code=os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    sys.exit(main())
