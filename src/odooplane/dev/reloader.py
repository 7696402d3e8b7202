"""What ``odooplane dev`` does about a batch of changes: the reload plan.

The strategy, measured on Odoo 17 (see docs/dev.md): Python is reloaded by forking a new
child from a warm parent that already imported Odoo (:mod:`odooplane.dev.warm`); views
and QWeb templates need nothing (``--dev=xml,qweb`` reads them from their files); data
files, changed fields, manifest versions and new addons need a module upgrade or install,
done by the new child itself when ``--auto-upgrade`` is on, otherwise proposed; assets
only need the browser told (``css`` when only stylesheets changed, else ``reload``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from odooplane.dev.watcher import Change, ChangeKind

_RELOAD_KINDS = {ChangeKind.asset_js, ChangeKind.asset_xml, ChangeKind.view}


@dataclass
class Plan:
    """What to do for one batch of changes."""

    changes: list[Change] = field(default_factory=list)
    restart_all: bool = False  # configuration: a new warm parent with a new odoo.conf
    restart_python: bool = False  # a new child generation
    check_files: list[Path] = field(default_factory=list)  # compiled before switching
    update: set[str] = field(default_factory=set)  # modules needing `-u`
    install: set[str] = field(default_factory=set)  # new addons needing `-i`
    browser: str | None = None  # "reload" | "css" | None
    reasons: list[str] = field(default_factory=list)

    @property
    def needs_migration(self) -> bool:
        return bool(self.update or self.install)

    @property
    def empty(self) -> bool:
        return not (self.restart_all or self.restart_python or self.needs_migration or self.browser)


def plan_for(
    changes: Iterable[Change], *, installed: set[str], to_install: Iterable[str] = ()
) -> Plan:
    """The plan for ``changes``; ``installed`` are the modules installed in the database
    (an addon nobody installed needs no upgrade, only a restart when it is Python).
    ``to_install`` are new addons whose install is still pending (proposed, or failed):
    a save in one of them asks for the install again, since it may be the fix."""
    plan = Plan(changes=list(changes))
    retry = set(to_install) - installed
    css_only = True
    for change in plan.changes:
        kind = change.kind
        addon = change.addon
        if kind is ChangeKind.other:
            continue
        if kind is not ChangeKind.asset_css:
            css_only = False
        if kind is ChangeKind.config:
            plan.restart_all = True
            plan.reasons.append(f"{change.path.name} changed")
        elif kind is ChangeKind.python:
            plan.restart_python = True
            plan.check_files.append(change.path)
        elif kind is ChangeKind.schema:
            plan.restart_python = True
            if change.path.suffix == ".py":
                plan.check_files.append(change.path)
            if addon and addon in installed:
                plan.update.add(addon)
                plan.reasons.append(f"{addon}: {change.detail or 'schema changed'}")
        elif kind is ChangeKind.manifest:
            plan.restart_python = True
        elif kind is ChangeKind.data:
            if addon and addon in installed:
                plan.update.add(addon)
                plan.reasons.append(f"{addon}: {change.path.name} {change.detail or 'changed'}")
        elif kind is ChangeKind.new_addon and addon and addon not in installed:
            plan.install.add(addon)
            plan.reasons.append(f"new addon {addon}")
        if addon in retry and addon not in plan.install:
            plan.install.add(addon)
            plan.reasons.append(f"new addon {addon}: {change.path.name} changed")
        if kind in _RELOAD_KINDS:
            plan.browser = "reload"
    if plan.browser is None and any(c.kind is ChangeKind.asset_css for c in plan.changes):
        plan.browser = "css" if css_only else "reload"
    if plan.restart_all or plan.needs_migration:
        plan.browser = "reload"
    plan.check_files = list(dict.fromkeys(plan.check_files))
    return plan
