"""What changed in a project under ``odooplane dev``, and what kind of change it is.

:class:`ChangeClassifier` sorts a saved file into the kind that decides the action
(restart the Python, nothing at all because ``--dev=xml`` reads views from their files,
upgrade a module, tell the browser to swap stylesheets or reload). It remembers, from the
moment the session started, the fields declared by each Python file and the records of
each XML data file, so it can tell a view edit from a data change and a method edit from
a schema change. :func:`watch_changes` feeds it from watchfiles.
"""

from __future__ import annotations

import ast
import enum
import logging
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import watchfiles

from odooplane.errors import OdooplaneError
from odooplane.odoo.manifest import MANIFEST_NAMES, manifest_path, read_manifest
from odooplane.results import Result

_log = logging.getLogger(__name__)


class ChangeKind(str, enum.Enum):
    python = "python"  # method bodies, controllers: restart the Python
    schema = "schema"  # fields declared by a model changed: restart and upgrade
    manifest = "manifest"  # __manifest__.py edited: restart (and upgrade if data/version moved)
    view = "view"  # an arch of a view/template already known: --dev=xml serves it as is
    data = "data"  # records, menus, actions, security: upgrade the module
    asset_css = "asset_css"  # stylesheets: swap them in the browser
    asset_js = "asset_js"  # scripts: reload the tab
    asset_xml = "asset_xml"  # OWL templates in static/: reload the tab
    new_addon = "new_addon"  # a folder with a manifest appeared: install it
    config = "config"  # odooplane.yaml, env file, odoo.conf: restart everything
    other = "other"  # nothing odooplane acts on (translations, docs, images outside static)


STYLE_SUFFIXES = {".css", ".scss", ".sass", ".less"}
_IGNORED_PARTS = {"__pycache__", ".git", "node_modules", ".odooplane", ".mypy_cache", ".ruff_cache"}
_VIEW_TAGS = {"template"}
_VIEW_MODELS = {"ir.ui.view"}


@dataclass(frozen=True)
class Change(Result):
    """One saved file, classified."""

    path: Path
    kind: ChangeKind
    addon: str | None = None
    detail: str = ""


def ignored(path: Path) -> bool:
    """Editor droppings, caches and VCS files are never changes."""
    name = path.name
    if any(part in _IGNORED_PARTS for part in path.parts):
        return True
    return (
        name.endswith(("~", ".swp", ".swx", ".swo", ".pyc", ".tmp"))
        or name.startswith(".#")
        or name == "4913"  # vim's write test file
    )


def field_signature(source: str) -> dict[str, str] | None:
    """``{"Class.field": definition}`` for every ``x = fields.Y(...)`` in a class body, plus
    the ``_name``/``_inherit`` of each class; None when the source does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    signature: dict[str, str] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for stmt in node.body:
            if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1:
                continue
            target = stmt.targets[0]
            if not isinstance(target, ast.Name):
                continue
            value = stmt.value
            is_field = (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Attribute)
                and isinstance(value.func.value, ast.Name)
                and value.func.value.id == "fields"
            )
            if is_field or target.id in ("_name", "_inherit", "_inherits", "_table", "_auto"):
                signature[f"{node.name}.{target.id}"] = ast.dump(value)
    return signature


def _xml_signature(path: Path) -> tuple[bool, tuple[str, ...]] | None:
    """(holds only views/templates, a signature of everything except their arch); None
    when the file does not parse."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError):
        return None
    only_views = True
    parts: list[str] = []
    for element in root.iter():
        if element is root or element.tag in ("data", "odoo", "openerp"):
            continue
        if element.tag in _VIEW_TAGS:
            attrs = sorted(element.attrib.items())
            parts.append(f"template:{attrs}")
        elif element.tag == "record":
            if element.get("model") not in _VIEW_MODELS:
                only_views = False
                parts.append(ET.tostring(element, encoding="unicode"))
                continue
            fields_ = [
                f"{child.get('name')}={sorted(child.attrib.items())}:{(child.text or '').strip()}"
                for child in element
                if child.tag == "field" and child.get("name") != "arch"
            ]
            parts.append(f"view:{sorted(element.attrib.items())}:{fields_}")
        elif element.tag in ("menuitem", "function", "delete", "act_window", "report", "value"):
            only_views = False
            parts.append(ET.tostring(element, encoding="unicode"))
    return only_views, tuple(parts)


