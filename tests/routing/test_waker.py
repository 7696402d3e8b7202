"""The wake handler on its own (no Caddy): an environment's wake command runs once while
requests get the starting page, a failure is shown with its log and retried after a
pause, and the handler serves HTTP on its unix socket."""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from odooplane.routing import waker as waker_mod
from odooplane.routing.caddy import ENV_HEADER
from odooplane.routing.table import Route, RouteMode, Upstream, save_table
from odooplane.routing.waker import Waker

from .conftest import Upstream as Server
from .conftest import free_port


def _routes(state: Path, **routes: Route) -> None:
    save_table(state / "routing" / "routes.json", dict(routes))


def _wait_for(check: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_unknown_and_unwakeable_environments(tmp_path: Path) -> None:
    state = tmp_path / ".odooplane"
    _routes(state, dev=Route(env="dev", listen_port=free_port(), upstream=Upstream(free_port())))
    waker = Waker(state)
    status, page, retry = waker.answer("nobody")
    assert (status, retry) == (404, 0) and "No environment at this address" in page
    status, page, retry = waker.answer("dev")
    assert (status, retry) == (503, 5) and "dev is not answering right now" in page


def test_the_wake_command_runs_once_then_failure_is_shown(tmp_path: Path) -> None:
    state = tmp_path / ".odooplane"
    runs = tmp_path / "runs"
    script = tmp_path / "wake.sh"
    script.write_text(f"#!/bin/sh\necho run >> {runs}\nsleep 1\necho 'no space left' >&2\nexit 4\n")
    script.chmod(0o755)
    _routes(
        state,
        **{"pr-7": Route(env="pr-7", mode=RouteMode.waking, wake_command=(str(script), "pr-7"))},
    )
    waker = Waker(state)
    status, page, retry = waker.answer("pr-7")
    assert (status, retry) == (503, 1) and "Starting pr-7" in page
    # Requests while it runs get the starting page; the command is not run again.
    status, page, _ = waker.answer("pr-7")
    assert status == 503 and "Starting pr-7" in page
    _wait_for(lambda: "could not start" in waker.answer("pr-7")[1])
    status, page, retry = waker.answer("pr-7")
    assert status == 503 and 1 <= retry <= waker_mod.RETRY_AFTER_FAILURE + 1
    assert "The wake command exited with status 4." in page
    assert "no space left" in page and "waking pr-7" in page  # the log's tail
    assert runs.read_text() == "run\n"  # once, and not again within the pause
    assert waker.log_path("pr-7") == state / "routing" / "wake" / "pr-7.log"


def test_a_command_that_cannot_run_is_a_failure_not_a_crash(tmp_path: Path) -> None:
    state = tmp_path / ".odooplane"
    _routes(state, dev=Route(env="dev", wake_command=(str(tmp_path / "missing"),)))
    waker = Waker(state)
    assert "Starting dev" in waker.answer("dev")[1]
    status, page, _ = waker.answer("dev")
    assert status == 503 and "The wake command could not run" in page


def test_a_route_that_serves_again_gets_the_starting_page_without_a_wake(
    tmp_path: Path,
) -> None:
    state = tmp_path / ".odooplane"
    odoo = Server("odoo")
    try:
        marker = tmp_path / "woken"
        _routes(
            state,
            dev=Route(env="dev", upstream=Upstream(odoo.port), wake_command=("touch", str(marker))),
        )
        status, page, retry = Waker(state).answer("dev")
        assert (status, retry) == (503, 1) and "Starting dev" in page
        time.sleep(0.3)
        assert not marker.exists()
    finally:
        odoo.close()


def test_odooplane_commands_are_forked_not_spawned() -> None:
    assert waker_mod._odooplane_args([sys.executable, "-m", "odooplane", "preview", "wake"]) == [
        "preview",
        "wake",
    ]
    assert waker_mod._odooplane_args(["odooplane", "preview", "wake"]) is None
    assert waker_mod._odooplane_args(["/other/python", "-m", "odooplane"]) is None


def test_the_handler_answers_http_on_its_socket(tmp_path: Path) -> None:
    state = tmp_path / ".odooplane"
    _routes(state, dev=Route(env="dev"))
    sock = tmp_path / "w.sock"
    proc = subprocess.Popen(
        [sys.executable, "-m", "odooplane.routing.waker", "--state-dir", str(state),
         "--socket", str(sock)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait_for(sock.exists)
        assert oct(sock.stat().st_mode & 0o777) == "0o600"

        def get(env: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
            conn = http.client.HTTPConnection("localhost", timeout=10)
            conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.sock.connect(str(sock))
            conn.request(method, "/web", headers={ENV_HEADER: env})
            response = conn.getresponse()
            data = response.read()
            conn.close()
            return response.status, dict(response.getheaders()), data

        status, headers, body = get("dev")
        assert status == 503 and headers["Retry-After"] == "5"
        assert headers["Cache-Control"] == "no-store"
        assert b"dev is not answering" in body
        status, headers, body = get("dev", "HEAD")
        assert status == 503 and body == b"" and int(headers["Content-Length"]) > 0
        assert get("other")[0] == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0
    assert not sock.exists()
    assert b"odooplane wake handler on" in out
