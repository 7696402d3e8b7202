"""The front door of environments: the project's Caddy holds each environment's address.

People reach an environment at its own port (``state.http_port``, on 127.0.0.1) and at
the hostnames of its route; Caddy (:mod:`odooplane.routing`) sends their requests to the
serving slot's Odoo on its internal ports. The lifecycle owns each environment's route:
starting serves the slot, a code-only deploy switches it atomically to the new slot
(requests in flight finish on the old one), a deploy that changes modules puts up a
maintenance page (503 with ``Retry-After``) while it does, and a stopped or crashed Odoo
gets Caddy's "not answering" page, never a refused connection. Hostnames and the wake
command already on a route (previews set them) are kept.
"""

from __future__ import annotations

from odooplane.environments.builds import Build
from odooplane.environments.context import EnvContext
from odooplane.environments.slots import Slot
from odooplane.environments.state import EnvState
from odooplane.errors import RefusedError
from odooplane.odoo.series import for_series
from odooplane.routing import Route, RouteMode, Router, Upstream, router_for

# What a maintenance page tells browsers and clients: come back in this many seconds.
MAINTENANCE_RETRY_AFTER = 15


def router(ctx: EnvContext) -> Router:
    return router_for(ctx.project)


def upstream(ctx: EnvContext, slot: Slot, b: Build) -> Upstream:
    """Where slot ``slot`` running ``b`` answers: its HTTP port, and with workers its
    gevent port for the websocket (or longpolling) paths of the series."""
    return Upstream(
        slot.http,
        slot.gevent if ctx.config.workers else None,
        websocket_paths=for_series(b.odoo_series).gevent_paths,
    )


def route(ctx: EnvContext, state: EnvState, slot: Slot, b: Build) -> Route | None:
    """Serve the environment's address from ``slot`` (creating its route, ending any
    maintenance), keeping the hostnames and wake command already on the route. A backend
    serving elsewhere (a cluster: its Service and Ingress) switches its own front door."""
    if not ctx.backend.serves_here:
        ctx.backend.serve(ctx.name, slot.program)
        return None
    if not state.http_port:
        raise RefusedError(f"Environment '{ctx.name}' has no port yet.")
    door = router(ctx)
    current = door.get(ctx.name)
    return door.route(
        ctx.name,
        listen_port=state.http_port,
        hostnames=current.hostnames if current is not None else (),
        upstream=upstream(ctx, slot, b),
    )


def switch(ctx: EnvContext, slot: Slot, b: Build) -> Upstream | None:
    """Send the environment's next requests to ``slot`` atomically, ending a maintenance
    page; returns the upstream served before."""
    if not ctx.backend.serves_here:
        ctx.backend.serve(ctx.name, slot.program)
        return None
    door = router(ctx)
    previous = door.switch_upstream(ctx.name, upstream(ctx, slot, b))
    current = door.get(ctx.name)
    if current is not None and current.mode is RouteMode.maintenance:
        door.maintenance(ctx.name, False)
    return previous


def maintenance(ctx: EnvContext, message: str) -> None:
    """Answer every request with the maintenance page (503, ``Retry-After``)."""
    if not ctx.backend.serves_here:
        ctx.backend.maintenance(ctx.name, message)
        return
    router(ctx).maintenance(ctx.name, True, retry_after=MAINTENANCE_RETRY_AFTER, message=message)


def serving(ctx: EnvContext) -> Route | None:
    """The environment's route as Caddy has it (the truth about what users reach)."""
    return router(ctx).get(ctx.name)


def served_port(ctx: EnvContext) -> int | None:
    """The internal HTTP port the front door sends requests to (None: no route, or not
    serving an upstream)."""
    current = serving(ctx)
    if current is None or current.upstream is None:
        return None
    return current.upstream.http_port