@dataclass
class _AddonInfo:
    name: str
    path: Path
    data_files: set[Path] = field(default_factory=set)
    manifest: dict[str, object] = field(default_factory=dict)


class ChangeClassifier:
    """Classifies changed paths under the project's addons folders and config files."""

    def __init__(self, addons_dirs: Sequence[Path], config_files: Iterable[Path] = ()) -> None:
        self.addons_dirs = [Path(p).resolve() for p in addons_dirs]
        self.config_files = {Path(p).resolve() for p in config_files}
        self.addons: dict[str, _AddonInfo] = {}
        self._fields: dict[Path, dict[str, str]] = {}
        self._xml: dict[Path, tuple[bool, tuple[str, ...]]] = {}
        self._lock = threading.Lock()
        for folder in self.addons_dirs:
            if not folder.is_dir():
                continue
            for child in sorted(folder.iterdir()):
                if _manifest_of(child) is not None:
                    self._learn_addon(child)

    # -- what the session started from ---------------------------------------------------

    def _learn_addon(self, path: Path) -> _AddonInfo:
        manifest = _read_manifest_dict(path)
        info = _AddonInfo(name=path.name, path=path, manifest=manifest)
        for key in ("data", "demo"):
            for rel in _as_list(manifest.get(key)):
                info.data_files.add((path / rel).resolve())
        self.addons[path.name] = info
        for py in path.rglob("*.py"):
            if ignored(py) or py.name in MANIFEST_NAMES:
                continue
            sig = _file_fields(py)
            if sig is not None:
                self._fields[py.resolve()] = sig
        for xml in info.data_files:
            if xml.suffix == ".xml":
                xml_sig = _xml_signature(xml)
                if xml_sig is not None:
                    self._xml[xml] = xml_sig
        return info

    def addon_of(self, path: Path) -> tuple[str, Path] | None:
        for folder in self.addons_dirs:
            try:
                rel = path.relative_to(folder)
            except ValueError:
                continue
            if rel.parts:
                return rel.parts[0], folder / rel.parts[0]
        return None

    # -- classification ------------------------------------------------------------------

    def classify_batch(self, paths: Iterable[Path]) -> list[Change]:
        """The changes of a batch of paths. A new folder stands for every file in it:
        files written into it before the watch on it began send no event of their own
        (``mkdir models && cp … models/``, a checkout adding a folder)."""
        expanded: set[Path] = set()
        for path in paths:
            expanded.add(path)
            if path.is_dir() and not path.is_symlink():
                expanded.update(p for p in path.rglob("*") if p.is_file() and not ignored(p))
        return [c for c in (self.classify(p) for p in sorted(expanded)) if c]

    def classify(self, path: Path) -> Change | None:
        """The kind of change ``path`` is, or None when it is ignored."""
        path = Path(path).resolve()
        if ignored(path):
            return None
        if path in self.config_files:
            return Change(path, ChangeKind.config, detail=path.name)
        found = self.addon_of(path)
        if found is None:
            return None
        name, addon_dir = found
        with self._lock:
            return self._classify_in_addon(path, name, addon_dir)

    def _classify_in_addon(self, path: Path, name: str, addon_dir: Path) -> Change | None:
        info = self.addons.get(name)
        if info is None:
            if _manifest_of(addon_dir) is None:
                return None
            self._learn_addon(addon_dir)
            return Change(path, ChangeKind.new_addon, name, f"new addon {name}")
        rel = path.relative_to(addon_dir)
        if path.name in MANIFEST_NAMES and len(rel.parts) == 1:
            return self._manifest_change(path, info)
        in_static = rel.parts[0] == "static"
        suffix = path.suffix.lower()
        if in_static:
            if suffix in STYLE_SUFFIXES:
                return Change(path, ChangeKind.asset_css, name)
            if suffix in (".js", ".mjs", ".ts"):
                return Change(path, ChangeKind.asset_js, name)
            if suffix == ".xml":
                return Change(path, ChangeKind.asset_xml, name)
            return Change(path, ChangeKind.asset_js, name, "static file")
        if suffix == ".py":
            return self._python_change(path, name)
        if path in info.data_files:
            return self._data_change(path, name)
        if suffix in (".xml", ".csv"):
            # Not listed in the manifest (yet): loading it needs the manifest edited too.
            return Change(path, ChangeKind.other, name, "not listed in the manifest")
        return Change(path, ChangeKind.other, name)

    def _python_change(self, path: Path, name: str) -> Change:
        before = self._fields.get(path)
        after = _file_fields(path)
        if after is None:
            # It does not parse: the warm server reports the syntax error with its line.
            return Change(path, ChangeKind.python, name, "does not parse")
        self._fields[path] = after
        if before is None and not after:
            return Change(path, ChangeKind.python, name)
        if (before or {}) != after:
            changed = sorted(set(before or {}) ^ set(after)) or sorted(
                key for key in after if (before or {}).get(key) != after[key]
            )
            return Change(
                path, ChangeKind.schema, name, "fields changed: " + ", ".join(changed[:5])
            )
        return Change(path, ChangeKind.python, name)

    def _data_change(self, path: Path, name: str) -> Change:
        if path.suffix != ".xml":
            return Change(path, ChangeKind.data, name)
        before = self._xml.get(path)
        after = _xml_signature(path)
        if after is None:
            return Change(path, ChangeKind.data, name, "XML does not parse")
        self._xml[path] = after
        only_views, _sig = after
        if only_views and before is not None and before == after:
            return Change(path, ChangeKind.view, name)
        return Change(path, ChangeKind.data, name, "records changed")

    def _manifest_change(self, path: Path, info: _AddonInfo) -> Change:
        before = info.manifest
        after = _read_manifest_dict(path.parent)
        if not after:
            return Change(path, ChangeKind.python, info.name, "manifest does not parse")
        moved = [
            key
            for key in ("version", "data", "depends", "demo")
            if before.get(key) != after.get(key)
        ]
        self._learn_addon(path.parent)
        if moved:
            return Change(
                path, ChangeKind.schema, info.name, "manifest " + ", ".join(moved) + " changed"
            )
        return Change(path, ChangeKind.manifest, info.name)


