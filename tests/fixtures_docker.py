"""The container tier: a real Docker engine with odooplane's base image.

- ``docker_engine`` (session): the engine ``docker`` reaches; tests using it are skipped,
  with the reason, when it does not answer or lacks the base image (`.ci/setup-docker`
  provides both).
- ``docker_labels`` (function): a label unique to the test, put on what the test makes;
  everything carrying it is removed afterwards, whatever the test left behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from odooplane.containers.engine import Docker
from odooplane.containers.images import DEFAULT_BASE_IMAGE
from odooplane.errors import OdooplaneError


@pytest.fixture(scope="session")
def docker_engine() -> Docker:
    try:
        engine = Docker()
        engine.version()
    except OdooplaneError as exc:
        pytest.skip(f"no Docker engine: {exc.message} (run .ci/setup-docker)")
    if engine.image(DEFAULT_BASE_IMAGE) is None:
        pytest.skip(f"no base image {DEFAULT_BASE_IMAGE} (run .ci/setup-docker)")
    return engine


@pytest.fixture
def docker_labels(docker_engine: Docker) -> Iterator[dict[str, str]]:
    labels = {"org.odooplane.test": uuid.uuid4().hex[:12]}
    yield labels
    for kind in ("container", "volume", "network"):
        names = docker_engine.names(kind, labels)
        if kind == "container" and names:
            docker_engine.run(["rm", "--force", "--volumes", *names], check=False)
        elif names:
            docker_engine.run([kind, "rm", *names], check=False)
