"""Addons of a project and of Odoo: the addons path, the dependency graph, Python needs.

The addons path odooplane gives Odoo is the project's addons folders first (so a
project may override a standard module, as on Odoo.sh), then Odoo's ``addons`` folder,
then ``odoo/addons`` (where ``base`` lives).
"""

from __future__ import annotations

import hashlib
import heapq
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from odooplane.errors import ConfigError, NotFoundError
from odooplane.odoo.manifest import (
    Addon,
    addons_paths_of,
    find_addon_dirs,
    manifest_path,
    read_addon,
)
from odooplane.paths import CONFIG_FILENAME

if TYPE_CHECKING:
    from odooplane.odoo.source import OdooSource
    from odooplane.project import Project

# Manifests often name the module to import rather than the distribution to install
# (Odoo itself still says `ldap`). PyPI names for the common ones.
IMPORT_TO_DISTRIBUTION = {
    "barcode": "python-barcode",
    "bs4": "beautifulsoup4",
    "cv2": "opencv-python",
    "crypto": "pycryptodome",
    "dateutil": "python-dateutil",
    "docx": "python-docx",
    "jose": "python-jose",
    "jwt": "PyJWT",
    "ldap": "python-ldap",
    "magic": "python-magic",
    "openssl": "pyOpenSSL",
    "pil": "Pillow",
    "serial": "pyserial",
    "sklearn": "scikit-learn",
    "slugify": "python-slugify",
    "stdnum": "python-stdnum",
    "usb": "pyusb",
    "yaml": "PyYAML",
    "zmq": "pyzmq",
}
# Left out of an addon's checksum: compiled files, caches, editor leftovers, hidden files.
_EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".pot", ".swp", "~")
_EXCLUDED_DIRS = {"__pycache__", "node_modules"}
_REQUIREMENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9_,.-]+\])?\s*([<>=!~;].*)?$")


def discover_addons(paths: Iterable[Path]) -> dict[str, Addon]:
    """Addons directly inside each of ``paths``; the first path holding a name wins, as in
    Odoo."""
    found: dict[str, Addon] = {}
    for folder in paths:
        if not folder.is_dir():
            continue
        for child in sorted(folder.iterdir()):
            if child.name in found or not child.is_dir() or child.name.startswith("."):
                continue
            addon = read_addon(child)
            if addon is not None:
                found[child.name] = addon
    return found


def project_addons_paths(project: Project) -> list[Path]:
    """The project's own addons folders: ``odoo.addons_paths`` (relative to the project
    root) when set, otherwise every folder holding addon folders, submodules included."""
    configured = project.config.odoo.addons_paths
    if not configured:
        return addons_paths_of(find_addon_dirs(project.root))
    paths: list[Path] = []
    for index, raw in enumerate(configured):
        path = (project.root / Path(raw).expanduser()).resolve()
        if not path.is_dir():
            raise ConfigError(
                f"{project.root / CONFIG_FILENAME}: odoo.addons_paths[{index}] '{raw}' is not "
                f"a folder ({path}).",
                hint="List folders that hold addon folders, relative to the project root.",
            )
        if path not in paths:
            paths.append(path)
    return paths


def addons_path(project: Project, source: OdooSource, *, extra: Sequence[Path] = ()) -> list[Path]:
    """The full addons path: ``extra`` (odooplane's own helper addons), the project's
    folders, then Odoo's. Folders holding no addon are left out (Odoo refuses them)."""
    result: list[Path] = []
    for path in [*extra, *project_addons_paths(project), *source.addons_dirs()]:
        resolved = path.resolve()
        if resolved not in result and _holds_addons(resolved):
            result.append(resolved)
    return result


def _holds_addons(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    return any(
        child.is_dir()
        and ((child / "__manifest__.py").is_file() or (child / "__openerp__.py").is_file())
        for child in folder.iterdir()
    )


def project_addons(project: Project) -> dict[str, Addon]:
    """The project's addons by name (installable or not)."""
    return discover_addons(project_addons_paths(project))


def all_addons(project: Project, source: OdooSource) -> dict[str, Addon]:
    """Every addon Odoo would see with :func:`addons_path`."""
    return discover_addons(addons_path(project, source))


def addon_checksum(folder: Path) -> str:
    """SHA-256 over the relative paths and contents of an addon's files, in order."""
    digest = hashlib.sha256()
    files: list[Path] = []
    for current, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _EXCLUDED_DIRS and not d.startswith("."))
        for name in names:
            if name.startswith(".") or name.endswith(_EXCLUDED_SUFFIXES):
                continue
            files.append(Path(current, name))
    for path in sorted(files, key=lambda p: p.relative_to(folder).as_posix()):
        rel = path.relative_to(folder).as_posix()
        digest.update(rel.encode() + b"\0")
        if path.is_symlink():
            digest.update(b"link:" + os.readlink(path).encode())
        else:
            digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


# -- dependency graph ------------------------------------------------------------------


def missing_dependencies(addons: Mapping[str, Addon], names: Iterable[str]) -> dict[str, list[str]]:
    """For each addon reachable from ``names``: the dependencies not in ``addons``.
    A name itself missing from ``addons`` is reported under the key ``""``."""
    missing: dict[str, list[str]] = {}
    seen: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        addon = addons.get(name)
        if addon is None:
            missing.setdefault("", []).append(name)
            continue
        for dep in addon.depends:
            if dep not in addons:
                missing.setdefault(name, []).append(dep)
            else:
                stack.append(dep)
    return {key: sorted(set(values)) for key, values in missing.items()}


