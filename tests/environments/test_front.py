"""The front door of an environment, with the project's real Caddy: starting serves the
slot at the environment's own port, a deploy switches slots atomically or shows the
maintenance page, and the route is the truth about what users reach."""

from __future__ import annotations

import http.client
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from odooplane.backends.supervisor import SupervisorBackend
from odooplane.config import load_config
from odooplane.environments import front
from odooplane.environments.builds import Build
from odooplane.environments.context import EnvContext
from odooplane.environments.slots import Slot
from odooplane.environments.state import EnvState
from odooplane.errors import RefusedError
from odooplane.ports import is_port_free
from odooplane.project import Project
from odooplane.routing import RouteMode

_next_port = [43100]


def _free_ports(count: int) -> list[int]:
    found: list[int] = []
    while len(found) < count:
        _next_port[0] += 1
        port = _next_port[0]
        if is_port_free(port) and is_port_free(port, "127.0.0.1"):
            found.append(port)
    return found


class Odoo:
    """A real HTTP server standing in for one slot's Odoo."""

    def __init__(self, name: str, port: int) -> None:
        owner_name = name

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                data = f"{owner_name} {self.path}".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _get(port: int, path: str = "/") -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        conn.close()


BUILD = Build(
    sha="c" * 40,
    ref="main",
    branch="main",
    subject="s",
    message="s",
    author_name="A",
    author_email="a@example.com",
    committed_at="2026-01-01T00:00:00+00:00",
    authored_at="2026-01-01T00:00:00+00:00",
    odoo_series="17.0",
    odoo_revision="r",
    odoo_path="/opt/odoo-src/17.0",
    deps_hash="d",
    runtime_path="/nonexistent",
    python="python3",
    code_dir="/nonexistent",
    project_subdir="",
)


@pytest.fixture
def ctx(make_git_repo: Callable[..., Path], caddy_bin: str) -> Iterator[EnvContext]:
    repo = make_git_repo("shop")
    front_http, front_https = _free_ports(2)
    (repo / "odooplane.yaml").write_text(
        "project: shop\n"
        "odoo: {series: '17.0', source: /opt/odoo-src/17.0}\n"
        f"routing: {{listen: 127.0.0.1, http_port: {front_http}, https_port: {front_https},"
        " tls: 'off'}\n"
        "environments:\n"
        "  staging: {kind: staging, workers: 2}\n"
        "  dev: {kind: development}\n"
    )
    project = Project(root=repo, config=load_config(repo / "odooplane.yaml"))
    context = EnvContext(project, "staging")
    try:
        yield context
    finally:
        try:
            front.router(context).stop()
        finally:
            SupervisorBackend(project.state_dir).shutdown()


@pytest.fixture
def caddy_bin() -> str:
    found = shutil.which("caddy")
    if not found:
        pytest.skip("Caddy is not installed (apt-get install caddy)")
    return found


def test_upstream_follows_workers_and_the_series(ctx: EnvContext) -> None:
    slot = Slot("staging", "blue", 18100, 18101)
    with_workers = front.upstream(ctx, slot, BUILD)
    assert (with_workers.http_port, with_workers.gevent_port) == (18100, 18101)
    assert with_workers.websocket_paths == ("/websocket",)
    threaded = front.upstream(EnvContext(ctx.project, "dev"), slot, BUILD)
    assert threaded.gevent_port is None
    for series in ("16.0", "18.0", "19.0"):
        paths = front.upstream(ctx, slot, replace(BUILD, odoo_series=series)).websocket_paths
        assert paths == ("/websocket",)


def test_no_route_without_the_environment_s_port(ctx: EnvContext) -> None:
    state = EnvState(name="staging", kind="staging", database="shop_staging")
    with pytest.raises(RefusedError, match="Environment 'staging' has no port yet"):
        front.route(ctx, state, Slot("staging", "blue", 1, 2), BUILD)
    assert front.serving(ctx) is None and front.served_port(ctx) is None


def test_serve_switch_and_maintenance_through_caddy(ctx: EnvContext) -> None:
    own, blue_http, blue_gevent, green_http, green_gevent = _free_ports(5)
    blue = Slot("staging", "blue", blue_http, blue_gevent)
    green = Slot("staging", "green", green_http, green_gevent)
    state = EnvState(name="staging", kind="staging", database="shop_staging")
    state.http_port = own
    odoos = [Odoo("blue", blue_http), Odoo("green", green_http)]
    try:
        route = front.route(ctx, state, blue, BUILD)
        assert route.listen_port == own and route.mode is RouteMode.serve
        assert front.served_port(ctx) == blue_http
        assert _get(own, "/web")[2] == "blue /web"

        previous = front.switch(ctx, green, BUILD)
        assert previous is not None and previous.http_port == blue_http
        assert _get(own, "/web")[2] == "green /web"
        assert front.served_port(ctx) == green_http

        front.maintenance(ctx, "Updating sale_x")
        status, headers, body = _get(own)
        assert status == 503
        assert headers["Retry-After"] == str(front.MAINTENANCE_RETRY_AFTER)
        assert "Updating sale_x" in body
        # Switching back to a slot ends the maintenance page.
        front.switch(ctx, blue, BUILD)
        current = front.serving(ctx)
        assert current is not None and current.mode is RouteMode.serve
        assert _get(own)[2] == "blue /"
    finally:
        for odoo in odoos:
            odoo.close()
    # Nobody answers on the slot any more: Caddy's page, never a refused connection.
    status, _, body = _get(own)
    assert status == 503 and "staging is not answering right now" in body
