"""Which addons a change touches: files changed between two commits, mapped to the
addons holding them, plus every addon that depends on those (through the manifests).

Gates test and update only these, as Odoo.sh does for a development branch: an
untouched addon's tests cannot start failing because of a change it does not see.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from odooplane import gitrepo
from odooplane.gates.model import ChangedAddons
from odooplane.odoo.addons import dependents_of
from odooplane.odoo.manifest import Addon


def addon_relpaths(addons: Mapping[str, Addon], code_root: Path) -> dict[str, str]:
    """Each addon's folder relative to the repository root (as git names files)."""
    found: dict[str, str] = {}
    root = code_root.resolve()
    for name, addon in addons.items():
        try:
            found[name] = addon.path.resolve().relative_to(root).as_posix()
        except ValueError:
            continue  # outside the repository: never changed by a commit
    return found


def changed_addons(
    repo: Path,
    *,
    base: str | None,
    ref: str,
    addons: Mapping[str, Addon],
    code_root: Path,
    all_addons: bool = False,
) -> ChangedAddons:
    """The addons of ``addons`` (the project's, at ``ref``) changed since ``base``.

    ``base`` None, or ``all_addons``, selects every installable addon. A changed path that
    is a folder above an addon (a submodule moved to another commit) changes every addon
    under it.
    """
    installable = {name for name, addon in addons.items() if addon.installable}
    if all_addons or base is None:
        return ChangedAddons(
            base=base, ref=ref, changed=sorted(installable), dependents=[], all_addons=True
        )
    relpaths = addon_relpaths(addons, code_root)
    files: dict[str, list[str]] = {}
    other: list[str] = []
    for change in gitrepo.changed_files(repo, base, ref):
        paths = {change.path, change.old_path} - {None}
        owners = {
            name
            for name, rel in relpaths.items()
            for path in paths
            if path is not None
            and (path == rel or path.startswith(rel + "/") or rel.startswith(path + "/"))
        }
        for name in owners:
            files.setdefault(name, []).append(change.path)
        if not owners:
            other.append(change.path)
    changed = sorted(name for name in files if name in installable)
    dependents = sorted(
        name for name in dependents_of(addons, changed) if name in installable and name not in files
    )
    return ChangedAddons(
        base=base,
        ref=ref,
        changed=changed,
        dependents=dependents,
        files={name: sorted(paths) for name, paths in sorted(files.items())},
        other_files=sorted(other),
    )
