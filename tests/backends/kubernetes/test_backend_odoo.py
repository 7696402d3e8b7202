"""`backend: kubernetes` with a real Odoo 17 on the real single-node cluster.

One project (an addon answering its version on /acme/version, in a real git
repository, on its own embedded PostgreSQL opened to the pods) and its environments are
shared by the ordered steps of this module, as an operator's day would go: production
created (database init as a Job, a Deployment, served through its Service's NodePort on
127.0.0.1), deployed with a change (an update Job, then the rollout), a broken deploy
rolled back (image and database), `env list` rebuilt from the cluster after the local
state is lost, a preview of a pull request created and removed when it closes; an
init Job that fails is reported as failed.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conftest import TEST_CACHE, run_git, write_addon
from fixtures_kubernetes import kubeconfig_path
from odooplane.backends.kubernetes import gc
from odooplane.backends.kubernetes import manifests as m
from odooplane.backends.kubernetes.api import KubeClient
from odooplane.backends.kubernetes.backend import KubernetesBackend
from odooplane.backends.supervisor import SupervisorBackend
from odooplane.config import load_config
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.source import OdooSource
from odooplane.postgres import roles
from odooplane.project import Project

pytestmark = [
    pytest.mark.odoo,
    pytest.mark.slow,
]

CONTROLLER = """from odoo import http


class Version(http.Controller):
    @http.route("/acme/version", type="http", auth="none")
    def version(self):
        return "{version}"