def _manifest_of(folder: Path) -> Path | None:
    return manifest_path(folder) if folder.is_dir() else None


def _read_manifest_dict(folder: Path) -> dict[str, object]:
    path = _manifest_of(folder)
    if path is None:
        return {}
    try:
        return dict(read_manifest(path))
    except OdooplaneError:
        # A manifest mid-edit that does not parse: treated as "unknown" until saved whole.
        return {}


def _as_list(value: object) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return []


def _file_fields(path: Path) -> dict[str, str] | None:
    try:
        return field_signature(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None


def watch_changes(
    paths: Sequence[Path],
    stop: threading.Event,
    *,
    debounce_ms: int = 60,
) -> Iterator[set[Path]]:
    """Batches of changed (added, modified or deleted) paths until ``stop`` is set."""
    existing = [str(p) for p in paths if p.exists()]
    if not existing:
        return
    for batch in watchfiles.watch(
        *existing,
        stop_event=stop,
        debounce=debounce_ms,
        step=20,
        rust_timeout=200,
        yield_on_timeout=False,
        watch_filter=lambda _change, name: not ignored(Path(name)),
    ):
        yield {Path(name) for _change, name in batch}


def keep_watching(
    watch: Callable[[], Iterable[set[Path]]],
    deliver: Callable[[set[Path]], None],
    stop: threading.Event,
    *,
    on_crash: Callable[[Exception, int], None],
    stopped: Callable[[], bool] = lambda: False,
    max_pause: float = 5.0,
) -> None:
    """Hand every batch ``watch()`` yields to ``deliver`` until ``stop`` is set.

    A watcher that raises is not the end of hot reload: the crash goes to ``on_crash``
    (with how many there were so far) and ``watch`` starts again after a pause that
    grows with each crash (up to ``max_pause``), so a watcher failing at once does not
    spin. ``stopped`` ends the loop between batches (the session itself stopping).
    """
    crashes = 0
    while not stop.is_set():
        try:
            for batch in watch():
                if stopped():
                    return
                deliver(batch)
            return
        except Exception as exc:
            crashes += 1
            try:
                on_crash(exc, crashes)
            except Exception:
                # The report failing must not take the watcher down with it.
                _log.exception("reporting a crash of the file watcher failed")
            if stop.wait(min(0.2 * 2 ** (crashes - 1), max_pause)):
                return


def summarize(changes: Iterable[Change]) -> Mapping[ChangeKind, list[Change]]:
    """Changes grouped by kind, in the order of :class:`ChangeKind`."""
    grouped: dict[ChangeKind, list[Change]] = {}
    for change in changes:
        grouped.setdefault(change.kind, []).append(change)
    return {kind: grouped[kind] for kind in ChangeKind if kind in grouped}
