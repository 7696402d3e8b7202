"""Odoo's Python API as odooplane drives it from *inside* the runtime's interpreter.

The warm pre-forked server of ``odooplane dev`` imports Odoo and calls into it directly,
and ``env cron-run`` runs a script in ``odoo-bin shell``; what they call moved between
series, and this file is where that knowledge lives (the rest of odooplane reaches Odoo
through command lines, see :mod:`odooplane.odoo.series`):

========================  ===============================  ==============================
                          16.0, 17.0, 18.0                 19.0
========================  ===============================  ==============================
``odoo`` package          regular: ``import odoo`` loads   namespace: every submodule is
                          ``odoo.api``, ``odoo.tools``...  imported by name
registry class            ``odoo.modules.registry``        ``odoo.orm.registry`` (the old
                                                           path re-exports it)
install/update modules    ``config['init'|'update']``      ``Registry.new(install_modules=,
                          then ``Registry.new(db,          upgrade_modules=)``; the config
                          update_module=True)``            dicts are ignored
``ir.http.routing_map``   any thread                       reads ``current_thread().dbname``
superuser id              ``odoo.SUPERUSER_ID``            ``odoo.api.SUPERUSER_ID``
``ir.cron`` "Run          raises the job's exception       runs the job as the scheduler
Manually"                                                  does and *returns* its error
                                                           as a ``display_exception``
                                                           client action
========================  ===============================  ==============================

It runs in the runtime's Python, which has Odoo's requirements and not odooplane's: it
imports nothing from odooplane and is loaded by path.
"""

from __future__ import annotations

import importlib
import sys
import threading
from typing import Any


def major() -> int:
    """The major version of the Odoo imported in this interpreter."""
    release: Any = importlib.import_module("odoo.release")
    return int(release.version_info[0])


def import_odoo() -> Any:
    """Import what the server needs and return the ``odoo`` package with its submodules
    bound as attributes (explicit imports: from 19.0 on ``odoo`` is a namespace)."""
    for name in ("odoo.api", "odoo.tools", "odoo.http", "odoo.service.server", "odoo.modules"):
        importlib.import_module(name)
    return sys.modules["odoo"]


def config() -> Any:
    return importlib.import_module("odoo.tools").config


def registry_class() -> Any:
    name = "odoo.orm.registry" if major() >= 19 else "odoo.modules.registry"
    return importlib.import_module(name).Registry


def superuser_id() -> int:
    api: Any = importlib.import_module("odoo.api")
    return int(getattr(api, "SUPERUSER_ID", None) or importlib.import_module("odoo").SUPERUSER_ID)


def load_registry(database: str, *, update: list[str], install: list[str]) -> Any:
    """Load the registry of ``database``, installing ``install`` and updating ``update``
    first; returns the registry that serves afterwards."""
    registry_cls = registry_class()
    threading.current_thread().dbname = database  # type: ignore[attr-defined]
    if major() >= 19:
        registry_cls.new(
            database,
            update_module=bool(update or install),
            install_modules=tuple(install),
            upgrade_modules=tuple(update),
        )
    else:
        conf = config()
        for name in update:
            conf["update"][name] = 1
        for name in install:
            conf["init"][name] = 1
        try:
            registry_cls.new(database, update_module=bool(update or install))
        finally:
            conf["update"].clear()
            conf["init"].clear()
    return registry_cls(database)


def warm_routing(registry: Any) -> None:
    """Build the routing map now rather than on the first request (19.0 looks the
    database up on the current thread, so that is set first)."""
    threading.current_thread().dbname = registry.db_name  # type: ignore[attr-defined]
    api: Any = importlib.import_module("odoo.api")
    with registry.cursor() as cr:
        api.Environment(cr, superuser_id(), {})["ir.http"].routing_map()


def trigger_cron(cron: Any) -> tuple[str, str] | None:
    """Run ``cron`` now as its "Run Manually" button does: None when the job succeeded,
    else (error, traceback). A failure raises up to 18.0; 19.0 logs it and returns it."""
    answer = cron.method_direct_trigger()
    if not (isinstance(answer, dict) and answer.get("tag") == "display_exception"):
        return None
    data = (answer.get("params") or {}).get("data") or {}
    debug = str(data.get("debug") or "")
    # 19.0 wraps the job's exception as the cause of an empty RuntimeError: the line
    # that names it ends the first traceback of the chain.
    first = debug.split("The above exception was the direct cause")[0].strip().splitlines()
    error = str(data.get("message") or "") or (first[-1] if first else "the job failed")
    return error, debug
