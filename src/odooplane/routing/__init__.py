"""Hostnames and ports to environments, through the project's Caddy.

The API (see ``docs/routing.md``): :class:`~odooplane.routing.router.Router` with
``ensure``, ``route``, ``switch_upstream``, ``maintenance``, ``waking``, ``remove``,
``routes``, ``get``, ``url``, ``last_request``, ``status`` and ``stop``; the data types
:class:`~odooplane.routing.table.Route`, :class:`~odooplane.routing.table.Upstream`,
:class:`~odooplane.routing.table.RouteMode` and
:class:`~odooplane.routing.caddy.RouterSettings`.
"""

from odooplane.routing.caddy import RouterSettings
from odooplane.routing.router import Router, RouterStatus, router_for
from odooplane.routing.table import Route, RouteMode, Upstream

__all__ = [
    "Route",
    "RouteMode",
    "Router",
    "RouterSettings",
    "RouterStatus",
    "Upstream",
    "router_for",
]
