"""One way to turn typed results into JSON-ready data."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any

from odooplane.results import Result, jsonable


class Colour(str, Enum):
    red = "red"


@dataclass(frozen=True)
class Inner:
    path: Path
    when: datetime


@dataclass(frozen=True)
class Custom(Result):
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "double": self.size * 2}


@dataclass(frozen=True)
class Outer(Result):
    name: str
    colour: Colour
    inner: Inner
    custom: Custom
    ident: uuid.UUID
    day: date
    items: tuple[Inner, ...] = ()
    tags: frozenset[str] = frozenset()
    extra: dict[str, Any] = field(default_factory=dict)
    missing: str | None = None


def test_nested_values_become_plain_data() -> None:
    moment = datetime(2026, 3, 14, 7, 30, tzinfo=timezone.utc)
    ident = uuid.UUID(int=7)
    outer = Outer(
        name="x",
        colour=Colour.red,
        inner=Inner(Path("/a/b"), moment),
        custom=Custom(3),
        ident=ident,
        day=date(2026, 3, 14),
        items=(Inner(Path("c"), moment),),
        tags=frozenset({"b", "a"}),
        extra={1: Path("/d")},
    )
    data = outer.to_dict()
    assert data == {
        "name": "x",
        "colour": "red",
        "inner": {"path": "/a/b", "when": "2026-03-14T07:30:00+00:00"},
        "custom": {"size": 3, "double": 6},
        "ident": str(ident),
        "day": "2026-03-14",
        "items": [{"path": "c", "when": "2026-03-14T07:30:00+00:00"}],
        "tags": ["a", "b"],
        "extra": {"1": "/d"},
        "missing": None,
    }
    assert json.loads(json.dumps(data)) == data
    assert jsonable([outer.custom]) == [{"size": 3, "double": 6}]
