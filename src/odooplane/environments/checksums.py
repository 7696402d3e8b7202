"""Which addons a deployment must install or update (the rule of OCA's module updater).

Each addon's files are hashed (compiled files, caches and hidden files left out) and
the hashes of the last successful deployment are stored in the database itself, in the
system parameter ``odooplane.addon_checksums``: a database copied from another
environment carries the hashes that match its code. An installed addon is updated when
its hash differs from the stored one, when none is stored, or when its manifest version
differs from the installed one (a version bump without file changes still runs its
migrations). Addons wanted but not installed are installed. When the Odoo source
revision differs from the one stored in ``odooplane.odoo_revision``, everything
installed is updated (``-u all``), since Odoo's own modules may have changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

from odooplane.odoo.addons import addon_checksum
from odooplane.odoo.manifest import Addon
from odooplane.odoo.series import for_series
from odooplane.results import Result

CHECKSUMS_PARAM = "odooplane.addon_checksums"
REVISION_PARAM = "odooplane.odoo_revision"
INSTALLED_STATES = ("installed", "to upgrade", "to remove")


def checksums_of(addons: Iterable[Addon]) -> dict[str, str]:
    return {addon.name: addon_checksum(addon.path) for addon in addons}


def adapt_version(version: str, series: str) -> str:
    """The version Odoo stores for a manifest version (``1.0`` -> ``17.0.1.0``); one the
    series refuses stays as written."""
    return for_series(series).manifest_version(version) or version


@dataclass(frozen=True)
class ModuleRow:
    name: str
    state: str
    latest_version: str | None


def installed_modules(conn: psycopg.Connection[Any]) -> dict[str, ModuleRow]:
    """Every module row of an Odoo database (all states)."""
    with conn.cursor() as cur:
        cur.execute("SELECT name, state, latest_version FROM ir_module_module")
        return {row[0]: ModuleRow(row[0], row[1], row[2]) for row in cur.fetchall()}


def _param(conn: psycopg.Connection[Any], key: str) -> str | None:
    with conn.cursor() as cur:
        cur.execute("SELECT value FROM ir_config_parameter WHERE key = %s", (key,))
        row = cur.fetchone()
    return str(row[0]) if row and row[0] is not None else None


def stored_checksums(conn: psycopg.Connection[Any]) -> dict[str, str]:
    raw = _param(conn, CHECKSUMS_PARAM)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def stored_revision(conn: psycopg.Connection[Any]) -> str | None:
    return _param(conn, REVISION_PARAM)


def _set_param(conn: psycopg.Connection[Any], key: str, value: str) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO ir_config_parameter "
            "(key, value, create_uid, create_date, write_uid, write_date) "
            "VALUES (%s, %s, 1, now() AT TIME ZONE 'UTC', 1, now() AT TIME ZONE 'UTC') "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, "
            "write_uid = 1, write_date = EXCLUDED.write_date",
            (key, value),
        )


def store_checksums(
    conn: psycopg.Connection[Any], checksums: Mapping[str, str], odoo_revision: str
) -> None:
    """Record what is now installed (the addons present in the database only)."""
    present = installed_modules(conn)
    kept = {
        name: value
        for name, value in sorted(checksums.items())
        if name in present and present[name].state == "installed"
    }
    _set_param(conn, CHECKSUMS_PARAM, json.dumps(kept, sort_keys=True))
    _set_param(conn, REVISION_PARAM, odoo_revision)


@dataclass
class UpdatePlan(Result):
    install: list[str] = field(default_factory=list)
    update: list[str] = field(default_factory=list)
    update_all: bool = False
    reasons: dict[str, str] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.install or self.update or self.update_all)


def plan_update(
    addons: Iterable[Addon],
    modules: Mapping[str, ModuleRow],
    stored: Mapping[str, str],
    *,
    wanted: Iterable[str],
    series: str,
    odoo_revision: str,
    previous_revision: str | None,
) -> UpdatePlan:
    """What to install and update in a database holding ``modules``."""
    plan = UpdatePlan()
    project = {addon.name: addon for addon in addons}
    for name in sorted(set(wanted)):
        row = modules.get(name)
        if row is None or row.state in ("uninstalled", "to install"):
            plan.install.append(name)
            plan.reasons[name] = "not installed yet"
    if previous_revision is not None and previous_revision != odoo_revision:
        plan.update_all = True
        plan.reasons["all"] = (
            f"the Odoo source changed ({previous_revision[:12]} -> {odoo_revision[:12]})"
        )
    for name, addon in sorted(project.items()):
        row = modules.get(name)
        if row is None or row.state not in INSTALLED_STATES or name in plan.install:
            continue
        current = addon_checksum(addon.path)
        manifest_version = adapt_version(addon.version or "1.0", series)
        if row.latest_version and manifest_version != row.latest_version:
            plan.update.append(name)
            plan.reasons[name] = f"version {row.latest_version} -> {manifest_version}"
        elif name not in stored:
            plan.update.append(name)
            plan.reasons[name] = "no checksum recorded for it yet"
        elif stored[name] != current:
            plan.update.append(name)
            plan.reasons[name] = "its files changed"
        else:
            plan.unchanged.append(name)
    return plan
