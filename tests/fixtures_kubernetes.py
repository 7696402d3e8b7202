"""Kubernetes fixtures: the real single-node cluster `.ci/setup-kubernetes` runs.

- ``kube`` (session): a :class:`KubeClient` of ``$ODOOPLANE_TEST_KUBECONFIG`` (default
  ``/var/lib/odooplane-k8s/admin.kubeconfig``); the tests using it are skipped, saying
  why, when the file is missing or the cluster does not answer;
- ``kube_namespace`` (function): a fresh namespace, deleted afterwards;
- ``base_image``: an image with a shell the kubelet can run without pulling (the
  Docker engine's ``odooplane/debian:bookworm`` from `.ci/setup-docker`).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from odooplane.backends.kubernetes.api import KubeClient
from odooplane.backends.kubernetes.kubeconfig import load_kubeconfig
from odooplane.errors import OdooplaneError

DEFAULT_KUBECONFIG = "/var/lib/odooplane-k8s/admin.kubeconfig"
BASE_IMAGE = os.environ.get("ODOOPLANE_BASE_IMAGE", "odooplane/debian:bookworm")


def kubeconfig_path() -> Path:
    return Path(os.environ.get("ODOOPLANE_TEST_KUBECONFIG", DEFAULT_KUBECONFIG))


@pytest.fixture(scope="session")
def kube() -> KubeClient:
    path = kubeconfig_path()
    if not path.is_file():
        pytest.skip(f"no Kubernetes cluster: {path} is missing (run .ci/setup-kubernetes)")
    client = KubeClient(load_kubeconfig(path))
    try:
        client.request("GET", "/readyz")
    except OdooplaneError as exc:
        pytest.skip(f"the Kubernetes cluster of {path} does not answer: {exc.message}")
    return client


@pytest.fixture
def kube_namespace(kube: KubeClient) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:10]}"
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    # Before 1.24 a pod mounting the account's token waits for its token secret too.
    kube.wait_for(
        "the default service account and its token",
        lambda: (kube.get("ServiceAccount", "default", name) or {}).get("secrets"),
        timeout=60,
    )
    yield name
    kube.delete("Namespace", name)


@pytest.fixture(scope="session")
def base_image() -> str:
    done = subprocess.run(
        ["docker", "image", "inspect", BASE_IMAGE], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"the image {BASE_IMAGE} is not in the Docker engine (run .ci/setup-docker)")
    return BASE_IMAGE


PROBE_IMAGE = "odooplane.local/k8s-probe:1"


@pytest.fixture(scope="session")
def probe_image(base_image: str) -> str:
    """A small image with Python, for pods that must answer HTTP (built once per engine)."""
    if subprocess.run(["docker", "image", "inspect", PROBE_IMAGE], capture_output=True).returncode:
        dockerfile = (
            f"FROM {base_image}\n"
            "RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
            "python3-minimal >/dev/null && rm -rf /var/lib/apt/lists/*\n"
        )
        done = subprocess.run(
            ["docker", "build", "-q", "-t", PROBE_IMAGE, "-"],
            input=dockerfile,
            text=True,
            capture_output=True,
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
        )
        if done.returncode:
            pytest.skip(f"could not build {PROBE_IMAGE}: {done.stderr.strip()[-300:]}")
    return PROBE_IMAGE
