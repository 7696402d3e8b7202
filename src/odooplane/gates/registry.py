"""The gates odooplane knows, by name, in the order they are reported.

Each gate's module is imported when the gate runs: the security gate needs none of
what the tests gate imports, and ``gate list`` needs neither.
"""

from __future__ import annotations

import importlib
from typing import cast

from odooplane.errors import UsageError
from odooplane.gates.base import Gate

# name -> (module under odooplane.gates, class, one-line description)
GATES: dict[str, tuple[str, str, str]] = {
    "tests": (
        "tests_gate",
        "TestsGate",
        "Odoo's test runner on a fresh demo database, for the changed addons",
    ),
    "security": (
        "security",
        "SecurityGate",
        "bandit, OCA's mandatory pylint-odoo checks, advisories of the pinned requirements",
    ),
    "migration": (
        "migration",
        "MigrationGate",
        "update of the changed addons on a neutralized copy of production",
    ),
    "neutralization": (
        "neutralization",
        "NeutralizationGate",
        "read-only proof that the staging database cannot reach the outside",
    ),
}


def gate_names() -> list[str]:
    return list(GATES)


def describe() -> list[tuple[str, str]]:
    return [(name, spec[2]) for name, spec in GATES.items()]


def get_gate(name: str) -> Gate:
    try:
        module_name, class_name, _ = GATES[name]
    except KeyError:
        raise UsageError(f"Unknown gate '{name}'.", hint=f"Gates: {', '.join(GATES)}.") from None
    module = importlib.import_module(f"odooplane.gates.{module_name}")
    return cast(Gate, getattr(module, class_name)())
