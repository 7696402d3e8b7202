"""The Kubernetes backend's record of an environment, and one-off command names."""

from __future__ import annotations

import json

from odooplane.backends.kubernetes import manifests as m
from odooplane.backends.kubernetes.backend import state_of
from odooplane.backends.kubernetes.task import task_name


def deployment(replicas: int, record: dict[str, object], **labels: str) -> dict[str, object]:
    return {
        "metadata": {
            "labels": {m.BUILD_LABEL: "b" * 40, m.KIND_LABEL: "production", **labels},
            "annotations": {m.ANNOTATION_STATE: json.dumps(record)},
        },
        "spec": {"replicas": replicas},
    }


def test_state_from_a_deployment_trusts_labels_and_replicas() -> None:
    record = {
        "build": "a" * 40,
        "status": "running",
        "previous_build": "c" * 40,
        "database": "acme_production",
        "deployed_at": "2026-12-01T19:00:00+00:00",
    }
    state = state_of(deployment(0, record))
    assert state["build"] == "b" * 40  # the label says what runs
    assert state["status"] == "stopped" and state["desired"] == "stopped"
    assert state["previous_build"] == "c" * 40 and state["database"] == "acme_production"
    running = state_of(deployment(1, {"status": "failed"}, **{m.PULL_REQUEST_LABEL: "12"}))
    assert running["status"] == "failed"  # a recorded failure stays a failure
    assert running["desired"] == "running" and running["pull_request"] == 12
    broken = deployment(1, {})
    broken["metadata"]["annotations"] = {m.ANNOTATION_STATE: "{not json"}  # type: ignore[index]
    assert state_of(broken)["status"] == "running"


def test_one_off_commands_are_named_for_what_they_do() -> None:
    odoo = ["/opt/odoo/venv/bin/python", "/opt/odoo/src/odoo-bin"]
    assert task_name([*odoo, "-c", "c", "-d", "db", "-i", "base", "--stop-after-init"]) == "init"
    assert task_name([*odoo, "-c", "c", "-d", "db", "-u", "acme", "-i", "x"]) == "update"
    assert task_name([*odoo, "shell", "-c", "c"]) == "shell"
    assert task_name([*odoo, "neutralize", "-c", "c"]) == "neutralize"
    assert task_name([*odoo, "-u", "x", "--test-enable"]) == "test"
