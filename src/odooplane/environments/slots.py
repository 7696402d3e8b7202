"""Blue/green slots: two places an environment's Odoo can run, one of them serving.

An environment has two slots, ``blue`` and ``green``. Each is a program of the
environment's backend named ``<env>.<slot>`` (a dot never appears in an environment
name), with its own internal ports on 127.0.0.1, its own ``odoo-<slot>.conf`` and log.
The environment's own address belongs to the front door (Caddy,
:mod:`~odooplane.environments.front`), which sends requests to the serving slot. A
deploy starts the new build in the other slot, checks it, switches the front door to
it and stops the old one: the old build's program stays defined, ready to start again.

An environment created before slots has one program named after it, listening on the
environment's address itself (``state.slot`` is None): the first start or deploy after
the upgrade stops it, removes it, and starts the serving slot behind the front door.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from odooplane.environments import ports
from odooplane.environments.context import EnvContext
from odooplane.environments.state import EnvState

SLOTS = ("blue", "green")
FIRST = "blue"


@dataclass(frozen=True)
class Slot:
    """One slot of an environment, with its internal ports."""

    env: str
    name: str
    http: int
    gevent: int

    @property
    def program(self) -> str:
        return program_name(self.env, self.name)

    @property
    def pair(self) -> ports.PortPair:
        return ports.PortPair(self.http, self.gevent)

    @property
    def local_url(self) -> str:
        return f"http://127.0.0.1:{self.http}"


def program_name(env: str, slot: str) -> str:
    return f"{env}.{slot}"


def other(slot: str | None) -> str:
    """The slot that is not ``slot`` (the first one when there is none yet)."""
    if slot is None:
        return FIRST
    return SLOTS[1] if slot == SLOTS[0] else SLOTS[0]


def slot(ctx: EnvContext, state: EnvState, name: str) -> Slot:
    """Slot ``name`` of the environment, its internal ports allocated (once, for good)."""
    chosen = ports.allocate_internal(
        ctx.project.root, ctx.name, (f"{name}_http", f"{name}_gevent")
    )
    entry = state.slots.setdefault(name, {})
    entry["http"], entry["gevent"] = chosen[f"{name}_http"], chosen[f"{name}_gevent"]
    return Slot(ctx.name, name, chosen[f"{name}_http"], chosen[f"{name}_gevent"])


def serving(ctx: EnvContext, state: EnvState) -> Slot | None:
    """The slot recorded as serving (None before the first start behind the front door)."""
    return slot(ctx, state, state.slot) if state.slot else None


def conf_path(ctx: EnvContext, name: str) -> Path:
    return ctx.dir / f"odoo-{name}.conf"


def log_path(ctx: EnvContext, name: str) -> Path:
    return ctx.dir / f"odoo-{name}.log"


def programs(env: str) -> list[str]:
    """Every program an environment may have: its slots, and the one from before slots."""
    return [program_name(env, name) for name in SLOTS] + [env]
