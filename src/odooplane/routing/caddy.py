"""Caddy: finding the binary, rendering its JSON configuration, talking to its admin API.

The whole configuration is rendered from the routing table and handed to Caddy's admin
API (``POST /load`` on a unix socket under the state folder). Caddy applies a new
configuration atomically and gracefully: listeners are kept, requests in flight finish on
the configuration that accepted them, new requests see the new one, and a configuration
Caddy refuses leaves the running one untouched.

Servers rendered:

- ``env-<name>``: one per environment with a ``listen_port``, on 127.0.0.1 (plain HTTP):
  the environment's own address on this machine;
- ``front``: every hostname, on ``listen:https_port`` with automatic HTTPS (public
  certificates for real domains, Caddy's internal authority for local names or with
  ``tls: internal``), or on ``listen:http_port`` in plain HTTP with ``tls: off``.

Every server has error routes: when an upstream does not answer, people get a page
saying so (or, for environments that wake, the wake handler), never an empty 502.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from odooplane.errors import ExternalToolError, RefusedError
from odooplane.routing import pages
from odooplane.routing.hosts import is_local
from odooplane.routing.table import Route, RouteMode, Upstream

CADDY_ENV = "ODOOPLANE_CADDY"
ENV_HEADER = "X-Odooplane-Environment"
TLS_MODES = ("auto", "internal", "off")


@dataclass(frozen=True)
class RouterSettings:
    """How the project's Caddy listens (from the ``routing`` section of odooplane.yaml).

    ``listen`` is the address of the hostname listener ("" = every interface);
    ``public_host`` the address of each environment's own port.
    """

    caddy: str | None = None
    listen: str = ""
    http_port: int = 80
    https_port: int = 443
    tls: str = "auto"
    public_host: str = "127.0.0.1"

    @property
    def front_https(self) -> bool:
        return self.tls != "off"

    @property
    def front_port(self) -> int:
        return self.https_port if self.front_https else self.http_port


def find_caddy(explicit: str | None = None) -> Path:
    """The Caddy binary: ``explicit``, else ``$ODOOPLANE_CADDY``, else ``caddy`` on PATH."""
    wanted = explicit or os.environ.get(CADDY_ENV)
    if wanted:
        found = shutil.which(wanted) if os.sep not in wanted else wanted
        if found and os.access(found, os.X_OK):
            return Path(found)
        source = "routing.caddy in odooplane.yaml" if explicit else f"${CADDY_ENV}"
        raise ExternalToolError(
            f"The Caddy binary '{wanted}' named by {source} is not an executable file.",
            hint="Install Debian's package (`apt-get install caddy`) or fix the path.",
        )
    found = shutil.which("caddy")
    if not found:
        raise ExternalToolError(
            "Caddy is not installed: odooplane routes every environment through it.",
            hint="Install Debian's package (`apt-get install caddy`), or name a Caddy 2 "
            f"binary with routing.caddy in odooplane.yaml or ${CADDY_ENV}.",
        )
    return Path(found)


def caddy_version(binary: Path) -> str:
    try:
        result = subprocess.run(
            [str(binary), "version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as exc:
        raise ExternalToolError(f"Could not run {binary}: {exc}.") from None
    return (result.stdout.strip().split() or ["unknown"])[0]


# -- the admin API ---------------------------------------------------------------------------


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(str(self._path))
        self.sock = sock


class AdminError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"{status}: {text}")
        self.status = status
        self.text = text


class CaddyAdmin:
    """Caddy's admin API on a unix socket (origin checks want an empty Host header)."""

    def __init__(self, socket_path: Path, timeout: float = 60.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None) -> Any:
        conn = _UnixConnection(self.socket_path, self.timeout)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", "")
            data = json.dumps(body).encode() if body is not None else b""
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(len(data)))
            conn.endheaders(data)
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        text = raw.decode("utf-8", "replace")
        if response.status >= 400:
            try:
                message = str(json.loads(text).get("error", text))
            except (ValueError, AttributeError):
                message = text
            raise AdminError(response.status, message.strip())
        return json.loads(text) if text.strip() else None

    def alive(self) -> bool:
        if not self.socket_path.exists():
            return False
        try:
            self.request("GET", "/config/admin")
        except (OSError, AdminError, http.client.HTTPException, ValueError):
            return False
        return True

    def load(self, config: dict[str, Any]) -> None:
        """Apply ``config`` atomically; a refused one leaves the running one in place."""
        try:
            self.request("POST", "/load", config)
        except AdminError as exc:
            raise RefusedError(
                f"Caddy refused the new routing configuration: {exc.text}.",
                hint=_hint_for(exc.text),
            ) from None


def _hint_for(text: str) -> str:
    if "address already in use" in text:
        return (
            "Another program listens on that address: stop it, or choose other ports "
            "(routing.http_port / routing.https_port, or the environment's port)."
        )
    if "permission denied" in text:
        return "Ports below 1024 need root or CAP_NET_BIND_SERVICE for Caddy."
    return "The previous configuration is still serving; see the routing log for details."


# -- rendering ---------------------------------------------------------------------------------


def _proxy(dial: str, env: str) -> dict[str, Any]:
    return {
        "handler": "reverse_proxy",
        "upstreams": [{"dial": dial}],
        # Odoo (proxy_mode) reads X-Forwarded-Host/-Proto, which Caddy sets itself.
        "headers": {"request": {"set": {ENV_HEADER: [env]}}},
    }


