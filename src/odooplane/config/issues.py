"""Problems in odooplane.yaml: key paths, problems found before positions are known, and
the :class:`ConfigFileError` that reports each one at ``file:line:column``."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

from odooplane.errors import ConfigError
from odooplane.results import Result

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class KeyProblem:
    path: KeyPath
    message: str
    fix: str = ""
    # Which position to report: the key itself, its value, or the mapping holding it
    # (for a key that is missing).
    at: Literal["key", "value", "parent"] = "value"
    # Set when the problem is in another file (an env file) or at a known position.
    file: str | None = None
    line: int | None = None
    column: int | None = None


def did_you_mean(word: str, choices: list[str]) -> str | None:
    lowered = {c.lower(): c for c in choices}
    if word.lower() in lowered:
        return lowered[word.lower()]
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None


def format_key_path(path: KeyPath) -> str:
    """``('environments', 'staging', 'branches', 1)`` -> ``environments.staging.branches[1]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", part):
            out += f".{part}" if out else part
        else:
            quoted = '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'
            out += f"[{quoted}]"
    return out


@dataclass(frozen=True)
class ConfigIssue(Result):
    """One problem in odooplane.yaml (or in an env file it names)."""

    file: str
    line: int
    column: int
    path: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        what = f"{self.path}: {self.message}" if self.path else self.message
        return f"{where}: {what}" + (f" {self.fix}" if self.fix else "")


class ConfigFileError(ConfigError):
    """odooplane.yaml has one or more problems; ``issues`` lists each with its position."""

    def __init__(self, file: str, issues: list[ConfigIssue], *, internal: bool = False) -> None:
        self.issues = issues
        # True when the loader itself failed (a bug): the test suite looks for it.
        self.internal = internal
        if len(issues) == 1:
            message = str(issues[0])
        else:
            lines = "\n".join(f"  {issue}" for issue in issues)
            message = f"{file} has {len(issues)} problems:\n{lines}"
        super().__init__(message)
