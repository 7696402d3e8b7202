"""Gates: checks a build must pass before it is promoted.

    from odooplane.gates import run_gates, passed_gates
    report = run_gates(project, ["tests", "security"], ref="HEAD", base="main")
    report.ok; render.junit(report); render.markdown(report)

The registry (:mod:`~odooplane.gates.registry`) names the gates: ``tests``,
``security``, ``migration`` and ``neutralization``. Every run is recorded in the
evidence store's ``gate_runs`` with its log as an artifact; promotion reads those
records (:func:`~odooplane.gates.verdicts.gate_verdicts`) instead of running gates again.
"""

from __future__ import annotations

from odooplane.gates.model import Case, ChangedAddons, GateOutcome, GateResult, GatesReport
from odooplane.gates.runner import run_gates

__all__ = [
    "Case",
    "ChangedAddons",
    "GateOutcome",
    "GateResult",
    "GatesReport",
    "run_gates",
]
