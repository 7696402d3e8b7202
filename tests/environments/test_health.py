"""Health checks against real local HTTP servers."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from odooplane.environments.health import check_once, require_healthy, wait_healthy
from odooplane.errors import CheckFailedError


def _server(codes: dict[str, int]) -> tuple[http.server.HTTPServer, str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(codes.get(self.path.split("?")[0], 404))
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            return

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


@pytest.fixture
def healthy() -> Iterator[str]:
    server, url = _server({"/web/health": 200, "/web/login": 200})
    yield url
    server.shutdown()


def test_healthy(healthy: str) -> None:
    assert check_once(healthy).ok
    result = wait_healthy(healthy, timeout=5)
    assert result.ok and result.checks == {"/web/health": 200, "/web/login": 200}


def test_login_broken_is_unhealthy() -> None:
    server, url = _server({"/web/health": 200, "/web/login": 500})
    try:
        result = wait_healthy(url, timeout=1.5, interval=0.2)
        assert not result.ok
        assert result.checks["/web/login"] == 500
        assert "within 1.5 s" in result.reason
        with pytest.raises(CheckFailedError, match="/web/login: 500"):
            require_healthy(result, "the log")
    finally:
        server.shutdown()


def test_a_dead_process_ends_the_wait_at_once() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = wait_healthy(
        f"http://127.0.0.1:{port}", timeout=60, still_running=lambda: "the process EXITED"
    )
    assert not result.ok
    assert result.reason == "the process EXITED"
    assert result.seconds < 10
    assert "no answer" in str(result.checks["/web/health"])
