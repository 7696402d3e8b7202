"""Addon folders and their ``__manifest__.py``, read without importing anything."""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odooplane.errors import ConfigError

MANIFEST_NAMES = ("__manifest__.py", "__openerp__.py")
# Folders that never hold addons a project owns; skipping them keeps discovery fast.
SKIP_DIRS = {".git", ".odooplane", "node_modules", "__pycache__", ".venv", "venv", ".tox"}
_VERSION_RE = re.compile(r"^(\d+\.\d+)\.\d+\.\d+\.\d+$")


@dataclass(frozen=True)
class Addon:
    name: str
    path: Path
    manifest: dict[str, Any] = field(compare=False, hash=False)

    @property
    def version(self) -> str:
        return str(self.manifest.get("version", ""))

    @property
    def depends(self) -> list[str]:
        return [str(dep) for dep in self.manifest.get("depends", [])]

    @property
    def installable(self) -> bool:
        return bool(self.manifest.get("installable", True))

    @property
    def python_dependencies(self) -> list[str]:
        ext = self.manifest.get("external_dependencies") or {}
        return [str(dep) for dep in ext.get("python", [])]


def manifest_path(folder: Path) -> Path | None:
    for name in MANIFEST_NAMES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def read_manifest(path: Path) -> dict[str, Any]:
    """Parse a manifest as a Python literal; a broken one is a ConfigError naming it."""
    try:
        value = ast.literal_eval(path.read_text(encoding="utf-8"))
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        where = f"{path}:{line}" if line else str(path)
        raise ConfigError(
            f"{where}: the manifest is not a plain Python dictionary ({exc.__class__.__name__}).",
            hint="A manifest must be a literal dict: no function calls or variables.",
        ) from None
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: the manifest must be a dictionary, not {type(value).__name__}.")
    return value


def read_addon(folder: Path) -> Addon | None:
    path = manifest_path(folder)
    if path is None:
        return None
    return Addon(name=folder.name, path=folder, manifest=read_manifest(path))


def find_addon_dirs(root: Path) -> list[Path]:
    """Every folder below ``root`` holding a manifest (submodules included), sorted.

    An addon's own subfolders are not searched: addons do not nest.
    """
    found: list[Path] = []
    for current, dirs, _files in os.walk(root):
        here = Path(current)
        if here != root and manifest_path(here) is not None:
            found.append(here)
            dirs[:] = []
            continue
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
    return sorted(found)


def addons_paths_of(addon_dirs: list[Path]) -> list[Path]:
    """The folders to put on Odoo's addons path: the parents of the addon folders."""
    parents: list[Path] = []
    for folder in addon_dirs:
        if folder.parent not in parents:
            parents.append(folder.parent)
    return parents


def series_from_version(version: str) -> str | None:
    """``17.0.1.0.0`` -> ``17.0``; a short version (``1.0``) says nothing of the series."""
    match = _VERSION_RE.match(version.strip())
    return match.group(1) if match else None
