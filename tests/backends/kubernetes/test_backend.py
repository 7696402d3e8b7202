"""The Kubernetes backend's record of an environment, programs, and one-off names."""

from __future__ import annotations

import json
from typing import Any

from odooplane.backends.kubernetes import manifests as m
from odooplane.backends.kubernetes.backend import split_program, state_of
from odooplane.backends.kubernetes.task import task_name


def service(record: dict[str, Any], slot: str | None, **labels: str) -> dict[str, Any]:
    selector = {m.SLOT_LABEL: slot} if slot else {}
    return {
        "metadata": {
            "labels": {m.KIND_LABEL: "production", **labels},
            "annotations": {m.ANNOTATION_STATE: json.dumps(record)},
        },
        "spec": {"selector": selector},
    }


def slot_deployment(slot: str, build: str, replicas: int) -> dict[str, Any]:
    return {
        "metadata": {"labels": {m.SLOT_LABEL: slot, m.BUILD_LABEL: build}},
        "spec": {"replicas": replicas},
    }


def test_state_from_the_cluster_trusts_selector_labels_and_replicas() -> None:
    record = {
        "build": "old",
        "status": "running",
        "previous_build": "c" * 40,
        "database": "acme_production",
        "deployed_at": "2026-12-01T19:00:00+00:00",
    }
    slots = [slot_deployment("blue", "a" * 40, 0), slot_deployment("green", "b" * 40, 1)]
    state = state_of(service(record, "green"), slots)
    assert state["slot"] == "green" and state["build"] == "b" * 40  # what serves
    assert state["slots"]["blue"]["build"] == "a" * 40
    assert state["status"] == "running" and state["desired"] == "running"
    assert state["previous_build"] == "c" * 40 and state["database"] == "acme_production"
    stopped = state_of(service(record, "blue"), slots)
    assert stopped["build"] == "a" * 40 and stopped["status"] == "stopped"
    failed = state_of(service({"status": "failed"}, "green", **{m.PULL_REQUEST_LABEL: "12"}), slots)
    assert failed["status"] == "failed"  # a recorded failure stays a failure
    assert failed["pull_request"] == 12
    maintenance = state_of(service(record, m.MAINTENANCE_SLOT), slots)
    assert maintenance["build"] == "old" and "slot" not in maintenance
    broken = service({}, None)
    broken["metadata"]["annotations"] = {m.ANNOTATION_STATE: "{not json"}
    assert state_of(broken, [])["status"] == "stopped"


def test_programs_are_environment_slots() -> None:
    assert split_program("production.blue") == ("production", "blue")
    assert split_program("pr-7-login") == ("pr-7-login", None)


def test_one_off_commands_are_named_for_what_they_do() -> None:
    odoo = ["/opt/odoo/venv/bin/python", "/opt/odoo/src/odoo-bin"]
    assert task_name([*odoo, "-c", "c", "-d", "db", "-i", "base", "--stop-after-init"]) == "init"
    assert task_name([*odoo, "-c", "c", "-d", "db", "-u", "acme", "-i", "x"]) == "update"
    assert task_name([*odoo, "shell", "-c", "c"]) == "shell"
    assert task_name([*odoo, "neutralize", "-c", "c"]) == "neutralize"
    assert task_name([*odoo, "-u", "x", "--test-enable"]) == "test"
