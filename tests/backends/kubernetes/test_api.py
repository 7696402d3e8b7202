"""The REST client against the real cluster: apply, read by label, delete, versions,
pod logs and exec, and errors as sentences."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from odooplane.backends.kubernetes.api import ApiError, KubeClient, exit_code_of
from odooplane.backends.kubernetes.kubeconfig import load_kubeconfig
from odooplane.errors import ExternalToolError


def config_map(namespace: str, name: str, data: dict[str, str], **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "data": data,
    }


def test_apply_is_idempotent_and_reads_go_by_label(kube: KubeClient, kube_namespace: str) -> None:
    first = kube.apply(config_map(kube_namespace, "one", {"a": "1"}, app="x"))
    again = kube.apply(config_map(kube_namespace, "one", {"a": "1"}, app="x"))
    assert first["metadata"]["resourceVersion"] == again["metadata"]["resourceVersion"]
    changed = kube.apply(config_map(kube_namespace, "one", {"a": "2"}, app="x"))
    assert changed["data"] == {"a": "2"}
    kube.apply(config_map(kube_namespace, "two", {}, app="y"))
    found = kube.list_objects("ConfigMap", kube_namespace, labels={"app": "x"})
    assert [o["metadata"]["name"] for o in found] == ["one"]
    assert found[0]["kind"] == "ConfigMap"
    assert kube.delete("ConfigMap", "one", kube_namespace) is True
    assert kube.delete("ConfigMap", "one", kube_namespace) is False
    assert kube.get("ConfigMap", "one", kube_namespace) is None


def test_cronjob_goes_to_the_version_the_server_serves(kube: KubeClient) -> None:
    version = kube.api_version("CronJob")
    served = kube.request("GET", "/version")
    minor = int(str(served["minor"]).rstrip("+"))
    assert version == ("batch/v1" if minor >= 21 else "batch/v1beta1")


def test_errors_are_sentences(kube: KubeClient, kube_namespace: str) -> None:
    bad = config_map(kube_namespace, "Not_A_Name", {})
    with pytest.raises(ApiError) as caught:
        kube.apply(bad)
    assert caught.value.status == 422
    assert "Not_A_Name" in caught.value.message


def test_unreachable_server_says_where(tmp_path: Path, kube: KubeClient) -> None:
    text = Path(kube.access.source).read_text().replace(kube.access.server, "https://127.0.0.1:9")
    path = tmp_path / "kubeconfig"
    path.write_text(text)
    client = KubeClient(load_kubeconfig(path), timeout=5)
    with pytest.raises(ExternalToolError) as caught:
        client.get("Namespace", "default")
    assert "Cannot reach the Kubernetes API at https://127.0.0.1:9" in caught.value.message
    assert str(path) in caught.value.message


def test_logs_and_exec_in_a_pod(kube: KubeClient, kube_namespace: str, base_image: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "shell", "namespace": kube_namespace},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "main",
                    "image": base_image,
                    "imagePullPolicy": "Never",
                    "command": ["bash", "-c", "echo started; exec sleep 600"],
                }
            ],
        },
    }
    kube.apply(pod)

    def running() -> bool:
        current = kube.get("Pod", "shell", kube_namespace) or {}
        return (current.get("status") or {}).get("phase") == "Running"

    kube.wait_for("the pod running", running, timeout=90)
    kube.wait_for(
        "the pod's first log line",
        lambda: list(kube.logs("shell", kube_namespace)) == ["started"],
        timeout=30,
    )
    result = kube.exec(
        "shell", kube_namespace, ["bash", "-c", "echo out; echo err >&2; id -u; exit 3"]
    )
    assert result.exit_code == 3
    assert result.stdout.split() == ["out", "1000"]
    assert result.stderr.strip() == "err"
    piped = kube.exec("shell", kube_namespace, ["wc", "-l"], stdin_text="a\nb\n'quoted' $X\n")
    assert (piped.exit_code, piped.stdout.strip()) == (0, "3")


def test_exit_code_of_a_status() -> None:
    assert exit_code_of({"status": "Success"}) == 0
    assert (
        exit_code_of(
            {
                "status": "Failure",
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": "7"}]},
            }
        )
        == 7
    )
    assert exit_code_of({"status": "Failure", "message": "no such file"}) == 126
