"""Caddy itself: finding the binary, the JSON configuration rendered from the routing
table (validated and served by the real Caddy), and its admin API on a unix socket."""

from __future__ import annotations

import http.client
import json
import os
import re
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from odooplane.errors import ExternalToolError, RefusedError
from odooplane.routing.caddy import (
    CADDY_ENV,
    ENV_HEADER,
    CaddyAdmin,
    RouterSettings,
    caddy_version,
    find_caddy,
    render,
)
from odooplane.routing.table import Route, RouteMode, Upstream

from .conftest import Upstream as Server
from .conftest import free_port


def _up(http_port: int, gevent_port: int | None = None) -> Upstream:
    return Upstream(http_port=http_port, gevent_port=gevent_port)


def _render(tmp_path: Path, routes: dict[str, Route], settings: RouterSettings) -> dict[str, Any]:
    return render(
        routes,
        settings,
        admin_socket=tmp_path / "admin.sock",
        waker_socket=tmp_path / "waker.sock",
        access_dir=tmp_path / "access",
        storage_dir=tmp_path / "storage",
    )


def test_find_caddy_explicit_env_and_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caddy_bin: str
) -> None:
    monkeypatch.delenv(CADDY_ENV, raising=False)
    assert find_caddy() == Path(caddy_bin)
    assert find_caddy("caddy") == Path(caddy_bin)
    with pytest.raises(ExternalToolError) as info:
        find_caddy(str(tmp_path / "nope"))
    assert "named by routing.caddy in odooplane.yaml is not an executable file" in str(info.value)
    not_exec = tmp_path / "caddy"
    not_exec.write_text("#!/bin/sh\n")
    monkeypatch.setenv(CADDY_ENV, str(not_exec))
    with pytest.raises(ExternalToolError, match=rf"named by \${CADDY_ENV} is not an"):
        find_caddy()
    not_exec.chmod(not_exec.stat().st_mode | stat.S_IXUSR)
    assert find_caddy() == not_exec
    monkeypatch.delenv(CADDY_ENV)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ExternalToolError, match="Caddy is not installed"):
        find_caddy()


def test_caddy_version(caddy_bin: str, tmp_path: Path) -> None:
    version = caddy_version(Path(caddy_bin))
    assert re.match(r"v?2\.\d+", version), version
    printed = subprocess.run([caddy_bin, "version"], capture_output=True, text=True).stdout
    assert printed.split()[0] == version
    with pytest.raises(ExternalToolError, match="Could not run"):
        caddy_version(tmp_path / "missing")


def test_render_servers_hosts_and_tls(tmp_path: Path) -> None:
    routes = {
        "production": Route(
            env="production",
            listen_port=18001,
            hostnames=("shop.example.com", "erp.test"),
            upstream=_up(8069, 8072),
        ),
        "staging": Route(env="staging", listen_port=18002, mode=RouteMode.maintenance),
        "pr-3": Route(env="pr-3", hostnames=("pr-3.localhost",), wake_command=("true",)),
    }
    config = _render(tmp_path, routes, RouterSettings(listen="", https_port=8443))
    assert config["admin"]["listen"] == f"unix/{tmp_path / 'admin.sock'}"
    servers = config["apps"]["http"]["servers"]
    assert sorted(servers) == ["env-production", "env-staging", "front"]
    prod = servers["env-production"]
    assert prod["listen"] == ["127.0.0.1:18001"]
    sub = prod["routes"][0]["handle"][0]["routes"]
    assert sub[0]["match"] == [{"path": ["/websocket", "/websocket/*"]}]
    assert sub[0]["handle"][0]["upstreams"] == [{"dial": "127.0.0.1:8072"}]
    assert sub[1]["handle"][0]["upstreams"] == [{"dial": "127.0.0.1:8069"}]
    assert sub[1]["handle"][0]["headers"]["request"]["set"][ENV_HEADER] == ["production"]
    staging = servers["env-staging"]["routes"][0]["handle"][0]
    assert staging["status_code"] == 503 and staging["headers"]["Retry-After"] == ["30"]
    front = servers["front"]
    assert front["listen"] == [":8443"]
    assert front["logs"]["logger_names"] == {
        "shop.example.com": "env-production",
        "erp.test": "env-production",
        "pr-3.localhost": "env-pr-3",
    }
    assert front["routes"][-1]["handle"][0]["status_code"] == 404
    waker = front["routes"][0]["handle"][0]  # pr-3 sorts first
    assert waker["upstreams"] == [{"dial": f"unix/{tmp_path / 'waker.sock'}"}]
    # Public names get public certificates; local names Caddy's own authority.
    policies = config["apps"]["tls"]["automation"]["policies"]
    assert policies == [
        {"subjects": ["erp.test", "pr-3.localhost"], "issuers": [{"module": "internal"}]}
    ]
    assert config["apps"]["pki"]["certificate_authorities"]["local"]["install_trust"] is False
    assert sorted(config["logging"]["logs"]) == [
        "default",
        "env-pr-3",
        "env-production",
        "env-staging",
    ]


