"""What the evidence store says a build passed: the latest run of each gate recorded for
that commit (and build). Promotion reads these; it never runs a gate again, and a pass
recorded for another commit does not count."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from odooplane.project import Project

if TYPE_CHECKING:
    from odooplane.evidence.api import GateRunRecord


def gate_verdicts(
    project: Project, git_sha: str, *, build_id: uuid.UUID | None = None
) -> dict[str, GateRunRecord]:
    """Gate name -> its latest recorded run for ``git_sha`` (and ``build_id``)."""
    from odooplane.evidence.api import EvidenceStore

    with EvidenceStore.open(project) as store:
        runs = store.gate_runs(git_sha, build_id=build_id)
    latest: dict[str, GateRunRecord] = {}
    for run in runs:
        latest[run.gate] = run
    return latest


def missing_gates(
    required: list[str] | tuple[str, ...], verdicts: dict[str, GateRunRecord]
) -> list[str]:
    """Sentences, one per required gate that did not pass for this build."""
    problems = []
    for gate in required:
        run = verdicts.get(gate)
        if run is None:
            problems.append(f"gate '{gate}' was never run on this build")
        elif run.status != "passed":
            problems.append(
                f"gate '{gate}' {run.status} (run {str(run.id)[:8]}: {run.summary or 'no summary'})"
            )
    return problems
