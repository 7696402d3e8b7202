"""The wake handler: Caddy hands it the requests of an environment that is not serving.

It runs under the project's supervisord (program ``_waker``) on a unix socket. For a
request of environment E (Caddy sets ``X-Odooplane-Environment``) it runs E's wake
command once (``odooplane preview wake ...`` for a preview stopped while idle), and
answers every request meanwhile with a page that shows E starting and reloads itself;
the wake command switches E's route back to its Odoo when it serves, so the next
reload lands there. A failed wake is shown with the end of its output and tried again
after a pause, never in a tight loop.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from odooplane.backends.supervisor import tail
from odooplane.routing import pages
from odooplane.routing.caddy import ENV_HEADER
from odooplane.routing.table import RouteMode, load_table

RETRY_AFTER_FAILURE = 30.0


class _Forked:
    """A wake command run in a fork of this (already imported) process: an odooplane
    command starts in milliseconds instead of the ~0.7 s its imports take."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def _odooplane_args(argv: list[str]) -> list[str] | None:
    """The arguments of an ``odooplane`` command run by this very interpreter."""
    if argv[:3] == [sys.executable, "-m", "odooplane"]:
        return argv[3:]
    return None


def _run_forked(args: list[str], log: Path, cwd: Path) -> _Forked:
    pid = os.fork()
    if pid:
        return _Forked(pid)
    # The child: its own session, output to the wake log, then the command itself.
    code = 3
    try:
        os.setsid()
        os.chdir(cwd)
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        from odooplane.cli import main

        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def preload() -> None:
    """Import what a forked odooplane command needs, once, before serving."""
    import odooplane.cli
    import odooplane.cli.preview_cmd
    import odooplane.previews.api  # noqa: F401


@dataclass
class _Wake:
    proc: subprocess.Popen[bytes] | _Forked | None = None
    started: float = 0.0
    failed_at: float = 0.0
    reason: str = ""


class Waker:
    """Runs each environment's wake command at most once at a time."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.dir = state_dir / "routing"
        self._lock = threading.Lock()
        self._wakes: dict[str, _Wake] = {}

    def log_path(self, env: str) -> Path:
        return self.dir / "wake" / f"{env}.log"

    def _reap(self, env: str, wake: _Wake) -> None:
        if wake.proc is None or wake.proc.poll() is None:
            return
        code = wake.proc.returncode
        if code != 0:
            wake.failed_at = time.monotonic()
            wake.reason = f"The wake command exited with status {code}."
        wake.proc = None

    def answer(self, env: str) -> tuple[int, str, int]:
        """(status, page, retry-after seconds) for a request of ``env``."""
        route = load_table(self.dir / "routes.json").get(env)
        if route is None:
            return 404, pages.unknown_host_page(), 0
        with self._lock:
            wake = self._wakes.setdefault(env, _Wake())
            for name, other in self._wakes.items():
                self._reap(name, other)
            now = time.monotonic()
            if wake.proc is not None:
                return 503, pages.starting_page(env, seconds=now - wake.started), 1
            if route.mode is RouteMode.serve and _answers(route.upstream):
                # The route switched back between Caddy's attempt and ours.
                return 503, pages.starting_page(env, seconds=0), 1
            if wake.failed_at and now - wake.failed_at < RETRY_AFTER_FAILURE:
                wait = int(RETRY_AFTER_FAILURE - (now - wake.failed_at)) + 1
                page = pages.failed_page(
                    env,
                    reason=wake.reason,
                    log_tail=tail(self.log_path(env), 20),
                    retry_seconds=wait,
                )
                return 503, page, wait
            if not route.wake_command:
                return 503, pages.unavailable_page(env), 5
            self._spawn(env, wake, list(route.wake_command))
            return 503, pages.starting_page(env, seconds=0), 1

    def _spawn(self, env: str, wake: _Wake, argv: list[str]) -> None:
        log = self.log_path(env)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            out.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} waking {env}\n".encode())
            out.flush()
            try:
                args = _odooplane_args(argv)
                if args is not None:
                    wake.proc = _run_forked(args, log, self.state_dir.parent)
                else:
                    wake.proc = subprocess.Popen(
                        argv,
                        cwd=self.state_dir.parent,
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
            except OSError as exc:
                wake.failed_at = time.monotonic()
                wake.reason = f"The wake command could not run: {exc}."
                return
        wake.started = time.monotonic()
        wake.failed_at = 0.0


def _answers(upstream: object) -> bool:
    port = getattr(upstream, "http_port", None)
    host = getattr(upstream, "host", "127.0.0.1")
    if not port:
        return False
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _handler(waker: Waker) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "odooplane-waker"

        def _respond(self, with_body: bool) -> None:
            env = self.headers.get(ENV_HEADER, "")
            status, page, retry = waker.answer(env)
            body = page.encode()
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Cache-Control", "no-store")
            if retry:
                self.send_header("Retry-After", str(retry))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body:
                self.wfile.write(body)

        def do_GET(self) -> None:
            self._respond(True)

        def do_HEAD(self) -> None:
            self._respond(False)

        do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

        def address_string(self) -> str:
            return "caddy"

        def log_message(self, format: str, *args: object) -> None:
            env = self.headers.get(ENV_HEADER, "-") if hasattr(self, "headers") else "-"
            print(f"{self.log_date_time_string()} {env} {format % args}", flush=True)

    return Handler


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def serve(state_dir: Path, socket_file: Path) -> None:
    socket_file.parent.mkdir(parents=True, exist_ok=True)
    socket_file.unlink(missing_ok=True)
    preload()
    server = _UnixServer(str(socket_file), _handler(Waker(state_dir)))
    os.chmod(socket_file, 0o600)

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    print(f"odooplane wake handler on {socket_file}", flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        socket_file.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="odooplane's wake handler (run by supervisord)")
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--socket", required=True, type=Path)
    args = parser.parse_args(argv)
    serve(args.state_dir, args.socket)


if __name__ == "__main__":
    main()
