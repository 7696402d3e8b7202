"""The `kubernetes:` section and an environment's `resources`: defaults, quantities,
and mistakes named with their position."""

from __future__ import annotations

from pathlib import Path

from fixtures_config import VALID, one_issue, write
from odooplane.config import load_config

BASE = VALID.replace("    kind: production\n", "    kind: production\n    workers: 2\n", 1)


def test_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID), environ={})
    k8s = config.kubernetes
    assert k8s.namespace is None and k8s.kubeconfig is None
    assert k8s.service_type == "ClusterIP" and k8s.image_pull_policy == "IfNotPresent"
    assert k8s.filestore_size == "10Gi"
    assert k8s.resources.requests == {"cpu": "250m", "memory": "512Mi"}
    assert k8s.resources.limits == {"memory": "2Gi"}
    assert config.environments["production"].resources is None


def test_section_and_per_environment_resources(tmp_path: Path) -> None:
    text = BASE.replace(
        "    kind: production\n",
        "    kind: production\n    resources: {requests: {cpu: 1, memory: 1Gi}, "
        "limits: {cpu: 2.5, memory: 4Gi}}\n",
        1,
    ) + (
        "kubernetes:\n"
        "  kubeconfig: ~/.kube/prod\n"
        "  namespace: shop-prod\n"
        "  ingress_class: nginx\n"
        "  ingress_annotations: {cert-manager.io/cluster-issuer: letsencrypt}\n"
        "  storage_class: fast-ssd\n"
        "  filestore_size: 50Gi\n"
        "  image_registry: registry.example.com/shop\n"
        "  gc_schedule: '*/30 * * * *'\n"
    )
    config = load_config(write(tmp_path, text), environ={})
    k8s = config.kubernetes
    assert (k8s.namespace, k8s.ingress_class, k8s.storage_class) == (
        "shop-prod",
        "nginx",
        "fast-ssd",
    )
    assert k8s.ingress_annotations == {"cert-manager.io/cluster-issuer": "letsencrypt"}
    resources = config.environments["production"].resources
    assert resources is not None
    assert resources.requests == {"cpu": "1", "memory": "1Gi"}
    assert resources.limits == {"cpu": "2.5", "memory": "4Gi"}


def test_bad_quantity_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "kubernetes:\n  filestore_size: 10 GB\n")
    issue = one_issue(path)
    assert issue.path == "kubernetes.filestore_size"
    assert "'10 GB' is not a Kubernetes quantity" in issue.message


def test_request_above_limit_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        VALID + "kubernetes:\n  resources: {requests: {memory: 4Gi}, limits: {memory: 1Gi}}\n",
    )
    issue = one_issue(path)
    assert issue.path.startswith("kubernetes.resources")
    assert "memory request 4Gi is above its limit 1Gi" in issue.message


def test_unknown_resource_and_bad_namespace(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "kubernetes:\n  namespace: Shop_Prod\n")
    issue = one_issue(path)
    assert issue.path == "kubernetes.namespace"
    assert "'Shop_Prod' is not a namespace name" in issue.message
    path = write(tmp_path, VALID + "kubernetes:\n  resources: {requests: {gpu: 1}}\n")
    issue = one_issue(path)
    assert "gpu" in str(issue)


def test_bad_schedule(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "kubernetes:\n  gc_schedule: every hour\n")
    issue = one_issue(path)
    assert issue.path == "kubernetes.gc_schedule"
    assert "five fields" in issue.message
