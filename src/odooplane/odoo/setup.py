"""What ``odooplane odoo setup | info | addons`` do, as functions returning data."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odooplane.config import GitSource
from odooplane.errors import NotFoundError
from odooplane.odoo.addons import dependency_order, discover_addons, project_addons_paths
from odooplane.odoo.manifest import Addon
from odooplane.odoo.runtime import Installer, Runtime, ensure_runtime, runtime_status
from odooplane.odoo.source import OdooSource, configured_path, resolve_source
from odooplane.progress import Progress
from odooplane.results import Result

if TYPE_CHECKING:
    from odooplane.project import Project


@dataclass(frozen=True)
class OdooSetup(Result):
    """The Odoo source and runtime ``odoo setup`` made sure of."""

    source: OdooSource
    runtime: Runtime
    state: str  # "built" or "reused"
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source.to_dict(),
            "runtime": {**self.runtime.to_dict(), "state": self.state},
            "seconds": self.seconds,
        }


@dataclass(frozen=True)
class AddonRow(Result):
    name: str
    version: str
    path: Path
    depends: list[str]
    installable: bool
    python: list[str]


@dataclass(frozen=True)
class AddonsOverview(Result):
    """The project's addons in install order, with what they need."""

    addons_paths: list[Path]
    addons: list[AddonRow]


def setup_odoo(
    project: Project,
    *,
    rebuild: bool = False,
    update_source: bool = False,
    installer: Installer | None = None,
    progress: Progress | None = None,
) -> OdooSetup:
    """Make sure of the Odoo source (fetching a git source) and of the runtime."""
    started = time.monotonic()
    source = resolve_source(
        project.config.odoo, project.root, progress=progress, update=update_source
    )
    status = runtime_status(project, source)
    was_ready = status.runtime is not None
    runtime = ensure_runtime(
        project, source, progress=progress, rebuild=rebuild, installer=installer
    )
    return OdooSetup(
        source=source,
        runtime=runtime,
        state="reused" if was_ready and not rebuild else "built",
        seconds=round(time.monotonic() - started, 1),
    )


def odoo_info(project: Project) -> dict[str, Any]:
    """The source and runtime of a project as they are now; fetches and builds nothing."""
    config = project.config.odoo
    source_info: dict[str, Any] = {
        "configured": config.source.model_dump()
        if isinstance(config.source, GitSource)
        else config.source,
        "path": str(configured_path(config, project.root)),
        "series_configured": config.series,
    }
    try:
        source = resolve_source(config, project.root, fetch=False)
    except NotFoundError as exc:
        source_info["state"] = "not fetched"
        source_info["message"] = exc.message
        return {"source": source_info, "runtime": {"state": "unknown"}}
    source_info.update(source.to_dict())
    source_info["state"] = "ready"
    status = runtime_status(project, source)
    runtime = status.to_dict()
    if status.runtime is None:
        runtime["hint"] = "Run `odooplane odoo setup` to build it."
    return {"source": source_info, "runtime": runtime}


def addons_overview(project: Project) -> AddonsOverview:
    """The project's addons in install order (dependencies first), with what they need.

    Dependencies outside the project (Odoo's own modules) are listed, not ordered."""
    addons = discover_addons(project_addons_paths(project))
    order = _project_order(addons)
    return AddonsOverview(
        addons_paths=project_addons_paths(project),
        addons=[
            AddonRow(
                name=name,
                version=addons[name].version,
                path=addons[name].path,
                depends=addons[name].depends,
                installable=addons[name].installable,
                python=addons[name].python_dependencies,
            )
            for name in order
        ],
    )


def _project_order(addons: dict[str, Addon]) -> list[str]:
    # Order the project's addons among themselves; a dependency outside the project (an
    # Odoo module) is installed before any of them anyway.
    inner = {
        name: Addon(
            name=name,
            path=addon.path,
            manifest={**addon.manifest, "depends": [d for d in addon.depends if d in addons]},
        )
        for name, addon in addons.items()
    }
    return dependency_order(inner)