def _static(status: int | str, body: str, headers: dict[str, list[str]] | None = None) -> Any:
    return {
        "handler": "static_response",
        "status_code": status,
        "headers": {
            "Content-Type": ["text/html; charset=utf-8"],
            "Cache-Control": ["no-store"],
            **(headers or {}),
        },
        "body": body,
    }


def _waker(route: Route, waker_socket: Path) -> dict[str, Any]:
    handler = _proxy(f"unix/{waker_socket}", route.env)
    # supervisord restarts a wake handler that died within a second or two: wait for it
    # rather than answer an empty 502.
    handler["load_balancing"] = {"try_duration": "10s", "try_interval": "250ms"}
    return handler


def _serve(upstream: Upstream, env: str) -> list[dict[str, Any]]:
    paths: list[str] = []
    for path in upstream.websocket_paths:
        base = path.rstrip("/")
        paths += [base, base + "/*"]
    return [
        {
            "handler": "subroute",
            "routes": [
                {"match": [{"path": paths}], "handle": [_proxy(upstream.gevent_dial, env)]},
                {"handle": [_proxy(upstream.http_dial, env)]},
            ],
        }
    ]


def route_handlers(route: Route, waker_socket: Path) -> list[dict[str, Any]]:
    """What answers a request for ``route`` in its current mode."""
    if route.mode is RouteMode.maintenance:
        return [
            _static(
                503,
                pages.maintenance_page(
                    route.env, retry_after=route.retry_after, message=route.message
                ),
                {"Retry-After": [str(route.retry_after)]},
            )
        ]
    if route.mode is RouteMode.waking or route.upstream is None:
        if route.wakes:
            return [_waker(route, waker_socket)]
        return [_static(503, pages.unavailable_page(route.env), {"Retry-After": ["5"]})]
    return _serve(route.upstream, route.env)


def error_handlers(route: Route, waker_socket: Path) -> list[dict[str, Any]]:
    """What answers when the upstream fails (refused, timed out): never an empty 502."""
    if route.wakes:
        return [_waker(route, waker_socket)]
    return [_static(503, pages.unavailable_page(route.env), {"Retry-After": ["5"]})]


def logger_name(env: str) -> str:
    return f"env-{env}"


def render(
    routes: dict[str, Route],
    settings: RouterSettings,
    *,
    admin_socket: Path,
    waker_socket: Path,
    access_dir: Path,
    storage_dir: Path,
) -> dict[str, Any]:
    """The complete Caddy configuration for ``routes``."""
    servers: dict[str, Any] = {}
    logs: dict[str, Any] = {
        # Caddy's own messages go to its log file; requests go to one file per environment.
        "default": {"level": "INFO", "exclude": ["http.log.access"]},
    }
    front_routes: list[dict[str, Any]] = []
    front_errors: list[dict[str, Any]] = []
    host_loggers: dict[str, str] = {}
    all_hosts: list[str] = []
    for name in sorted(routes):
        route = routes[name]
        handlers = route_handlers(route, waker_socket)
        errors = error_handlers(route, waker_socket)
        logs[logger_name(name)] = {
            "writer": {
                "output": "file",
                "filename": str(access_dir / f"{name}.log"),
                "roll_size_mb": 5,
                "roll_keep": 2,
            },
            "encoder": {"format": "json"},
            "include": [f"http.log.access.{logger_name(name)}"],
        }
        if route.listen_port:
            servers[logger_name(name)] = {
                "listen": [f"{settings.public_host}:{route.listen_port}"],
                "automatic_https": {"disable": True},
                "routes": [{"handle": handlers}],
                "errors": {"routes": [{"handle": errors}]},
                "logs": {"default_logger_name": logger_name(name)},
            }
        if route.hostnames:
            match = [{"host": list(route.hostnames)}]
            front_routes.append({"match": match, "handle": handlers, "terminal": True})
            front_errors.append({"match": match, "handle": errors, "terminal": True})
            all_hosts += route.hostnames
            for host in route.hostnames:
                host_loggers[host] = logger_name(name)
    # Once Caddy runs, the front door stays open on plain HTTP even when its last hostname
    # went (the last preview removed): a request there gets the unknown-host page, not a
    # refused connection. On HTTPS there is no certificate for an unknown name anyway.
    if front_routes or not settings.front_https:
        front_routes.append({"handle": [_static(404, pages.unknown_host_page())]})
        front_errors.append(
            {"handle": [_static("{http.error.status_code}", pages.unknown_host_page())]}
        )
        front: dict[str, Any] = {
            "listen": [f"{settings.listen}:{settings.front_port}"],
            "routes": front_routes,
            "errors": {"routes": front_errors},
            "logs": {"logger_names": host_loggers},
        }
        if not settings.front_https:
            front["automatic_https"] = {"disable": True}
        servers["front"] = front
    apps: dict[str, Any] = {
        "http": {
            "http_port": settings.http_port,
            "https_port": settings.https_port,
            "servers": servers,
        },
        # Caddy's internal authority must never install itself into the system trust store.
        "pki": {"certificate_authorities": {"local": {"install_trust": False}}},
    }
    if settings.front_https and all_hosts:
        internal = sorted(h for h in all_hosts if settings.tls == "internal" or is_local(h))
        if internal:
            apps["tls"] = {
                "automation": {
                    "policies": [{"subjects": internal, "issuers": [{"module": "internal"}]}]
                }
            }
    return {
        "admin": {"listen": f"unix/{admin_socket}", "config": {"persist": False}},
        "storage": {"module": "file_system", "root": str(storage_dir)},
        "logging": {"logs": logs},
        "apps": apps,
    }
