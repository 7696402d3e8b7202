"""The one exception hierarchy of odooplane.

Every expected failure is an :class:`OdooplaneError` carrying a sentence for people
(what went wrong, naming the file, key or value) and, where it helps, a hint saying
what to do. The CLI maps the class to an exit code; nothing else reaches the user as a
traceback.
"""

from __future__ import annotations

# Exit codes shared by every command (DESIGN.md decision 8).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNEXPECTED = 3


class OdooplaneError(Exception):
    """Root of every error odooplane raises on purpose."""

    exit_code: int = EXIT_FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n{self.hint}"
        return self.message


class UsageError(OdooplaneError):
    """The command was called wrongly (bad argument, unknown name)."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """odooplane.yaml or an env file is wrong; the message names file:line:column."""


class RefusedError(OdooplaneError):
    """An operation was refused on purpose (production without --force, lock held...)."""


class CheckFailedError(OdooplaneError):
    """A check ran and found a problem (verification, health check, gate)."""


class NotFoundError(OdooplaneError):
    """A named thing (environment, database, snapshot, ref) does not exist."""


class ExternalToolError(OdooplaneError):
    """A program odooplane drives (initdb, pg_ctl, git, pip, odoo-bin) failed."""


class LockedError(RefusedError):
    """Another command holds the lock on the same resource."""
