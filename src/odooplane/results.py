"""Typed results as JSON-ready data: one way to write ``to_dict``.

Library functions return dataclasses; the CLI prints them for people or, with
``--json``, as ``to_dict()``. :class:`Result` gives a dataclass that ``to_dict``;
:func:`jsonable` is the conversion it applies to every value: nested dataclasses (their
own ``to_dict`` when they have one), enums by value, paths, UUIDs, dates and datetimes
as text, tuples and sets as lists, mappings with text keys.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from datetime import date
from enum import Enum
from pathlib import PurePath
from typing import Any


def jsonable(value: Any) -> Any:
    """``value`` as plain data that ``json.dumps`` takes as is."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        to_dict = getattr(value, "to_dict", None)
        if callable(to_dict):
            return to_dict()
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, (PurePath, uuid.UUID)):
        return str(value)
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [jsonable(v) for v in items]
    return value


class Result:
    """Mixin of result dataclasses: ``to_dict`` is every field, :func:`jsonable`.

    A subclass that reports more (a property, a rounded number) extends
    ``super().to_dict()``.
    """

    def to_dict(self) -> dict[str, Any]:
        assert dataclasses.is_dataclass(self)
        return {f.name: jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}