def test_render_plain_http_and_internal_tls(tmp_path: Path) -> None:
    routes = {"prod": Route(env="prod", hostnames=("shop.example.com",), upstream=_up(8069))}
    off = _render(tmp_path, routes, RouterSettings(tls="off", http_port=8080))
    assert off["apps"]["http"]["servers"]["front"]["listen"] == [":8080"]
    assert off["apps"]["http"]["servers"]["front"]["automatic_https"] == {"disable": True}
    assert "tls" not in off["apps"]
    internal = _render(tmp_path, routes, RouterSettings(tls="internal"))
    subjects = internal["apps"]["tls"]["automation"]["policies"][0]["subjects"]
    assert subjects == ["shop.example.com"]
    empty = _render(tmp_path, {}, RouterSettings())
    assert empty["apps"]["http"]["servers"] == {}
    # On plain HTTP the front door answers the unknown-host page with no hostname left.
    plain = _render(tmp_path, {}, RouterSettings(tls="off", http_port=8080))["apps"]["http"]
    assert plain["servers"]["front"]["listen"] == [":8080"]
    assert [r["handle"][0]["status_code"] for r in plain["servers"]["front"]["routes"]] == [404]


@pytest.fixture
def running_caddy(
    tmp_path: Path, caddy_bin: str
) -> Iterator[Callable[[dict[str, Any]], CaddyAdmin]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(config: dict[str, Any]) -> CaddyAdmin:
        path = tmp_path / "caddy.json"
        path.write_text(json.dumps(config))
        env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
        proc = subprocess.Popen(
            [caddy_bin, "run", "--config", str(path)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "caddy.log").open("wb"),
        )
        started.append(proc)
        admin = CaddyAdmin(tmp_path / "admin.sock", timeout=10)
        deadline = time.monotonic() + 20
        while not admin.alive():
            assert proc.poll() is None, (tmp_path / "caddy.log").read_text()
            assert time.monotonic() < deadline, "Caddy did not start"
            time.sleep(0.05)
        return admin

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(timeout=20)


def _get(port: int, host: str, path: str = "/") -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        conn.close()


def test_the_rendered_configuration_is_served_by_caddy(
    tmp_path: Path, running_caddy: Callable[[dict[str, Any]], CaddyAdmin]
) -> None:
    upstream = Server("odoo-a")
    try:
        front, own, down = free_port(), free_port(), free_port()
        routes = {
            "a": Route(
                env="a", listen_port=own, hostnames=("a.test",), upstream=_up(upstream.port)
            ),
            "b": Route(env="b", hostnames=("b.test",), upstream=_up(down)),
        }
        settings = RouterSettings(
            listen="127.0.0.1", http_port=front, https_port=free_port(), tls="off"
        )
        admin = running_caddy(_render(tmp_path, routes, settings))
        assert _get(own, "anything")[2] == "odoo-a / host=anything"
        assert _get(front, "a.test", "/web")[2] == "odoo-a /web host=a.test"
        status, headers, body = _get(front, "b.test")
        assert status == 503 and headers["Retry-After"] == "5"
        assert "b is not answering right now" in body
        status, _, body = _get(front, "c.test")
        assert status == 404 and "No environment at this address" in body
        assert (tmp_path / "access" / "a.log").read_text().count('"a.test"') >= 1

        # A new configuration is applied in place...
        routes["a"] = Route(env="a", listen_port=own, mode=RouteMode.maintenance, retry_after=9)
        admin.load(_render(tmp_path, routes, settings))
        status, headers, body = _get(own, "x")
        assert (status, headers["Retry-After"]) == (503, "9")
        # ...and one Caddy refuses leaves the running one serving, with a sentence.
        broken = _render(tmp_path, routes, settings)
        broken["apps"]["http"]["servers"]["env-a"]["listen"] = ["127.0.0.1:not-a-port"]
        with pytest.raises(RefusedError) as info:
            admin.load(broken)
        assert str(info.value).startswith("Caddy refused the new routing configuration:")
        assert info.value.hint is not None and "previous configuration is still serving" in (
            info.value.hint
        )
        assert _get(own, "x")[0] == 503
    finally:
        upstream.close()


def test_admin_on_a_missing_socket_is_not_alive(tmp_path: Path) -> None:
    assert not CaddyAdmin(tmp_path / "nobody.sock").alive()
    (tmp_path / "stale.sock").write_text("")
    assert not CaddyAdmin(tmp_path / "stale.sock", timeout=2).alive()
