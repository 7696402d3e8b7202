"""The routing table: which environment answers where, and how.

One JSON file (``<state>/routing/routes.json``) is the source of truth; the Caddy
configuration is rendered from it (:mod:`odooplane.routing.caddy`). A route belongs to
one environment and says where people reach it (its own port on 127.0.0.1, its
hostnames) and what answers there:

- ``serve``: the environment's Odoo (``upstream``), with the websocket (and, on series
  that have it, longpolling) paths sent to Odoo's gevent port;
- ``maintenance``: a 503 page with ``Retry-After`` (the upstream is kept, to come back to);
- ``waking``: odooplane's wake handler, which starts the stopped environment.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from odooplane.errors import ConfigError
from odooplane.fsutil import read_json, write_json_atomic

TABLE_VERSION = 1
DEFAULT_WEBSOCKET_PATHS = ("/websocket",)


class RouteMode(str, Enum):
    serve = "serve"
    maintenance = "maintenance"
    waking = "waking"


@dataclass(frozen=True)
class Upstream:
    """Where an environment's Odoo listens (always on this machine's loopback by default).

    ``gevent_port`` is the port of Odoo's gevent (websocket) server when Odoo runs with
    workers; None when the HTTP port serves everything (``workers = 0``).
    """

    http_port: int
    gevent_port: int | None = None
    host: str = "127.0.0.1"
    websocket_paths: tuple[str, ...] = DEFAULT_WEBSOCKET_PATHS

    @property
    def http_dial(self) -> str:
        return f"{self.host}:{self.http_port}"

    @property
    def gevent_dial(self) -> str:
        return f"{self.host}:{self.gevent_port or self.http_port}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["websocket_paths"] = list(self.websocket_paths)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Upstream:
        return cls(
            http_port=int(data["http_port"]),
            gevent_port=int(data["gevent_port"]) if data.get("gevent_port") else None,
            host=str(data.get("host") or "127.0.0.1"),
            websocket_paths=tuple(data.get("websocket_paths") or DEFAULT_WEBSOCKET_PATHS),
        )


@dataclass(frozen=True)
class Route:
    """How one environment is reached. ``url`` is filled in by the router."""

    env: str
    listen_port: int | None = None
    hostnames: tuple[str, ...] = ()
    upstream: Upstream | None = None
    mode: RouteMode = RouteMode.serve
    retry_after: int = 30
    message: str | None = None
    wake_command: tuple[str, ...] = ()
    updated_at: str = ""
    urls: tuple[str, ...] = field(default=(), compare=False)

    @property
    def wakes(self) -> bool:
        """Requests the upstream cannot answer go to the wake handler."""
        return bool(self.wake_command)

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "listen_port": self.listen_port,
            "hostnames": list(self.hostnames),
            "upstream": self.upstream.to_dict() if self.upstream else None,
            "mode": self.mode.value,
            "retry_after": self.retry_after,
            "message": self.message,
            "wake_command": list(self.wake_command),
            "updated_at": self.updated_at,
            "urls": list(self.urls),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Route:
        upstream = data.get("upstream")
        return cls(
            env=str(data["env"]),
            listen_port=int(data["listen_port"]) if data.get("listen_port") else None,
            hostnames=tuple(data.get("hostnames") or ()),
            upstream=Upstream.from_dict(upstream) if isinstance(upstream, dict) else None,
            mode=RouteMode(data.get("mode", "serve")),
            retry_after=int(data.get("retry_after", 30)),
            message=data.get("message"),
            wake_command=tuple(data.get("wake_command") or ()),
            updated_at=str(data.get("updated_at", "")),
        )


def load_table(path: Path) -> dict[str, Route]:
    try:
        data = read_json(path, default=None)
    except ValueError as exc:
        raise ConfigError(
            f"{path} is not valid JSON ({exc}).",
            hint="odooplane writes it atomically, so it was edited by hand: fix it or remove "
            "it and start the environments again to rebuild their routes.",
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("routes"), dict):
        raise ConfigError(f"{path} does not hold a routing table.")
    try:
        return {name: Route.from_dict(item) for name, item in data["routes"].items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path} holds a route odooplane cannot read ({exc}).") from None


def save_table(path: Path, routes: dict[str, Route]) -> None:
    write_json_atomic(
        path,
        {
            "version": TABLE_VERSION,
            "routes": {name: routes[name].to_dict() for name in sorted(routes)},
        },
    )
