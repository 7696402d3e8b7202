"""ruamel's round-trip YAML tree -> plain data, with the position of every key and value."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from odooplane.config.issues import KeyPath, KeyProblem

# Aliases can make a tiny document expand into millions of values.
MAX_VALUES = 50_000


@dataclass
class Positions:
    keys: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    values: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: KeyPath, at: str) -> tuple[int, int]:
        if at == "parent":
            path = path[:-1]
            at = "key"
        probe = path
        while probe:
            if at == "value" and probe in self.values:
                return self.values[probe]
            if probe in self.keys:
                return self.keys[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
            at = "key"
        return self.values.get((), (1, 1))


# ---------------------------------------------------------------------------
# YAML tree -> plain data + positions
# ---------------------------------------------------------------------------


def yaml_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


def describe_value(value: object, masked: str | None = None) -> str:
    """How an offending value is shown in a message (never a secret)."""
    if masked is not None:
        return f"'{masked}' (filled in from an env file)"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"the text '{shown}'"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return "a mapping"
    return yaml_type(value)


class Converter:
    """Turns ruamel's round-trip tree into plain data and records every position."""

    def __init__(self) -> None:
        self.positions = Positions()
        self.problems: list[KeyProblem] = []
        self.count = 0
        self._active: set[int] = set()

    def convert(self, node: Any, path: KeyPath) -> Any:
        from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar

        self.count += 1
        if self.count > MAX_VALUES:
            raise TooLarge
        tag = _custom_tag(node)
        if tag is not None:
            self.problems.append(
                KeyProblem(
                    path,
                    f"the YAML tag '{tag}' is not supported here.",
                    "Remove the tag and write a plain value.",
                )
            )
            return _Rejected
        if isinstance(node, TaggedScalar):
            return str(node.value)
        if isinstance(node, bool) or node is None:
            return node
        if isinstance(node, int):
            # ScalarBoolean is an int subclass carrying an anchor.
            if type(node).__name__ == "ScalarBoolean":
                return bool(node)
            return int(node)
        if isinstance(node, float):
            return float(node)
        if isinstance(node, str):
            return str(node)
        if isinstance(node, date):
            # A date where text is expected (a ref, a name) is what the user typed.
            return node.isoformat()
        if isinstance(node, CommentedMap):
            return self._mapping(node, path)
        if isinstance(node, (CommentedSeq, list)):
            return self._sequence(node, path)
        self.problems.append(
            KeyProblem(
                path,
                f"a YAML {type(node).__name__} value is not supported here.",
                "Write text, a number, true/false, a list or a mapping.",
            )
        )
        return _Rejected

    def _enter(self, node: Any, path: KeyPath) -> bool:
        if id(node) in self._active:
            self.problems.append(
                KeyProblem(
                    path,
                    "this value contains itself through a YAML alias (*name).",
                    "Replace the alias with the values it should hold.",
                )
            )
            return False
        self._active.add(id(node))
        return True

    def _mapping(self, node: Any, path: KeyPath) -> Any:
        if not self._enter(node, path):
            return _Rejected
        out: dict[str, Any] = {}
        lc = getattr(node, "lc", None)
        own = getattr(lc, "data", {}) or {}
        for key, value in node.items():
            if key in own:
                kline, kcol, vline, vcol = own[key][:4]
                key_pos = (kline + 1, kcol + 1)
                value_pos = (vline + 1, vcol + 1)
            else:
                # A key merged in with `<<: *anchor` has no position of its own.
                key_pos = self.positions.values.get(path, (1, 1))
                value_pos = key_pos
            if not isinstance(key, str):
                shown = (
                    "null"
                    if key is None
                    else str(key).lower()
                    if isinstance(key, bool)
                    else str(key)
                )
                self.problems.append(
                    KeyProblem(
                        (*path, shown),
                        f"the key {shown} is a {yaml_type(key)}, not text.",
                        f"Quote it: '{shown}':",
                        line=key_pos[0],
                        column=key_pos[1],
                    )
                )
                continue
            child = (*path, key)
            self.positions.keys[child] = key_pos
            self.positions.values[child] = value_pos
            converted = self.convert(value, child)
            if converted is not _Rejected:
                out[key] = converted
        self._active.discard(id(node))
        return out

    def _sequence(self, node: Any, path: KeyPath) -> Any:
        if not self._enter(node, path):
            return _Rejected
        out: list[Any] = []
        lc = getattr(node, "lc", None)
        own = getattr(lc, "data", {}) or {}
        for index, value in enumerate(node):
            child = (*path, index)
            if index in own:
                line, col = own[index][:2]
                self.positions.values[child] = (line + 1, col + 1)
            converted = self.convert(value, child)
            out.append(None if converted is _Rejected else converted)
        self._active.discard(id(node))
        return out


class _RejectedType:
    """Marker for a value already reported as a problem."""


_Rejected = _RejectedType()


class TooLarge(Exception):
    pass


def _custom_tag(node: Any) -> str | None:
    tag = getattr(node, "tag", None)
    value = getattr(tag, "value", None) if tag is not None else None
    if isinstance(value, str) and value and not value.startswith("tag:yaml.org,2002:"):
        return value
    if isinstance(value, str) and value.startswith("tag:yaml.org,2002:"):
        short = value.rsplit(":", 1)[-1]
        if short not in ("str", "int", "float", "bool", "null", "map", "seq", "omap"):
            return "!!" + short
    return None
