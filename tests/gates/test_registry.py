"""The gates by name: listed in report order, described, and loaded lazily."""

from __future__ import annotations

import pytest

from odooplane.errors import UsageError
from odooplane.gates.registry import GATES, describe, gate_names, get_gate
from odooplane.gates.settings import DEFAULT_GATES


def test_names_in_report_order_match_the_defaults() -> None:
    assert gate_names() == ["tests", "security", "migration", "neutralization"]
    assert tuple(gate_names()) == DEFAULT_GATES


def test_each_gate_has_a_one_line_description() -> None:
    described = dict(describe())
    assert list(described) == gate_names()
    assert all(text and "\n" not in text for text in described.values())
    assert "bandit" in described["security"]


@pytest.mark.parametrize("name", list(GATES))
def test_each_gate_loads_with_its_own_name_and_title(name: str) -> None:
    gate = get_gate(name)
    assert gate.name == name
    assert gate.title
    assert callable(gate.run)


def test_an_unknown_gate_is_a_usage_error_listing_the_known_ones() -> None:
    with pytest.raises(UsageError) as info:
        get_gate("lint")
    assert info.value.message == "Unknown gate 'lint'."
    assert info.value.hint == "Gates: tests, security, migration, neutralization."
    assert info.value.exit_code == 2