"""


@dataclass
class Scenario:
    repo: Path
    namespace: str
    kube: KubeClient
    project: str
    shas: dict[str, str] = field(default_factory=dict)

    def commit(self, label: str, message: str) -> str:
        run_git(self.repo, "add", "-A")
        run_git(self.repo, "commit", "-q", "-m", message)
        self.shas[label] = run_git(self.repo, "rev-parse", "HEAD")
        return self.shas[label]

    def cli(self, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "odooplane", "-C", str(self.repo), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def json(self, *args: str, timeout: float = 1200) -> Any:
        done = self.cli(*args, "--json", timeout=timeout)
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout)

    def load(self) -> Project:
        return Project(root=self.repo, config=load_config(self.repo / "odooplane.yaml"))

    def instance(self, env: str) -> str:
        return m.instance_name(self.project, env)

    def serving(self, env: str) -> dict[str, Any]:
        """The Deployment of the slot the environment's Service sends users to."""
        service = self.kube.get("Service", self.instance(env), self.namespace)
        assert service is not None
        slot = service["spec"]["selector"][m.SLOT_LABEL]
        dep = self.kube.get("Deployment", f"{self.instance(env)}-{slot}", self.namespace)
        assert dep is not None
        return dep

    def served(self, env: str, path: str) -> str:
        service = self.kube.get("Service", self.instance(env), self.namespace)
        assert service is not None
        port = service["spec"]["ports"][0]["nodePort"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as answer:
            return str(answer.read().decode())

    def set_version(self, version: str) -> None:
        path = self.repo / "addons" / "acme_web" / "controllers" / "main.py"
        path.write_text(CONTROLLER.replace("{version}", version))


@pytest.fixture(scope="module")
def scenario(
    tmp_path_factory: pytest.TempPathFactory,
    kube: KubeClient,
    base_image: str,
    odoo_source: OdooSource,
    odoo_runtime: Runtime,
) -> Iterator[Scenario]:
    bridge = subprocess.run(
        [
            "docker",
            "network",
            "inspect",
            "bridge",
            "--format",
            "{{(index .IPAM.Config 0).Subnet}} {{(index .IPAM.Config 0).Gateway}}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    subnet, gateway = bridge[0], bridge[1]
    name = f"k8s{uuid.uuid4().hex[:6]}"
    namespace = f"odooplane-{name}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ODOOPLANE_CACHE_DIR", str(TEST_CACHE))
        patch.setenv("ODOOPLANE_LOCK_TIMEOUT", "300")
        repo = tmp_path_factory.mktemp("kubernetes") / "project"
        repo.mkdir()
        run_git(repo, "init", "-q", "-b", "main")
        (repo / "odooplane.yaml").write_text(
            f"project: {name}\n"
            "odoo:\n"
            f"  series: '{odoo_source.series}'\n"
            f"  source: '{odoo_source.path}'\n"
            "environments:\n"
            "  production:\n"
            "    kind: production\n"
            "    backend: kubernetes\n"
            f"    url: https://erp.{name}.example\n"
            "    env_file: production.env\n"
            "  staging:\n"
            "    kind: staging\n"
            "    backend: kubernetes\n"
            f"    url: https://staging.{name}.example\n"
            "    neutralize: false\n"
            "previews:\n"
            "  enabled: true\n"
            "  data: demo\n"
            "  backend: kubernetes\n"
            "  domain: previews.example\n"
            "  closed_grace_minutes: 0\n"
            "kubernetes:\n"
            f"  kubeconfig: {kubeconfig_path()}\n"
            f"  namespace: {namespace}\n"
            "  service_type: NodePort\n"
            "  ingress_class: nginx\n"
            f"  host_address: {gateway}\n"
            f"  pod_network: {subnet}\n"
            "  resources: {requests: {cpu: 100m, memory: 256Mi}, limits: {memory: 2Gi}}\n"
            "  gc_schedule: '*/30 * * * *'\n"
        )
        (repo / "production.env").write_text("ACME_KEY=live-key\n")
        (repo / ".gitignore").write_text(".odooplane/\n*.env\n")
        write_addon(
            repo / "addons",
            "acme_web",
            depends=("web",),
            extra={"controllers/__init__.py": "from . import main\n"},
        )
        (repo / "addons" / "acme_web" / "__init__.py").write_text("from . import controllers\n")
        sc = Scenario(repo=repo, namespace=namespace, kube=kube, project=name)
        sc.set_version("v1")
        sc.commit("v1", "acme_web answers v1")
        try:
            yield sc
        finally:
            sc.cli("env", "destroy", "production", "--force", timeout=600)
            kube.delete("Namespace", namespace)
            sc.cli("db", "server", "stop", timeout=120)
            SupervisorBackend(repo / ".odooplane").shutdown()


def test_create_serves_through_the_service(scenario: Scenario) -> None:
    done = scenario.cli("env", "create", "production", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["status"] == "running"
    assert [s["name"] for s in outcome["steps"]][:1] == ["initialize database"]
    assert scenario.served("production", "/acme/version") == "v1"
    assert "<form" in scenario.served("production", "/web/login")
    dep = scenario.serving("production")
    labels = dep["metadata"]["labels"]
    assert labels[m.BUILD_LABEL] == scenario.shas["v1"]
    assert labels[m.ENVIRONMENT_LABEL] == "production"
    pod = dep["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["containers"][0]["resources"]["limits"] == {"memory": "2Gi"}
    route = scenario.kube.get("Ingress", scenario.instance("production"), scenario.namespace)
    assert route is not None
    assert route["spec"]["ingressClassName"] == "nginx"
    assert route["spec"]["rules"][0]["host"] == f"erp.{scenario.project}.example"
    jobs = scenario.kube.list_objects("Job", scenario.namespace, labels={m.TASK_LABEL: "init"})
    assert len(jobs) == 1 and jobs[0]["status"].get("succeeded") == 1
    # The pods log in with the environment's own role, never odooplane's login.
    login = scenario.kube.get("Secret", scenario.instance("production") + "-db", scenario.namespace)
    assert login is not None
    database = f"{scenario.project}_production"
    assert base64.b64decode(login["data"]["PGUSER"]).decode() == roles.role_for(database)
    assert login["data"]["PGPASSWORD"]
    # The env file reaches the pods as variables, from a secret.
    status = scenario.json("env", "status", "production")
    assert status["credentials"]["role"] == roles.role_for(database)
    assert status["process"]["state"] == "RUNNING"
    assert status["health"]["ok"] is True


def test_deploy_a_change_updates_then_rolls_out(scenario: Scenario) -> None:
    scenario.set_version("v2")
    sha = scenario.commit("v2", "acme_web answers v2")
    outcome = scenario.json("env", "deploy", "production", "main")
    assert outcome["status"] == "deployed"
    assert outcome["plan"]["update"] == ["acme_web"]
    assert scenario.served("production", "/acme/version") == "v2"
    dep = scenario.serving("production")
    assert dep["metadata"]["labels"][m.BUILD_LABEL] == sha
    # Blue/green: the new build got the other slot; the old one is stopped, kept.
    assert dep["metadata"]["labels"][m.SLOT_LABEL] == "green"
    blue = scenario.kube.get(
        "Deployment", scenario.instance("production") + "-blue", scenario.namespace
    )
    assert blue is not None and blue["spec"]["replicas"] == 0
    assert blue["metadata"]["labels"][m.BUILD_LABEL] == scenario.shas["v1"]
    service = scenario.kube.get("Service", scenario.instance("production"), scenario.namespace)
    assert service is not None
    state = json.loads(service["metadata"]["annotations"][m.ANNOTATION_STATE])
    assert state["previous_build"] == scenario.shas["v1"]
    updates = scenario.kube.list_objects("Job", scenario.namespace, labels={m.TASK_LABEL: "update"})
    assert any(j["status"].get("succeeded") == 1 for j in updates)
    history = scenario.json("history", "production")
    assert any(d["outcome"] == "succeeded" and d["git_sha"] == sha for d in history)


def test_broken_deploy_rolls_back_image_and_database(scenario: Scenario) -> None:
    broken = scenario.repo / "addons" / "acme_web" / "models.py"
    broken.write_text("raise ImportError('acme_web is broken on purpose')\n")
    (scenario.repo / "addons" / "acme_web" / "__init__.py").write_text(
        "from . import controllers\nfrom . import models\n"
    )
    manifest = scenario.repo / "addons" / "acme_web" / "__manifest__.py"
    manifest.write_text(manifest.read_text().replace("17.0.1.0.0", "17.0.1.0.1"))
    scenario.commit("broken", "acme_web breaks")
    done = scenario.cli("env", "deploy", "production", "main", "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "acme_web is broken on purpose" in done.stdout + done.stderr
    # The previous build serves again, from the restored database.
    assert scenario.served("production", "/acme/version") == "v2"
    dep = scenario.serving("production")
    assert dep["metadata"]["labels"][m.BUILD_LABEL] == scenario.shas["v2"]
    status = scenario.json("env", "status", "production")
    assert status["build"]["sha"] == scenario.shas["v2"]
    assert status["last_deployment"]["status"] == "rolled_back"
    history = scenario.json("history", "production")
    assert history[0]["outcome"] == "rolled_back"
    assert history[0]["git_sha"] == scenario.shas["broken"]


def test_an_init_job_that_fails_is_reported_as_failed(scenario: Scenario) -> None:
    # A fresh staging of the broken commit: its init Job installs base, then stops on
    # acme_web; the Job's exit code, not what the database holds, says it failed.
    done = scenario.cli("env", "create", "staging", "--ref", scenario.shas["broken"], "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["status"] == "failed"
    assert "Initializing the database failed: odoo-bin exited with code" in outcome["error"]
    assert "acme_web is broken on purpose" in done.stdout
    jobs = scenario.kube.list_objects(
        "Job", scenario.namespace, labels={m.TASK_LABEL: "init", m.ENVIRONMENT_LABEL: "staging"}
    )
    assert len(jobs) == 1 and jobs[0]["status"].get("failed") == 1
    assert not jobs[0]["status"].get("succeeded")
    # Nothing of it was started.
    staging = scenario.kube.list_objects(
        "Deployment", scenario.namespace, labels={m.ENVIRONMENT_LABEL: "staging"}
    )
    assert [d["metadata"]["name"] for d in staging if d["spec"].get("replicas")] == []


def test_logs_shell_and_cron_run_go_through_the_api(scenario: Scenario) -> None:
    logs = scenario.cli("env", "logs", "production", "-n", "50")
    assert logs.returncode == 0, logs.stderr
    assert "odoo" in logs.stdout.lower()
    shell = subprocess.run(
        [sys.executable, "-m", "odooplane", "-C", str(scenario.repo), "env", "shell", "production"],
        input="print('partners:', env['res.partner'].search_count([]) > 0)\n",
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert shell.returncode == 0, shell.stdout + shell.stderr
    assert "partners: True" in shell.stdout
    cron = scenario.json("env", "cron-run", "production", "base.autovacuum_job")
    assert cron["status"] == "ok"


def test_env_list_rebuilt_from_the_cluster(scenario: Scenario) -> None:
    secret = scenario.kube.get(
        "Secret", f"{scenario.instance('production')}-db", scenario.namespace
    )
    assert secret is not None
    password = base64.b64decode(secret["data"]["PGPASSWORD"]).decode()
    shutil.rmtree(scenario.repo / ".odooplane" / "environments")
    rows = scenario.json("env", "list")
    (production,) = [r for r in rows if r["environment"] == "production"]
    assert production["status"] == "running"
    assert production["build"] == scenario.shas["v2"]
    status = scenario.json("env", "status", "production")
    assert status["previous_build"] == scenario.shas["v1"]
    assert status["health"]["ok"] is True
    # The role's password comes back from the cluster's Secret, not a new one the
    # running pods would not have: a job logs in, and the pods keep serving.
    cron = scenario.json("env", "cron-run", "production", "base.autovacuum_job")
    assert cron["status"] == "ok"
    kept = json.loads(
        (
            scenario.repo / ".odooplane" / "environments" / "production" / "credentials.json"
        ).read_text()
    )
    assert kept["password"] == password and kept.get("rotations", []) == []
    assert scenario.json("env", "status", "production")["health"]["ok"] is True


def test_preview_created_then_removed_when_its_pull_request_closes(scenario: Scenario) -> None:
    # The pull request branches off the last good commit (main's last one is broken).
    run_git(scenario.repo, "checkout", "-q", "-b", "feature/login", scenario.shas["v2"])
    scenario.set_version("preview")
    scenario.commit("preview", "acme_web answers preview")
    run_git(scenario.repo, "checkout", "-q", "main")
    info = scenario.json("preview", "up", "--pr", "7", "--branch", "feature/login")
    name = info["environment"]
    assert info["status"] == "running"
    assert scenario.served(name, "/acme/version") == "preview"
    dep = scenario.serving(name)
    assert dep["metadata"]["labels"][m.PULL_REQUEST_LABEL] == "7"
    assert dep["metadata"]["labels"][m.KIND_LABEL] == "preview"
    route = scenario.kube.get("Ingress", scenario.instance(name), scenario.namespace)
    assert route is not None
    assert route["spec"]["rules"][0]["host"] == f"{name}.previews.example"
    # `preview gc` runs in the cluster (the CronJob), knowing only what the cluster keeps.
    cronjob = scenario.kube.get("CronJob", gc.gc_name(scenario.load()), scenario.namespace)
    assert cronjob is not None and cronjob["spec"]["schedule"] == "*/30 * * * *"
    closed = scenario.json("preview", "close", "--pr", "7")
    assert closed[0]["environment"] == name
    report = gc.run_now(KubernetesBackend(scenario.load()), timeout=900)
    removed = [a for a in report["actions"] if a["action"] == "removed"]
    assert [a["environment"] for a in removed] == [name]
    assert "closed" in removed[0]["reason"]
    left = scenario.kube.list_objects(
        "Deployment", scenario.namespace, labels={m.ENVIRONMENT_LABEL: name}
    )
    assert [d for d in left if not d["metadata"].get("deletionTimestamp")] == []
    claims = scenario.kube.list_objects(
        "PersistentVolumeClaim", scenario.namespace, labels={m.ENVIRONMENT_LABEL: name}
    )
    assert [c for c in claims if not c["metadata"].get("deletionTimestamp")] == []
    databases = [d["name"] for d in scenario.json("db", "list")]
    assert not [d for d in databases if "_pr_7_" in d]
    # Here, gc then forgets the local record of what the cluster removed.
    scenario.json("preview", "gc")
    assert scenario.json("preview", "list") == []
