"""The routing API against a real Caddy, real HTTP servers as upstreams."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from odooplane.errors import NotFoundError, RefusedError, UsageError
from odooplane.routing import Route, RouteMode, Router, Upstream
from odooplane.routing.router import CADDY_PROGRAM

from .conftest import Upstream as Server
from .conftest import free_port


def get(
    port: int, path: str = "/", host: str | None = None, timeout: float = 10.0
) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host} if host else {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        conn.close()


def wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def test_port_and_hostnames_reach_their_own_upstream(
    make_router: Callable[..., Router], upstreams: Callable[..., Server]
) -> None:
    router = make_router()
    a, b = upstreams("alpha"), upstreams("beta")
    port_a = free_port()
    route = router.route(
        "alpha",
        listen_port=port_a,
        hostnames=["Alpha.localhost"],
        upstream=Upstream(a.port),
    )
    router.route("beta", listen_port=None, hostnames=["beta.localhost"], upstream=Upstream(b.port))
    front = router.settings.http_port

    assert route.urls == (f"http://alpha.localhost:{front}", f"http://127.0.0.1:{port_a}")
    assert get(port_a, "/web/login")[2].startswith("alpha /web/login")
    status, _, body = get(front, "/x", host="alpha.localhost")
    assert status == 200 and body == "alpha /x host=alpha.localhost"
    assert get(front, "/y", host=f"beta.localhost:{front}")[2].startswith("beta /y")

    status, _, body = get(front, "/", host="nobody.localhost")
    assert status == 404 and "No environment at this address" in body
    assert [r.env for r in router.routes()] == ["alpha", "beta"]
    # Every request is in the environment's access log: that is its last request.
    last = router.last_request("alpha")
    assert last is not None and time.time() - last.timestamp() < 60
    assert router.last_request("nobody") is None
    status_info = router.status()
    assert status_info.running and status_info.routes == 2 and status_info.version


def test_no_bare_proxy_error_when_upstream_is_down(
    make_router: Callable[..., Router], upstreams: Callable[..., Server]
) -> None:
    router = make_router()
    port = free_port()
    router.route(
        "gone", listen_port=port, hostnames=["gone.localhost"], upstream=Upstream(free_port())
    )
    for status, headers, body in (
        get(port),
        get(router.settings.http_port, host="gone.localhost"),
    ):
        assert status == 503
        assert headers["Retry-After"] == "5"
        assert "gone is not answering right now" in body
        assert "<html" in body


def test_front_door_answers_404_after_its_last_hostname_is_removed(
    make_router: Callable[..., Router], upstreams: Callable[..., Server]
) -> None:
    router = make_router()
    up = upstreams("pr")
    router.route("pr-1", listen_port=None, hostnames=["pr-1.localhost"], upstream=Upstream(up.port))
    front = router.settings.http_port
    assert get(front, "/", host="pr-1.localhost")[0] == 200
    assert router.remove("pr-1") is True
    status, _, body = get(front, "/", host="pr-1.localhost")
    assert status == 404 and "No environment at this address" in body


def test_refuses_what_another_environment_owns(
    make_router: Callable[..., Router], upstreams: Callable[..., Server]
) -> None:
    router = make_router()
    up = upstreams("one")
    port = free_port()
    router.route("one", listen_port=port, hostnames=["one.localhost"], upstream=Upstream(up.port))
    with pytest.raises(RefusedError, match=r"one\.localhost already belongs to environment 'one'"):
        router.route(
            "two", listen_port=None, hostnames=["ONE.localhost"], upstream=Upstream(up.port)
        )
    with pytest.raises(RefusedError, match=f"Port {port} is already the address"):
        router.route("two", listen_port=port, upstream=Upstream(up.port))
    with pytest.raises(RefusedError, match="router's own hostname port"):
        router.route("two", listen_port=router.settings.http_port, upstream=Upstream(up.port))
    with pytest.raises(UsageError, match="not a valid hostname"):
        router.route(
            "two", listen_port=None, hostnames=["bad_name.localhost"], upstream=Upstream(1)
        )
    with pytest.raises(NotFoundError, match="'two' has no route"):
        router.switch_upstream("two", Upstream(up.port))
    # The same environment may take its own names again (idempotent).
    router.route("one", listen_port=port, hostnames=["one.localhost"], upstream=Upstream(up.port))
    assert [r.env for r in router.routes()] == ["one"]


def test_caddy_refusal_leaves_the_running_configuration(
    make_router: Callable[..., Router], upstreams: Callable[..., Server]
) -> None:
    router = make_router()
    up = upstreams("kept")
    port = free_port()
    router.route("kept", listen_port=port, upstream=Upstream(up.port))
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", free_port()))
    squatter.listen()
    try:
        taken = squatter.getsockname()[1]
        with pytest.raises(RefusedError, match="Caddy refused") as info:
            router.route("other", listen_port=taken, upstream=Upstream(up.port))
        assert "Another program listens" in (info.value.hint or "")
    finally:
        squatter.close()
    assert [r.env for r in router.routes()] == ["kept"]
    assert get(port)[2].startswith("kept /")


def test_switch_upstream_is_atomic_and_lets_requests_finish(
    make_router: Callable[..., Router], upstreams: Callable[..., Server]
) -> None:
    router = make_router()
    old, new = upstreams("old", delay=2.0), upstreams("new")
    port = free_port()
    router.route("prod", listen_port=port, upstream=Upstream(old.port))

    slow: dict[str, str] = {}
    thread = threading.Thread(target=lambda: slow.update(body=get(port, "/slow")[2]))
    thread.start()
    time.sleep(0.5)
    previous = router.switch_upstream("prod", Upstream(new.port))
    assert previous == Upstream(old.port)
    assert get(port)[2].startswith("new /")
    thread.join()
    assert slow["body"].startswith("old /slow")  # accepted before the switch: finished there

    # A client polling without pause sees no failed request across many switches.
    failures: list[str] = []
    done = threading.Event()
    served = [0]

    def poll() -> None:
        while not done.is_set():
            try:
                status, _, _ = get(port, timeout=5)
                if status != 200:
                    failures.append(str(status))
                served[0] += 1
            except OSError as exc:
                failures.append(repr(exc))

    pollers = [threading.Thread(target=poll) for _ in range(2)]
    for t in pollers:
        t.start()
    for i in range(15):
        router.switch_upstream("prod", Upstream(old.port if i % 2 else new.port))
        time.sleep(0.05)
    done.set()
    for t in pollers:
        t.join()
    assert served[0] > 50
    assert failures == []


def test_maintenance_answers_503_with_retry_after_then_serves_again(
    make_router: Callable[..., Router], upstreams: Callable[..., Server]
) -> None:
    router = make_router()
    up = upstreams("erp")
    port = free_port()
    router.route("erp", listen_port=port, hostnames=["erp.localhost"], upstream=Upstream(up.port))
    route = router.maintenance("erp", True, retry_after=42, message="Installing sales 2.0")
    assert route.mode is RouteMode.maintenance
    for status, headers, body in (get(port), get(router.settings.http_port, host="erp.localhost")):
        assert status == 503
        assert headers["Retry-After"] == "42"
        assert "Installing sales 2.0" in body
    # Switching the upstream during maintenance keeps the maintenance page up.
    other = upstreams("erp2")
    router.switch_upstream("erp", Upstream(other.port))
    assert get(port)[0] == 503
    router.maintenance("erp", False)
    assert get(port)[2].startswith("erp2 /")
    with pytest.raises(UsageError, match="at least 1 second"):
        router.maintenance("erp", True, retry_after=0)


WAKE_SCRIPT = """
import json, subprocess, sys, time
from pathlib import Path
from odooplane.routing import Router, RouterSettings, Upstream
state, settings, port, env, marker = sys.argv[1:6]
if Path(marker).exists():
    print("refusing: marker says fail", flush=True)
    sys.exit(4)
