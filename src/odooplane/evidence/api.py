"""The evidence layer's public API: what deploy, rollback, neutralization and gates call.

    from odooplane.evidence.api import EvidenceStore

    with EvidenceStore.open(project) as store:
        build = store.record_build_from_git(project.root, sha, odoo_series="17.0", ...)
        with store.start_deployment("staging", git_sha=build.git_sha, build_id=build.id,
                                    approved_by="alice") as deployment:
            with deployment.step("upgrade modules") as step:
                step.run(["odoo-bin", "-u", "sale", ...])
            deployment.record_migration("sale", from_version="17.0.1.0",
                                        to_version="17.0.1.1", scripts=[...])
            deployment.record_health_check("http", ok=True, detail="200 in 80 ms")
        # leaving the block records the outcome (failed if it raised)

        with store.gate_run("tests", git_sha=sha) as gate:
            gate.run([...]); gate.details = {"passed": 120}

No other module writes the ``ops`` tables.
"""

from __future__ import annotations

from odooplane.evidence.postmortem import postmortem
from odooplane.evidence.recorder import DeploymentRecorder, OutputCapture
from odooplane.evidence.records import (
    OUTCOMES,
    BuildRecord,
    DeploymentDetail,
    DeploymentSummary,
    GateRunRecord,
    HealthCheckRecord,
    MigrationRecord,
    NeutralizationRecord,
    StepLog,
    StepRecord,
)
from odooplane.evidence.redact import Redactor, redactor_for
from odooplane.evidence.retention import PruneReport, prune
from odooplane.evidence.store import EvidenceStore, GateCapture, StoreStatus, SyncResult
from odooplane.evidence.supabase import export_sql

__all__ = [
    "OUTCOMES",
    "BuildRecord",
    "DeploymentDetail",
    "DeploymentRecorder",
    "DeploymentSummary",
    "EvidenceStore",
    "GateCapture",
    "GateRunRecord",
    "HealthCheckRecord",
    "MigrationRecord",
    "NeutralizationRecord",
    "OutputCapture",
    "PruneReport",
    "Redactor",
    "StepLog",
    "StepRecord",
    "StoreStatus",
    "SyncResult",
    "export_sql",
    "postmortem",
    "prune",
    "redactor_for",
]
