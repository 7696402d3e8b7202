"""Databases an operation may replace or remove only when its caller forces it.

The mechanism: a :class:`Protection` names protected databases and who owns them; the
database operations consult the one their :class:`~odooplane.postgres.server.DatabaseServer`
carries, so every caller gets the same refusals. Which databases are protected is
policy, decided by :mod:`odooplane.policy` (production's, their snapshots included) and
attached by :func:`odooplane.postgres.project_server.server_for`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from odooplane.errors import RefusedError

# How a snapshot's database is named: ``<database>__snap__<name>``.
SNAPSHOT_SEPARATOR = "__snap__"

# What each guarded operation does to the protected database, for the refusal.
_DOES = {
    "drop": "drop",
    "import": "replace",
    "restore": "restore a snapshot over",
    "clone": "clone over",
    "swap": "swap",
    "rename": "rename",
}


@dataclass(frozen=True)
class Protection:
    """Protected databases: name -> the environment owning it (its snapshots follow)."""

    owners: Mapping[str, str] = field(default_factory=dict)

    def owner(self, database: str) -> str | None:
        """The environment owning ``database``, directly or as one of its snapshots."""
        if database in self.owners:
            return self.owners[database]
        base, sep, _snapshot = database.partition(SNAPSHOT_SEPARATOR)
        return self.owners.get(base) if sep else None

    def check(self, action: str, database: str, *, force: bool) -> None:
        """Refuse ``action`` (drop, import, restore, clone, swap, rename) on a protected
        ``database`` unless ``force``."""
        if force or self.owner(database) is None:
            return
        base, sep, _snapshot = database.partition(SNAPSHOT_SEPARATOR)
        what = (
            f"a snapshot of the production database '{base}'"
            if sep and base in self.owners
            else "a production database"
        )
        raise RefusedError(
            f"'{database}' is {what}; odooplane does not {_DOES[action]} it by default.",
            hint="If you really mean it, take a snapshot first and pass --force "
            "(force=True from Python).",
        )


NO_PROTECTION = Protection()