server = (
    "import http.server,sys\\n"
    "class H(http.server.BaseHTTPRequestHandler):\\n"
    "    def do_GET(self):\\n"
    "        b=b'awake'; self.send_response(200); self.send_header('Content-Length','5')\\n"
    "        self.end_headers(); self.wfile.write(b)\\n"
    "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\\n"
)
proc = subprocess.Popen([sys.executable, "-c", server, port], start_new_session=True)
Path(state, "woken.pid").write_text(str(proc.pid))
time.sleep(1.0)
router = Router(Path(state), RouterSettings(**json.loads(settings)))
route = router.get(env)
router.route(env, listen_port=route.listen_port, hostnames=route.hostnames,
             upstream=Upstream(int(port)))
print("woken", flush=True)
"""


def test_waking_runs_the_wake_command_once_and_shows_a_starting_page(
    make_router: Callable[..., Router], tmp_path: Path
) -> None:
    router = make_router()
    script = tmp_path / "wake.py"
    script.write_text(WAKE_SCRIPT)
    marker = tmp_path / "fail"
    odoo_port = free_port()
    settings = json.dumps(router.settings.__dict__)
    command = [
        sys.executable,
        str(script),
        str(router.state_dir),
        settings,
        str(odoo_port),
        "pr-1",
        str(marker),
    ]
    port = free_port()
    router.route(
        "pr-1",
        listen_port=port,
        hostnames=["pr-1.localhost"],
        upstream=Upstream(odoo_port),
        wake_command=command,
    )
    try:
        # Its Odoo is down: the request is handed to the wake handler, which starts it.
        status, headers, body = get(router.settings.http_port, host="pr-1.localhost")
        assert status == 503 and "Starting pr-1" in body
        assert headers["Retry-After"] == "1" and 'http-equiv="refresh"' in body
        # Further requests while it starts do not start it again.
        assert "Starting pr-1" in get(port)[2]
        wait_for(lambda: get(port)[2] == "awake")
        wait_for(lambda: "woken" in router.wake_log("pr-1").read_text())
        wake_log = router.wake_log("pr-1").read_text()
        assert wake_log.count("waking pr-1") == 1 and "woken" in wake_log
        assert router.get("pr-1").mode is RouteMode.serve  # type: ignore[union-attr]

        # Scaled to zero: everything goes to the wake handler until it serves again.
        os.kill(int((router.state_dir / "woken.pid").read_text()), signal.SIGTERM)
        marker.write_text("fail")
        route = router.waking("pr-1")
        assert route.mode is RouteMode.waking and route.upstream is None
        status, _, body = get(port)
        assert status == 503 and "Starting pr-1" in body
        wait_for(lambda: "could not start" in get(port)[2])
        status, headers, body = get(port)
        assert status == 503 and "refusing: marker says fail" in body
        assert int(headers["Retry-After"]) > 1
    finally:
        pid_file = router.state_dir / "woken.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGTERM)


def test_websocket_path_goes_to_the_gevent_port(
    make_router: Callable[..., Router], upstreams: Callable[..., Server]
) -> None:
    router = make_router()
    http_up, gevent_up = upstreams("http"), upstreams("gevent")
    port = free_port()
    router.route(
        "ws",
        listen_port=port,
        upstream=Upstream(
            http_up.port, gevent_up.port, websocket_paths=("/websocket", "/longpolling")
        ),
    )
    assert get(port, "/web")[2].startswith("http /web")
    assert get(port, "/websocket")[2].startswith("gevent /websocket")
    assert get(port, "/longpolling/poll")[2].startswith("gevent /longpolling/poll")
    assert get(port, "/websocketx")[2].startswith("http /websocketx")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"GET /websocket HTTP/1.1\r\nHost: ws\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        data = b""
        while b"hello from" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 101") and b"hello from gevent" in data


def test_tls_internal_serves_https_for_local_names(
    make_router: Callable[..., Router], upstreams: Callable[..., Server]
) -> None:
    router = make_router(tls="internal")
    up = upstreams("secure")
    route = router.route(
        "secure", listen_port=None, hostnames=["secure.localhost"], upstream=Upstream(up.port)
    )
    port = router.settings.https_port
    assert route.urls == (f"https://secure.localhost:{port}",)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    body = ""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            # *.localhost by name needs no DNS in browsers; here: 127.0.0.1 with its SNI.
            with (
                socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
                context.wrap_socket(raw, server_hostname="secure.localhost") as tls,
            ):
                tls.sendall(
                    b"GET /tls HTTP/1.1\r\nHost: secure.localhost\r\nConnection: close\r\n\r\n"
                )
                data = b""
                while chunk := tls.recv(4096):
                    data += chunk
            body = data.decode().split("\r\n\r\n", 1)[1]
            break
        except (OSError, ssl.SSLError, IndexError):
            time.sleep(0.2)
    assert body.startswith("secure /tls host=secure.localhost")


def test_remove_ensure_and_recovery_after_caddy_dies(
    make_router: Callable[..., Router], upstreams: Callable[..., Server]
) -> None:
    router = make_router()
    up = upstreams("keep")
    port = free_port()
    router.route("keep", listen_port=port, upstream=Upstream(up.port))
    router.route("drop", listen_port=free_port(), upstream=Upstream(up.port))
    assert router.remove("drop") is True
    assert router.remove("drop") is False
    assert [r.env for r in router.routes()] == ["keep"]

    # supervisord restarts a Caddy that died, from the configuration last loaded.
    pid = router.backend.status(CADDY_PROGRAM).pid
    assert pid
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: router.admin.alive() and router.backend.status(CADDY_PROGRAM).pid != pid)
    assert get(port)[2].startswith("keep /")
    # After a stop (a reboot), ensure() brings back every route.
    router.stop()
    assert not router.admin.alive()
    status = router.ensure()
    assert status.running and status.routes == 1
    assert get(port)[2].startswith("keep /")
    saved = json.loads(router.table_path.read_text())
    assert Route.from_dict(saved["routes"]["keep"]).upstream == Upstream(up.port)
