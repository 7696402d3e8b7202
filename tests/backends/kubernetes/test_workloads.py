"""Jobs run to their end, rollouts wait for readiness or say why they fail, objects go
by labels: against the real cluster."""

from __future__ import annotations

from typing import Any

from odooplane.backends.kubernetes.api import KubeClient
from odooplane.backends.kubernetes.workloads import Workloads

SERVER = (
    "import http.server, os\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        body = os.environ.get('ANSWER', 'ok').encode()\n"
    "        self.send_response(200); self.end_headers(); self.wfile.write(body)\n"
    "http.server.HTTPServer(('', 8069), H).serve_forever()\n"
)


def job(namespace: str, name: str, script: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "t"}},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
                    "containers": [
                        {
                            "name": "main",
                            "image": image,
                            "imagePullPolicy": "Never",
                            "command": ["bash", "-c", script],
                        }
                    ],
                }
            },
        },
    }


def deployment(namespace: str, image: str, answer: str, command: list[str]) -> dict[str, Any]:
    labels = {"app": "web"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
                    "containers": [
                        {
                            "name": "web",
                            "image": image,
                            "imagePullPolicy": "Never",
                            "command": command,
                            "env": [{"name": "ANSWER", "value": answer}],
                            "ports": [{"name": "http", "containerPort": 8069}],
                            "readinessProbe": {
                                "httpGet": {"path": "/web/health", "port": "http"},
                                "periodSeconds": 1,
                            },
                        }
                    ],
                },
            },
        },
    }


def test_job_output_and_end(kube: KubeClient, kube_namespace: str, base_image: str) -> None:
    work = Workloads(kube, kube_namespace)
    seen: list[str] = []
    ok = work.run_job(
        job(kube_namespace, "fine", "for i in 1 2 3; do echo line $i; sleep 0.2; done", base_image),
        timeout=120,
        on_line=seen.append,
    )
    assert ok.succeeded and ok.reason == "succeeded"
    assert ok.output.splitlines() == ["line 1", "line 2", "line 3"]
    assert seen == ["line 1", "line 2", "line 3"]
    bad = work.run_job(
        job(kube_namespace, "broken", "echo Traceback; exit 4", base_image), timeout=120
    )
    assert not bad.succeeded
    assert "exited with code 4" in bad.reason or "BackoffLimitExceeded" in bad.reason
    assert "Traceback" in bad.output


def test_job_that_cannot_start_fails_fast(kube: KubeClient, kube_namespace: str) -> None:
    work = Workloads(kube, kube_namespace)
    result = work.run_job(
        job(kube_namespace, "noimage", "true", "odooplane.local/missing:0"), timeout=120
    )
    assert not result.succeeded
    assert result.reason.startswith("ErrImageNeverPull")
    assert result.seconds < 60
    left = kube.get("Job", "noimage", kube_namespace)
    assert left is None or left["metadata"].get("deletionTimestamp")


def test_rollout_ready_then_a_crashing_one_is_explained(
    kube: KubeClient, kube_namespace: str, probe_image: str
) -> None:
    work = Workloads(kube, kube_namespace)
    work.apply_all([deployment(kube_namespace, probe_image, "one", ["python3", "-c", SERVER])])
    ready = work.wait_rollout("web", {"app": "web"}, timeout=120)
    assert ready.ok, ready
    assert len(ready.pods) == 1
    answer = kube.exec(
        ready.pods[0],
        kube_namespace,
        [
            "python3",
            "-c",
            "import urllib.request;"
            "print(urllib.request.urlopen('http://127.0.0.1:8069/').read().decode())",
        ],
    )
    assert answer.stdout.strip() == "one"

    crashing = ["bash", "-c", "echo 'ImportError: no module named foo' >&2; exit 1"]
    work.apply_all([deployment(kube_namespace, probe_image, "two", crashing)])
    failed = work.wait_rollout("web", {"app": "web"}, timeout=180)
    assert not failed.ok
    assert failed.reason.startswith("CrashLoopBackOff")
    assert "ImportError: no module named foo" in failed.log_excerpt

    work.scale("web", 0)
    stopped = work.wait_rollout("web", {"app": "web"}, timeout=120)
    assert stopped.ok and stopped.pods == []


def test_remove_by_labels(kube: KubeClient, kube_namespace: str) -> None:
    work = Workloads(kube, kube_namespace)
    for name, app in (("a", "x"), ("b", "x"), ("c", "y")):
        kube.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "namespace": kube_namespace, "labels": {"app": app}},
                "stringData": {"k": "v"},
            }
        )
    assert sorted(work.remove({"app": "x"})) == ["Secret/a", "Secret/b"]
    assert [s["metadata"]["name"] for s in work.find("Secret", {"app": "y"})] == ["c"]
    assert work.remove({"app": "x"}) == []
