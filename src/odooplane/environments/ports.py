"""The port registry of environments: HTTP and gevent (websocket) ports, without collisions.

Each environment keeps its ports for its whole life, so its URL does not move between
restarts. Allocations are recorded in a machine-wide registry in the user's cache
(``ports.json``, guarded by a file lock), keyed by project folder and environment, so
two projects on one machine never hand out the same port even while one of them is
stopped. Every port handed out is also verified free by binding it. An explicit
``http_port``/``gevent_port`` in an environment's ``odoo_options`` wins; if something
else listens there, starting fails with a sentence naming the process.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import filelock

from odooplane.errors import ConfigError, RefusedError
from odooplane.fsutil import read_json, write_json_atomic
from odooplane.paths import cache_dir
from odooplane.ports import is_port_free, port_range

RANGE_ENV = "ODOOPLANE_PORT_RANGE"
DEFAULT_RANGE = (8069, 8999)


@dataclass(frozen=True)
class PortPair:
    http: int
    gevent: int


def _registry_path() -> Path:
    return cache_dir() / "ports.json"


def _key(project_root: Path, env: str) -> str:
    return f"{project_root.resolve()}::{env}"


def _load(path: Path) -> dict[str, dict[str, int]]:
    try:
        data = read_json(path, default={})
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        return {}
    cleaned: dict[str, dict[str, int]] = {}
    for key, value in data.items():
        root = key.split("::", 1)[0]
        # Projects whose state folder is gone (deleted, or a test's temporary folder)
        # give their ports back.
        if isinstance(value, dict) and Path(root, ".odooplane").is_dir():
            cleaned[key] = {k: int(v) for k, v in value.items() if isinstance(v, int)}
    return cleaned


def _used(registry: dict[str, dict[str, int]], skip: str) -> set[int]:
    used: set[int] = set()
    for key, value in registry.items():
        if key != skip:
            used.update(value.values())
    return used


def _first_free(low: int, high: int, taken: Iterable[int]) -> int:
    avoid = set(taken)
    for port in range(low, high + 1):
        if port not in avoid and is_port_free(port):
            return port
    raise RefusedError(
        f"No free port left between {low} and {high}.",
        hint=f"Destroy unused environments or widen the range with {RANGE_ENV}=LOW-HIGH.",
    )


def allocate(
    project_root: Path,
    env: str,
    *,
    http: int | None = None,
    gevent: int | None = None,
    current: PortPair | None = None,
) -> PortPair:
    """The ports of ``env``: explicit ones, else its current ones, else new free ones.

    A current allocation is kept even when the port is busy right now (it may be the
    environment's own running Odoo); the caller checks freedom before starting.
    """
    path = _registry_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = _key(project_root, env)
    with filelock.FileLock(str(path) + ".lock", timeout=30):
        registry = _load(path)
        mine = registry.get(key, {})
        taken = _used(registry, key)
        low, high = port_range(RANGE_ENV, DEFAULT_RANGE)
        chosen: dict[str, int] = {}
        for role, explicit in (("http", http), ("gevent", gevent)):
            if explicit is not None:
                port = explicit
            elif current is not None:
                port = getattr(current, role)
            elif role in mine:
                port = mine[role]
            else:
                port = _first_free(low, high, taken | set(mine.values()) | set(chosen.values()))
            if port in taken:
                owner = next(k for k, v in registry.items() if k != key and port in v.values())
                raise RefusedError(
                    f"Port {port} wanted for {role} of environment '{env}' is already "
                    f"allocated to {owner.replace('::', ' environment ')}.",
                    hint="Choose another port in odoo_options, or destroy that environment.",
                )
            chosen[role] = port
        if chosen["http"] == chosen["gevent"]:
            raise ConfigError(
                f"Environment '{env}' would use port {chosen['http']} for both HTTP and gevent.",
                hint="Set different http_port and gevent_port in its odoo_options.",
            )
        registry[key] = {**mine, **chosen}
        write_json_atomic(path, registry)
    return PortPair(http=chosen["http"], gevent=chosen["gevent"])


def allocate_internal(project_root: Path, env: str, roles: Iterable[str]) -> dict[str, int]:
    """Ports of ``env`` for ``roles`` (e.g. ``blue_http``), kept for its whole life like
    its own; only odooplane's processes use them, on 127.0.0.1."""
    path = _registry_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = _key(project_root, env)
    with filelock.FileLock(str(path) + ".lock", timeout=30):
        registry = _load(path)
        mine = dict(registry.get(key, {}))
        taken = _used(registry, key) | set(mine.values())
        low, high = port_range(RANGE_ENV, DEFAULT_RANGE)
        chosen: dict[str, int] = {}
        for role in roles:
            if role in mine:
                chosen[role] = mine[role]
                continue
            port = _first_free(low, high, taken)
            taken.add(port)
            mine[role] = chosen[role] = port
        if mine != registry.get(key):
            registry[key] = mine
            write_json_atomic(path, registry)
    return chosen


def release(project_root: Path, env: str) -> None:
    path = _registry_path()
    if not path.exists():
        return
    with filelock.FileLock(str(path) + ".lock", timeout=30):
        registry = _load(path)
        if registry.pop(_key(project_root, env), None) is not None:
            write_json_atomic(path, registry)
