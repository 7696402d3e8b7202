"""Real Caddy for the routing tests, skipped with the reason when it is not installed."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from odooplane.backends.supervisor import SupervisorBackend
from odooplane.ports import is_port_free
from odooplane.routing import Router, RouterSettings

_next_port = [42000]


def free_port() -> int:
    while _next_port[0] < 60000:
        _next_port[0] += 1
        if is_port_free(_next_port[0]) and is_port_free(_next_port[0], "127.0.0.1"):
            return _next_port[0]
    raise RuntimeError("no free port")


@pytest.fixture
def caddy_bin() -> str:
    found = shutil.which("caddy")
    if not found:
        pytest.skip("Caddy is not installed (apt-get install caddy)")
    return found


@pytest.fixture
def make_router(tmp_path: Path, caddy_bin: str) -> Iterator[Callable[..., Router]]:
    made: list[Router] = []

    def make(**overrides: object) -> Router:
        state = tmp_path / "project" / ".odooplane"
        state.mkdir(parents=True, exist_ok=True)
        values: dict[str, object] = {
            "listen": "127.0.0.1",
            "http_port": free_port(),
            "https_port": free_port(),
            "tls": "off",
        }
        values.update(overrides)
        router = Router(state, RouterSettings(**values))  # type: ignore[arg-type]
        made.append(router)
        return router

    yield make
    for router in made:
        try:
            router.stop()
        finally:
            SupervisorBackend(router.state_dir).shutdown()


class Upstream:
    """A real HTTP server on 127.0.0.1 answering ``<name> <path>``."""

    def __init__(self, name: str, delay: float = 0.0) -> None:
        self.name = name
        self.port = free_port()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                if self.path.startswith("/slow"):
                    threading.Event().wait(owner.delay)
                if self.headers.get("Upgrade", "").lower() == "websocket":
                    self.send_response(101)
                    self.send_header("Upgrade", "websocket")
                    self.send_header("Connection", "Upgrade")
                    self.send_header("X-Served-By", owner.name)
                    self.end_headers()
                    self.wfile.write(f"hello from {owner.name}".encode())
                    self.wfile.flush()
                    self.close_connection = True
                    return
                body = f"{owner.name} {self.path} host={self.headers.get('X-Forwarded-Host')}"
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.delay = delay
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstreams() -> Iterator[Callable[..., Upstream]]:
    made: list[Upstream] = []

    def make(name: str, delay: float = 0.0) -> Upstream:
        up = Upstream(name, delay)
        made.append(up)
        return up

    yield make
    for up in made:
        up.close()
