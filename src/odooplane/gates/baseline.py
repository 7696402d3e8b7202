"""Known findings a project accepts, each with its reason (``gates-baseline.yaml``).

    accepted:
      - tool: bandit            # bandit, pylint or pip-audit
        rule: B608              # the rule, check symbol or advisory id
        path: addons/report_x/*  # optional: a glob on the file (or package for pip-audit)
        reason: the query is built from constants only; reviewed by A. on 2026-11-02

A finding matching an entry is reported as accepted (with the reason), not as a
failure. An entry without a reason is refused: accepting a risk is a decision someone
must be able to read later.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from odooplane.errors import ConfigError

TOOLS = ("bandit", "pylint", "pip-audit")


@dataclass(frozen=True)
class Accepted:
    tool: str
    rule: str
    reason: str
    path: str | None = None

    def matches(self, tool: str, rule: str, path: str | None) -> bool:
        if tool != self.tool or rule.lower() != self.rule.lower():
            return False
        if self.path is None:
            return True
        return path is not None and fnmatch.fnmatch(path, self.path)


@dataclass(frozen=True)
class Baseline:
    path: Path | None
    entries: tuple[Accepted, ...] = ()

    def accepts(self, tool: str, rule: str, path: str | None) -> Accepted | None:
        return next((e for e in self.entries if e.matches(tool, rule, path)), None)


def load_baseline(path: Path) -> Baseline:
    """The baseline at ``path``; an absent file accepts nothing."""
    if not path.is_file():
        return Baseline(path=None)
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        data: Any = YAML(typ="safe").load(path.read_text("utf-8"))
    except (YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc}).") from None
    if data is None:
        return Baseline(path=path)
    if not isinstance(data, dict) or not isinstance(data.get("accepted", []), list):
        raise ConfigError(
            f"{path}: expected a mapping with a list 'accepted'.",
            hint="See docs/gates.md for the format.",
        )
    entries = []
    for index, item in enumerate(data.get("accepted") or []):
        where = f"{path}: accepted[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where} is not a mapping (tool, rule, path, reason).")
        unknown = sorted(set(item) - {"tool", "rule", "path", "reason"})
        if unknown:
            raise ConfigError(f"{where} has unknown keys: {', '.join(unknown)}.")
        tool = str(item.get("tool", ""))
        if tool not in TOOLS:
            raise ConfigError(f"{where}.tool is '{tool}'; expected one of {', '.join(TOOLS)}.")
        rule = str(item.get("rule", "")).strip()
        if not rule:
            raise ConfigError(f"{where}.rule is missing (e.g. B608, sql-injection, PYSEC-...).")
        reason = str(item.get("reason") or "").strip()
        if not reason:
            raise ConfigError(
                f"{where} ({tool} {rule}) has no reason.",
                hint="Say why this finding is accepted, and who decided it.",
            )
        raw_path = item.get("path")
        entries.append(
            Accepted(tool=tool, rule=rule, reason=reason, path=str(raw_path) if raw_path else None)
        )
    return Baseline(path=path, entries=tuple(entries))
