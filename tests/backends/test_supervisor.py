"""The supervisor backend with a real supervisord and a real HTTP server program."""

from __future__ import annotations

import os
import signal
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from odooplane.backends.supervisor import ProgramSpec, SupervisorBackend, tail
from odooplane.ports import is_port_free

SERVER = """
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (os.environ.get("GREETING", "") + " " + str(os.getpid())).encode()
        self.send_response(200); self.end_headers(); self.wfile.write(body)
print("serving on", sys.argv[1], "secret is", repr(os.environ.get("SECRET")), flush=True)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def _free_port() -> int:
    for port in range(31000, 60000, 7):
        if is_port_free(port):
            return port
    raise RuntimeError("no free port")


def _get(port: int, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                return resp.read().decode()
        except OSError as exc:
            last = exc
            time.sleep(0.2)
    raise AssertionError(f"nothing answered on {port}: {last}")


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[SupervisorBackend]:
    state = tmp_path / "proj" / ".odooplane"
    state.mkdir(parents=True)
    sup = SupervisorBackend(state)
    yield sup
    sup.shutdown()


def _spec(tmp_path: Path, name: str, port: int, greeting: str) -> ProgramSpec:
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    return ProgramSpec(
        name=name,
        argv=[sys.executable, str(script), str(port)],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "GREETING": greeting, "SECRET": "it's 100% $HOME"},
        log_file=tmp_path / "logs" / f"{name}.log",
        start_seconds=1,
        stop_wait_seconds=5,
    )


def test_program_lifecycle_and_crash_restart(backend: SupervisorBackend, tmp_path: Path) -> None:
    port = _free_port()
    assert not backend.is_running()
    assert backend.status("web").state == "ABSENT"
    assert backend.log_location("web") is None
    backend.define(_spec(tmp_path, "web", port, "hello"))
    assert backend.is_running()
    assert backend.log_location("web") == tmp_path / "logs" / "web.log"
    assert backend.status("web").state == "STOPPED"
    backend.start("web")
    body = _get(port)
    assert body.startswith("hello ")
    first_pid = int(body.split()[1])
    status = backend.status("web")
    assert status.pid == first_pid

    # The environment survives a crash: supervisord starts it again.
    os.kill(first_pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    second_pid = first_pid
    while time.monotonic() < deadline and second_pid == first_pid:
        time.sleep(0.3)
        try:
            second_pid = int(_get(port, timeout=2).split()[1])
        except AssertionError:
            continue
    assert second_pid != first_pid

    # Secrets and odd characters reach the process intact, through the launcher only.
    log = tail(tmp_path / "logs" / "web.log")
    assert 'secret is "it\'s 100% $HOME"' in log
    assert "100%" not in backend.program_conf_path("web").read_text()
    assert oct(backend.launcher_path("web").stat().st_mode & 0o777) == "0o700"

    backend.stop("web")
    assert backend.status("web").state == "STOPPED"
    assert is_port_free(port)
    backend.stop("web")  # idempotent


def test_redefine_and_remove_touch_only_one_program(
    backend: SupervisorBackend, tmp_path: Path
) -> None:
    p1, p2 = _free_port(), None
    backend.define(_spec(tmp_path, "one", p1, "one"))
    p2 = next(p for p in range(p1 + 1, p1 + 200) if is_port_free(p))
    backend.define(_spec(tmp_path, "two", p2, "two"))
    backend.start("one")
    backend.start("two")
    assert _get(p1).startswith("one")
    two_pid = int(_get(p2).split()[1])

    # Changing program one's definition restarts nothing else.
    backend.define(_spec(tmp_path, "one", p1, "uno"))
    backend.start("one")
    assert _get(p1).startswith("uno")
    assert int(_get(p2).split()[1]) == two_pid

    backend.remove("one")
    assert backend.status("one").state == "ABSENT"
    assert backend.programs() == ["two"]
    assert int(_get(p2).split()[1]) == two_pid


def test_status_is_truthful_when_supervisord_died(
    backend: SupervisorBackend, tmp_path: Path
) -> None:
    port = _free_port()
    backend.define(_spec(tmp_path, "web", port, "hi"))
    backend.start("web")
    _get(port)
    pid = backend.daemon_pid()
    assert pid
    child = backend.status("web").pid
    assert child
    os.kill(pid, signal.SIGKILL)
    os.kill(child, signal.SIGKILL)
    time.sleep(0.5)
    assert backend.status("web").state == "NOT_RUNNING"
    # Starting again brings supervisord back on demand.
    backend.start("web")
    assert _get(port).startswith("hi")


def test_long_state_paths_use_a_short_socket(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60) / ".odooplane"
    deep.mkdir(parents=True)
    sup = SupervisorBackend(deep)
    assert len(str(sup.socket_path)) <= 100
    try:
        sup.ensure_running()
        assert sup.is_running()
    finally:
        sup.shutdown()
    assert not sup.is_running()
