"""The container tier: a real Docker engine with odooplane's base image.

- ``docker_engine`` (session): the engine ``docker`` reaches; tests using it are skipped,
  with the reason, when it does not answer or lacks the base image (`.ci/setup-docker`
  provides both).
"""

from __future__ import annotations

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
