"""`preview gc` as a CronJob: its objects validate, its configuration loads in the pod,
and the job runs odooplane in the real cluster with its own service account."""

from __future__ import annotations

import subprocess
from pathlib import Path

import kubernetes_validate
import pytest

from fixtures_config import VALID
from odooplane.backends.kubernetes import gc
from odooplane.backends.kubernetes.api import KubeClient
from odooplane.backends.kubernetes.backend import KubernetesBackend
from odooplane.config import load_config
from odooplane.project import Project

PREVIEWS = (
    "previews: {enabled: true, data: demo, backend: kubernetes, idle_minutes: 0}\n"
    "kubernetes: {namespace: NAMESPACE, gc_schedule: '*/15 * * * *', "
    "image_pull_policy: IfNotPresent}\n"
)


def project_in(tmp_path: Path, namespace: str = "shop") -> Project:
    root = tmp_path / "shop"
    root.mkdir(exist_ok=True)
    (root / "odooplane.yaml").write_text(VALID + PREVIEWS.replace("NAMESPACE", namespace))
    return Project(root=root, config=load_config(root / "odooplane.yaml", environ={}))


def test_the_pod_configuration_loads_and_reaches_the_database(tmp_path: Path) -> None:
    project = project_in(tmp_path)
    text = gc.pod_config(project, "postgresql://odoo:pw@10.0.0.5:5432/postgres")
    pod_root = tmp_path / "pod"
    pod_root.mkdir()
    (pod_root / "odooplane.yaml").write_text(text)
    config = load_config(pod_root / "odooplane.yaml", environ={})
    assert config.database.server == "postgresql://odoo:pw@10.0.0.5:5432/postgres"
    assert config.kubernetes.kubeconfig is None
    assert config.previews.backend == "kubernetes"
    assert sorted(config.environments) == sorted(project.config.environments)


def test_objects_validate_and_hold_least_rights(tmp_path: Path) -> None:
    project = project_in(tmp_path)
    docs = gc.gc_objects(
        project,
        image="odooplane/tool:x",
        database_url="postgresql://a@b/c",
        schedule="*/15 * * * *",
    )
    assert [d["kind"] for d in docs] == [
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "Secret",
        "CronJob",
    ]
    for doc in docs:
        for version in ("1.32.0", kubernetes_validate.latest_version()):
            kubernetes_validate.validate(doc, version, strict=True)
    role = docs[1]
    assert all("create" not in rule["verbs"] for rule in role["rules"])
    cron = docs[4]
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["containers"][0]["args"] == ["-C", "/project", "preview", "gc", "--json"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"


@pytest.mark.slow
def test_the_cronjob_runs_odooplane_in_the_cluster(
    tmp_path: Path, kube: KubeClient, kube_namespace: str, base_image: str
) -> None:
    done = subprocess.run(["docker", "info"], capture_output=True)
    assert done.returncode == 0
    project = project_in(tmp_path, kube_namespace)
    backend = KubernetesBackend(project, client=kube)
    image = gc.ensure_tool_image(project)
    assert image == gc.tool_tag()
    # A database nobody listens on: with nothing to remove, gc needs none.
    backend.work.apply_all(
        gc.gc_objects(
            project,
            image=image,
            database_url="postgresql://odoo:pw@192.0.2.1:9/x",
            schedule="*/15 * * * *",
        )
    )
    report = gc.run_now(backend, timeout=600)
    # No spare copy of the preview base in a cluster: its previews clone the base.
    assert report == {"actions": [], "kept": [], "spare": None}
    removed = gc.ensure_gc(
        KubernetesBackend(
            Project(
                root=project.root,
                config=load_config(project.root / "odooplane.yaml", environ={}).model_copy(
                    update={
                        "previews": project.config.previews.model_copy(update={"backend": "local"})
                    }
                ),
            ),
            client=kube,
        )
    )
    assert sorted(removed) == sorted(
        f"{kind}/{gc.gc_name(project)}"
        for kind in ("CronJob", "RoleBinding", "Role", "ServiceAccount", "Secret")
    )
