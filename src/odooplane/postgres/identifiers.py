"""Database and role names: validated first, then quoted.

Every name that reaches SQL goes through :func:`database_name` or :func:`role_name` (which
refuse anything outside a small, safe alphabet) and is then composed with
``psycopg.sql.Identifier``. Validation alone would be enough to stop injection and quoting
alone would too; doing both means a mistake in one is not a vulnerability, and a
hostile name fails with a sentence before any connection is opened.
"""

from __future__ import annotations

import re

from psycopg import sql

from odooplane.errors import UsageError

# The alphabet Odoo's database manager accepts ('^[a-zA-Z0-9][a-zA-Z0-9_.-]+$') plus a
# leading '_', capped at PostgreSQL's 63-byte identifier limit (longer names are
# silently truncated by the server, which would make two names collide). The same name is
# used as the filestore folder name, so no '/', no leading '.'.
_DB_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$")
_ROLE_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,62}$")
MAX_IDENTIFIER_BYTES = 63

# Databases every cluster has and odooplane never creates, drops, renames or overwrites.
SYSTEM_DATABASES = frozenset({"postgres", "template0", "template1"})


def _show(name: object) -> str:
    # repr() keeps quotes, semicolons and control characters visible in the message.
    return repr(name) if isinstance(name, str) else f"a {type(name).__name__}"


def database_name(name: str, *, what: str = "database name") -> str:
    """Return ``name`` if it is a safe database name, else raise :class:`UsageError`."""
    if not isinstance(name, str) or not _DB_NAME_RE.fullmatch(name):
        raise UsageError(
            f"{_show(name)} is not a valid {what}.",
            hint="Use 1 to 63 letters, digits, '_', '-' or '.', starting with a letter, "
            "a digit or '_' (no spaces, quotes or semicolons).",
        )
    return name


def user_database_name(name: str, *, what: str = "database name") -> str:
    """Like :func:`database_name`, and refuse PostgreSQL's own databases."""
    database_name(name, what=what)
    if name in SYSTEM_DATABASES:
        raise UsageError(
            f"'{name}' is one of PostgreSQL's own databases; odooplane does not create, "
            "drop, rename or overwrite it.",
            hint="Pick another name for your Odoo database.",
        )
    return name


def role_name(name: str) -> str:
    """Return ``name`` if it is a safe role (user) name, else raise :class:`UsageError`."""
    if not isinstance(name, str) or not _ROLE_NAME_RE.fullmatch(name):
        raise UsageError(
            f"{_show(name)} is not a valid PostgreSQL role name.",
            hint="Use 1 to 63 letters, digits, '_', '-' or '.', starting with a letter or '_'.",
        )
    return name


def db_ident(name: str) -> sql.Identifier:
    """A quoted SQL identifier for a validated database name."""
    return sql.Identifier(database_name(name))


def role_ident(name: str) -> sql.Identifier:
    """A quoted SQL identifier for a validated role name."""
    return sql.Identifier(role_name(name))