def dependency_closure(addons: Mapping[str, Addon], names: Iterable[str]) -> set[str]:
    """``names`` and everything they depend on, transitively; unknown names are errors."""
    wanted = list(names)
    missing = missing_dependencies(addons, wanted)
    if missing:
        raise _missing_error(missing)
    closure: set[str] = set()
    stack = wanted
    while stack:
        name = stack.pop()
        if name not in closure:
            closure.add(name)
            stack.extend(addons[name].depends)
    return closure


def check_installable(addons: Mapping[str, Addon], names: Iterable[str], series: str) -> None:
    """A ConfigError naming the manifest of each addon of ``names`` (or of their
    dependencies) that Odoo ``series`` would not install: marked not installable, or a
    version it refuses (a 17.0 version on 19.0). Odoo itself only logs a warning there
    and ends an ``-i`` with success. Names not in ``addons`` are left to the callers'
    own checks."""
    from odooplane.odoo.series import for_series

    profile = for_series(series)
    problems: list[str] = []
    reachable: set[str] = set()
    stack = [n for n in names if n in addons]
    while stack:
        name = stack.pop()
        if name not in reachable:
            reachable.add(name)
            stack.extend(d for d in addons[name].depends if d in addons)
    for name in sorted(reachable):
        addon = addons[name]
        where = manifest_path(addon.path) or addon.path
        if not addon.installable:
            problems.append(f"{where}: 'installable' is False")
        elif profile.manifest_version(addon.version or "1.0") is None:
            problems.append(
                f"{where}: version '{addon.version}' is not a {series} version "
                f"(use x.y, x.y.z, {series}.x.y or {series}.x.y.z)"
            )
    if problems:
        raise ConfigError(
            f"Odoo {series} would not install {len(problems)} addon(s):\n  "
            + "\n  ".join(problems),
            hint="Fix the manifest(s) above; Odoo only logs a warning and skips them.",
        )


def dependency_order(addons: Mapping[str, Addon], names: Iterable[str] | None = None) -> list[str]:
    """Topological order (dependencies first) of ``names`` and their dependencies, or of
    all ``addons``; ties are broken alphabetically so the order is stable. A cycle is a
    ConfigError naming it."""
    selected = set(addons) if names is None else dependency_closure(addons, names)
    if names is None:
        missing = missing_dependencies(addons, selected)
        if missing:
            raise _missing_error(missing)
    indegree = {name: 0 for name in selected}
    dependents: dict[str, list[str]] = {name: [] for name in selected}
    for name in selected:
        for dep in set(addons[name].depends):
            indegree[name] += 1
            dependents[dep].append(name)
    ready = [name for name, degree in indegree.items() if degree == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        for child in dependents[name]:
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(ready, child)
    if len(order) != len(selected):
        cycle = _find_cycle(addons, {n for n, d in indegree.items() if d > 0})
        raise ConfigError(
            "Addons depend on each other in a circle: " + " -> ".join(cycle) + ".",
            hint="Remove one of these `depends` entries from its __manifest__.py.",
        )
    return order


def dependents_of(addons: Mapping[str, Addon], names: Iterable[str]) -> set[str]:
    """Every addon of ``addons`` that depends on one of ``names``, transitively."""
    reverse: dict[str, set[str]] = {}
    for addon in addons.values():
        for dep in addon.depends:
            reverse.setdefault(dep, set()).add(addon.name)
    found: set[str] = set()
    stack = list(names)
    while stack:
        for child in reverse.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _find_cycle(addons: Mapping[str, Addon], remaining: set[str]) -> list[str]:
    # Every addon left after Kahn's algorithm sits on or behind a cycle: walk dependencies
    # inside that set until a name repeats.
    start = min(remaining)
    path = [start]
    position = {start: 0}
    current = start
    while True:
        nxt = min(dep for dep in addons[current].depends if dep in remaining)
        if nxt in position:
            return [*path[position[nxt] :], nxt]
        position[nxt] = len(path)
        path.append(nxt)
        current = nxt


def _missing_error(missing: Mapping[str, list[str]]) -> NotFoundError:
    parts = []
    if "" in missing:
        parts.append("unknown addons: " + ", ".join(missing[""]))
    parts.extend(
        f"{name} depends on {', '.join(deps)}" for name, deps in sorted(missing.items()) if name
    )
    return NotFoundError(
        "Addons are missing from the addons path: " + "; ".join(parts) + ".",
        hint="Add the folder holding them to odoo.addons_paths, or fix the `depends` list.",
    )


# -- Python requirements ----------------------------------------------------------------


def distribution_name(name: str) -> str:
    """A manifest's ``external_dependencies['python']`` entry as a PyPI requirement."""
    cleaned = name.strip()
    return IMPORT_TO_DISTRIBUTION.get(cleaned.lower(), cleaned)


def python_requirements(addons: Iterable[Addon]) -> list[str]:
    """The PyPI requirements the installable ``addons`` declare, sorted and unique."""
    found: set[str] = set()
    for addon in addons:
        if not addon.installable:
            continue
        for dep in addon.python_dependencies:
            requirement = distribution_name(dep)
            if not _REQUIREMENT_RE.match(requirement):
                raise ConfigError(
                    f"{addon.path}/__manifest__.py: external_dependencies python entry "
                    f"'{dep}' is not a package name.",
                    hint="Write the PyPI name, optionally with a version: 'pandas>=1.5'.",
                )
            found.add(requirement)
    return sorted(found, key=str.lower)
