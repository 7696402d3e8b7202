"""Odoo's own neutralization: the ``data/neutralize.sql`` of every installed module.

``odoo-bin neutralize`` runs, for each installed module, the file
``<module>/data/neutralize.sql`` found on the addons path. odooplane runs the very same
files, read from the Odoo source tree and the project's addons, without starting Odoo.

One statement is left out on purpose: ``base`` inserts a dummy ``ir_mail_server`` on
every run (so running it twice leaves two). odooplane's mail rule installs exactly one
active server pointing at the environment's mail catcher instead, which both replaces the
dummy and keeps a second run from changing anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from odooplane.neutralize.schema import Cursor

NEUTRALIZE_FILE = Path("data") / "neutralize.sql"

# Statements replaced by odooplane's own rules (see the module docstring).
_SKIPPED_STATEMENTS = (re.compile(r"^\s*INSERT\s+INTO\s+ir_mail_server\b", re.I),)

_TABLE_RE = re.compile(
    r"\b(?:UPDATE(?:\s+ONLY)?|INSERT\s+INTO|DELETE\s+FROM(?:\s+ONLY)?|TRUNCATE(?:\s+TABLE)?(?:\s+ONLY)?)"
    r"\s+\"?([A-Za-z_][A-Za-z0-9_]*)\"?",
    re.I,
)
_NOT_TABLES = frozenset({"set", "only", "table"})


@dataclass(frozen=True)
class SqlScript:
    """The statements of one neutralization file (Odoo's or a project rule's)."""

    name: str
    source: str
    statements: tuple[str, ...]
    skipped: tuple[str, ...] = field(default=())

    @property
    def tables(self) -> list[str]:
        return tables_written(self.statements)


def installed_modules(cur: Cursor) -> list[str]:
    """Modules Odoo considers installed, as ``odoo-bin neutralize`` selects them."""
    cur.execute(
        "SELECT name FROM ir_module_module "
        "WHERE state IN ('installed', 'to upgrade', 'to remove') ORDER BY name"
    )
    return [str(row[0]) for row in cur.fetchall()]


def addons_search_path(odoo_source: Path | None, project_paths: Iterable[Path]) -> list[Path]:
    """Folders searched for ``<module>/data/neutralize.sql``, in Odoo's order.

    Odoo puts its own ``odoo/addons`` first on ``odoo.addons.__path__`` (so ``base`` and
    ``web`` always come from the source tree), then the configured addons path.
    """
    paths: list[Path] = []
    if odoo_source is not None:
        paths.append(odoo_source / "odoo" / "addons")
    paths.extend(project_paths)
    if odoo_source is not None:
        paths.append(odoo_source / "addons")
    seen: list[Path] = []
    for path in paths:
        resolved = path.resolve()
        if resolved not in seen and resolved.is_dir():
            seen.append(resolved)
    return seen


def find_neutralize_file(module: str, search_path: list[Path]) -> Path | None:
    for folder in search_path:
        module_dir = folder / module
        if (
            not (module_dir / "__manifest__.py").is_file()
            and not (module_dir / "__openerp__.py").is_file()
        ):
            continue
        candidate = module_dir / NEUTRALIZE_FILE
        # The first folder holding the module wins, even when it has no file.
        return candidate if candidate.is_file() else None
    return None


def module_scripts(modules: list[str], search_path: list[Path]) -> list[SqlScript]:
    """The neutralization scripts of ``modules`` that exist, in module order."""
    scripts: list[SqlScript] = []
    for module in modules:
        path = find_neutralize_file(module, search_path)
        if path is None:
            continue
        scripts.append(script_from_text(f"odoo:{module}", str(path), path.read_text("utf-8")))
    return scripts


def script_from_text(name: str, source: str, text: str) -> SqlScript:
    kept: list[str] = []
    skipped: list[str] = []
    for statement in split_statements(text):
        if any(pattern.match(statement) for pattern in _SKIPPED_STATEMENTS):
            skipped.append(statement)
        else:
            kept.append(statement)
    return SqlScript(name=name, source=source, statements=tuple(kept), skipped=tuple(skipped))


def split_statements(text: str) -> list[str]:
    """Split SQL on top-level semicolons, honouring quotes, comments and dollar quotes."""
    statements: list[str] = []
    buf: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "-" and text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end == -1 else end + 1
            buf.append("\n")
            continue
        if ch == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end == -1 else end + 2
            buf.append(" ")
            continue
        if ch == "'":
            escape = i > 0 and text[i - 1] in "Ee" and (i < 2 or not text[i - 2].isalnum())
            j = i + 1
            while j < n:
                if escape and text[j] == "\\":
                    j += 2
                    continue
                if text[j] == "'":
                    if j + 1 < n and text[j + 1] == "'":
                        j += 2
                        continue
                    break
                j += 1
            buf.append(text[i : j + 1])
            i = j + 1
            continue
        if ch == '"':
            j = text.find('"', i + 1)
            j = n - 1 if j == -1 else j
            buf.append(text[i : j + 1])
            i = j + 1
            continue
        if ch == "$":
            match = re.match(r"\$[A-Za-z_]*\$", text[i:])
            if match:
                tag = match.group(0)
                end = text.find(tag, i + len(tag))
                end = n if end == -1 else end + len(tag)
                buf.append(text[i:end])
                i = end
                continue
        if ch == ";":
            statement = "".join(buf).strip()
            if statement:
                statements.append(statement)
            buf = []
            i += 1
            continue
        buf.append(ch)
        i += 1
    statement = "".join(buf).strip()
    if statement:
        statements.append(statement)
    return statements


def tables_written(statements: Iterable[str]) -> list[str]:
    """Tables an UPDATE/INSERT/DELETE/TRUNCATE statement writes to, in first-seen order."""
    tables: list[str] = []
    for statement in statements:
        for match in _TABLE_RE.finditer(statement):
            table = match.group(1).lower()
            # "ON CONFLICT ... DO UPDATE SET" is no table.
            if table in _NOT_TABLES:
                continue
            if table not in tables:
                tables.append(table)
    return tables
