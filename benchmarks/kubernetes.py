"""Local backend (supervisord) against the Kubernetes backend, side by side, one run.

The same repository (two small addons, from ``benchmarks/backends.py``) as two projects
with one production environment each: ``backend: local`` and ``backend: kubernetes``
(on the cluster of ``.ci/setup-kubernetes``, the embedded PostgreSQL opened to the pods).
For each, in turn:

- **create**: `env create production` until Odoo serves (locally: /web/login answers;
  on the cluster: a database init Job, the rollout, /web/login from inside the pod);
- **deploy**: `env deploy production main` after a one-addon change (stop, snapshot,
  module update (a Job on the cluster), start, health);
- **start** and **stop** of the running environment.

Also the cluster itself: `.ci/setup-kubernetes` when it finds the cluster running.

    flock /tmp/odooplane-heavy.lock python benchmarks/kubernetes.py [--odoo-src PATH]

Needs the Docker engine (`.ci/setup-docker`) and the cluster (`.ci/setup-kubernetes`);
the images of the build are made (or found) first and not counted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from backends import change, make_project, timed  # type: ignore[import-not-found]
from odooplane.backends.kubernetes.backend import KubernetesBackend
from odooplane.config import load_config
from odooplane.environments import api as envs
from odooplane.environments.builds import build
from odooplane.mailcatcher import stop_catcher
from odooplane.postgres.cluster import EmbeddedCluster
from odooplane.project import Project

ROOT = Path(__file__).resolve().parents[1]
KUBECONFIG = Path(
    os.environ.get("ODOOPLANE_TEST_KUBECONFIG", "/var/lib/odooplane-k8s/admin.kubeconfig")
)


def on_kubernetes(project: Project) -> Project:
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
    path = project.root / "odooplane.yaml"
    path.write_text(
        path.read_text() + "kubernetes:\n"
        f"  kubeconfig: {KUBECONFIG}\n"
        f"  namespace: {project.config.project}\n"
        f"  host_address: {bridge[1]}\n"
        f"  pod_network: {bridge[0]}\n"
        "  resources: {requests: {cpu: 100m, memory: 256Mi}, limits: {memory: 2Gi}}\n"
    )
    return Project(root=project.root, config=load_config(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--odoo-src", type=Path, default=Path("/opt/odoo-src/17.0"))
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {"local": {}, "kubernetes": {}}
    started = time.monotonic()
    subprocess.run(
        ["bash", str(ROOT / ".ci" / "setup-kubernetes")], check=True, capture_output=True
    )
    cluster_reuse = time.monotonic() - started
    with tempfile.TemporaryDirectory(prefix="odooplane-bench-k8s-") as tmp:
        projects = {
            "local": make_project(Path(tmp) / "local", args.odoo_src, "local"),
            "kubernetes": on_kubernetes(
                make_project(Path(tmp) / "kubernetes", args.odoo_src, "kubernetes")
            ),
        }
        try:
            for kind, project in projects.items():
                print(f"{kind}:", flush=True)
                row = results[kind]
                b = build(project, "main")
                if kind == "kubernetes":
                    KubernetesBackend(project).image_of(b)  # not counted: see --help
                row["create"] = timed("create", lambda p=project: envs.create(p, "production"))
                change(project)
                if kind == "kubernetes":
                    KubernetesBackend(project).image_of(build(project, "main"))
                row["deploy"] = timed(
                    "deploy", lambda p=project: envs.deploy(p, "production", "main")
                )
                row["stop"] = timed("stop", lambda p=project: envs.stop(p, "production"))
                row["start"] = timed("start", lambda p=project: envs.start(p, "production"))
        finally:
            for kind, project in projects.items():
                try:
                    envs.destroy(project, "production", force=True)
                except Exception as exc:  # the other project must be cleaned up too
                    print(f"destroy {kind}: {exc}", file=sys.stderr)
                if kind == "kubernetes":
                    KubernetesBackend(project).client.delete("Namespace", project.config.project)
                stop_catcher(project.state_dir)
                EmbeddedCluster(project.state_dir).stop()
                shutil.rmtree(project.root, ignore_errors=True)

    print("\nlocal vs Kubernetes backend (seconds)")
    print(f"{'':12}{'local':>10}{'kubernetes':>12}{'k8s/local':>12}")
    for key in ("create", "deploy", "stop", "start"):
        local = results["local"].get(key)
        k8s = results["kubernetes"].get(key)
        ratio = f"{k8s / local:.2f}x" if local and k8s else "-"
        print(
            f"{key:12}{(f'{local:.1f}' if local else '-'):>10}"
            f"{(f'{k8s:.1f}' if k8s else '-'):>12}{ratio:>12}"
        )
    print(f"cluster found running by .ci/setup-kubernetes: {cluster_reuse:.1f} s")


if __name__ == "__main__":
    main()
