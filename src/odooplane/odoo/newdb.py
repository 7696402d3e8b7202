"""New Odoo databases, cloned from cached templates instead of initialized each time.

Initializing a database (``odoo-bin -i base,web`` with demo data) takes half a minute;
cloning a template of it takes a second. :func:`new_database` makes the database a
caller asks for (these modules installed, with or without demo data) from up to two
template layers, each keyed by everything that went into it
(:class:`~odooplane.postgres.templates.TemplateKey`) and built only when its key is new:

1. ``odoo``: Odoo's own modules that the wanted modules depend on (``base`` and ``web``
   always), with or without demo data, built with only Odoo's addons on the path, so
   every project on the same server shares it. Key: series, Odoo source revision,
   dependencies hash, the module set, demo, ``load_language``.
2. ``project``: the project's addons (and helper addons such as the dev live reload)
   installed on a clone of layer 1. Key: layer 1's digest, the module set, and the
   checksum of every addon of the layer that is not Odoo's own: editing one of them
   gives a new key, hence a rebuild of this layer only.

When a project addon replaces one of Odoo's modules that other Odoo modules depend on,
everything goes into one ``project`` layer (its key then holds the whole module set).

Templates live on the database server (:mod:`odooplane.postgres.templates`); the
database is created by ``CREATE DATABASE ... TEMPLATE`` plus a hard-linked copy of the
template's filestore. Nothing ever connects to a template but the clone.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from odooplane.errors import UsageError
from odooplane.odoo.addons import (
    addon_checksum,
    addons_path,
    dependency_closure,
    discover_addons,
)
from odooplane.odoo.manifest import Addon
from odooplane.odoo.process import initialize_database
from odooplane.postgres.templates import (
    TemplateClone,
    TemplateKey,
    TemplateUse,
    clone_template,
    ensure_template,
)
from odooplane.progress import Progress, report
from odooplane.results import Result

if TYPE_CHECKING:
    from odooplane.odoo.runtime import Runtime
    from odooplane.odoo.source import OdooSource
    from odooplane.postgres.server import DatabaseServer
    from odooplane.project import Project

BASE_MODULES = ("base", "web")
BUILD_TIMEOUT = 3600.0


@dataclass(frozen=True)
class Layer(Result):
    """One template layer a database is made of: its key and the modules ``-i`` installs
    (their dependencies come along)."""

    name: str
    key: TemplateKey
    install: tuple[str, ...]
    holds: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "database": self.key.database,
            "digest": self.key.digest,
            "install": list(self.install),
            "holds": list(self.holds),
            "key": dict(self.key.parts),
        }


@dataclass(frozen=True)
class NewDatabase(Result):
    """A database made from templates: which layers were found or built, the clone."""

    database: str
    modules: list[str]
    demo: bool
    layers: list[TemplateUse]
    clone: TemplateClone
    seconds: float

    @property
    def built(self) -> list[str]:
        """The layers this call had to build with Odoo (neither cached nor exported)."""
        return [u.template.layer for u in self.layers if u.outcome == "built"]

    @property
    def hit(self) -> bool:
        """True when the database was only cloned: every layer it needed was on the
        server already (or being built by another process)."""
        return all(u.outcome in ("hit", "waited") for u in self.layers)

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "built": self.built, "hit": self.hit}


def wanted_modules(code: Project, configured: Sequence[str] = ()) -> list[str]:
    """What a new database of an environment gets: its ``modules`` when configured,
    else every installable addon of the project (Odoo.sh's "only my modules"), always
    with :data:`BASE_MODULES`. The one rule for ``dev``, ``quickstart``, ``env create``,
    previews and gates."""
    from odooplane.odoo.addons import project_addons

    if configured:
        chosen = list(configured)
    else:
        chosen = sorted(name for name, a in project_addons(code).items() if a.installable)
    return list(dict.fromkeys([*BASE_MODULES, *chosen]))


def plan_layers(
    code: Project,
    source: OdooSource,
    runtime: Runtime,
    modules: Iterable[str],
    *,
    demo: bool,
    extra_addons: Sequence[Path] = (),
    load_language: str | None = None,
) -> list[Layer]:
    """The template layers a database holding ``modules`` is cloned from, bottom first.

    ``code`` is the project whose addons are used (the working tree, or a build's
    export); ``extra_addons`` are folders of helper addons put first on the path.
    """
    wanted = list(dict.fromkeys([*BASE_MODULES, *modules]))
    every = discover_addons(addons_path(code, source, extra=extra_addons))
    closure = dependency_closure(every, wanted)
    odoo_own = discover_addons(source.addons_dirs())
    foreign = {n for n in closure if not _same(every[n], odoo_own.get(n))}
    base_parts = {
        "series": source.series,
        "odoo_revision": source.revision,
        "deps_hash": runtime.deps_hash,
        "demo": demo,
        "load_language": load_language,
    }
    odoo_part = sorted(n for n in closure if n not in foreign)
    layers: list[Layer] = []
    parent_digest: str | None = None
    if foreign and dependency_closure(every, odoo_part) & foreign:
        # An Odoo module here depends on a project's replacement of another: no layer
        # of Odoo's modules alone can exist; the project layer holds it all.
        odoo_part = []
    if odoo_part:
        key = TemplateKey(
            "odoo",
            lineage=f"odoo-{source.series}-{'demo' if demo else 'nodemo'}",
            parts={**base_parts, "modules": odoo_part},
        )
        layers.append(Layer("odoo", key, tuple(odoo_part), tuple(odoo_part)))
        parent_digest = key.digest
    rest = sorted(closure - set(odoo_part))
    if rest:
        held = sorted(closure) if not odoo_part else rest
        checksums = {n: addon_checksum(every[n].path) for n in sorted(foreign)}
        key = TemplateKey(
            "project",
            lineage=f"project-{code.config.project}-{'demo' if demo else 'nodemo'}",
            parts={
                **base_parts,
                "parent": parent_digest,
                "modules": held,
                "checksums": checksums,
            },
        )
        install = [m for m in wanted if m in rest] or rest
        layers.append(Layer("project", key, tuple(install), tuple(held)))
    return layers


def _same(a: Addon, b: Addon | None) -> bool:
    return b is not None and a.path.resolve() == b.path.resolve()


def new_database(
    code: Project,
    source: OdooSource,
    runtime: Runtime,
    server: DatabaseServer,
    database: str,
    *,
    modules: Iterable[str],
    demo: bool,
    filestore_root: Path,
    extra_addons: Sequence[Path] = (),
    load_language: str | None = None,
    progress: Progress | None = None,
) -> NewDatabase:
    """Create ``database`` holding ``modules`` (and :data:`BASE_MODULES`), with or without
    demo data, as a clone of cached templates; the templates missing are built first
    (under a lock: two callers never build the same one). ``filestore_root`` is where
    the new database's filestore goes (``<data_dir>/filestore``)."""
    started = time.monotonic()
    wanted = list(dict.fromkeys([*BASE_MODULES, *modules]))
    layers = plan_layers(
        code,
        source,
        runtime,
        wanted,
        demo=demo,
        extra_addons=extra_addons,
        load_language=load_language,
    )
    if not layers:
        raise UsageError("No module to install: name at least one.")
    uses: list[TemplateUse] = []

    def ensure(index: int) -> TemplateUse:
        # From the top: a layer found (or restored from its export) needs none below it.
        layer = layers[index]
        below = layers[index - 1] if index else None

        def build(building: str, data_dir: Path) -> None:
            if below is not None:
                parent = ensure(index - 1)
                uses.append(parent)
                clone_template(
                    server,
                    parent.template,
                    building,
                    filestore_root=data_dir / "filestore",
                    progress=progress,
                )
            paths = (
                source.addons_dirs()
                if layer.name == "odoo"
                else addons_path(code, source, extra=extra_addons)
            )
            report(
                progress, f"installing {_short(layer.install)} ({'demo' if demo else 'no demo'})"
            )
            initialize_database(
                code,
                source,
                runtime,
                server,
                building,
                list(layer.install),
                demo=demo,
                timeout=BUILD_TIMEOUT,
                extra_options={"load_language": load_language} if load_language else None,
                addons_paths=paths,
                data_dir=data_dir,
            )

        return ensure_template(
            server,
            layer.key,
            build,
            parent=below.key.database if below else None,
            progress=progress,
            label=f"{layer.name} layer ({_short(layer.holds)}, {'demo' if demo else 'no demo'})",
        )

    top = ensure(len(layers) - 1)
    uses.append(top)
    clone = clone_template(
        server, top.template, database, filestore_root=filestore_root, progress=progress
    )
    new_identity(server, database)
    return NewDatabase(
        database=database,
        modules=wanted,
        demo=demo,
        layers=uses,
        clone=clone,
        seconds=round(time.monotonic() - started, 2),
    )


def new_identity(server: DatabaseServer, database: str) -> None:
    """Give a copied Odoo database its own ``database.uuid``, ``database.secret`` (what
    Odoo signs tokens with) and ``database.create_date``, as Odoo's own duplicate does
    (``ir.config_parameter.init(force=True)``): copies of one template share nothing."""
    values = {
        "database.uuid": str(uuid.uuid1()),
        "database.secret": str(uuid.uuid4()),
        "database.create_date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
    }
    with server.connect(database) as conn, conn.transaction():
        for key, value in values.items():
            conn.execute(
                "UPDATE ir_config_parameter SET value = %s, write_date = now() AT TIME ZONE "
                "'UTC' WHERE key = %s",
                (value, key),
            )


def _short(names: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
