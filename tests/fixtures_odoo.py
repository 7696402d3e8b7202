"""The real-Odoo tier: a real Odoo source tree and the runtime that runs it.

- ``odoo_source`` (session): the :class:`OdooSource` at ``$ODOOPLANE_TEST_ODOO_SRC``
  (default ``/opt/odoo-src/17.0``); tests using it are skipped, with the reason, when
  the folder is absent.
- ``odoo_runtime`` (session): its runtime, built with :func:`ensure_runtime` into the
  shared test cache (``/tmp/odooplane-test-cache``): the first session builds it (about
  40 s), later sessions reuse it.
- ``odoo_project`` (function): a project folder with odooplane.yaml pointing at that
  source, no addons of its own, in ``tmp_path``.
- ``make_fake_odoo`` (function): builds a tiny tree that looks like an Odoo source
  (``odoo/release.py``, ``odoo-bin``, ``requirements.txt``) for tests that need a source
  but not Odoo itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from odooplane.config import OdooConfig, ProjectConfig
from odooplane.odoo.runtime import Runtime, ensure_runtime
from odooplane.odoo.source import OdooSource, inspect_source
from odooplane.project import Project

DEFAULT_ODOO_SRC = "/opt/odoo-src/17.0"
_TEST_CACHE = Path(os.environ.get("ODOOPLANE_TEST_CACHE", "/tmp/odooplane-test-cache"))


def odoo_src_path() -> Path:
    return Path(os.environ.get("ODOOPLANE_TEST_ODOO_SRC", DEFAULT_ODOO_SRC))


@pytest.fixture(scope="session")
def odoo_source() -> OdooSource:
    path = odoo_src_path()
    if not (path / "odoo" / "release.py").is_file():
        pytest.skip(f"no Odoo source at {path}: set ODOOPLANE_TEST_ODOO_SRC")
    return inspect_source(path)


def minimal_project(root: Path, source: OdooSource, **odoo: object) -> Project:
    """A project on ``source`` with no addons, written to ``root/odooplane.yaml`` too so
    commands run in ``root`` find it."""
    root.mkdir(parents=True, exist_ok=True)
    extra = "".join(f"  {key}: {value!r}\n" for key, value in odoo.items())
    (root / "odooplane.yaml").write_text(
        "project: odootest\n"
        "odoo:\n"
        f"  series: '{source.series}'\n"
        f"  source: '{source.path}'\n" + extra
    )
    config = ProjectConfig(
        project="odootest",
        odoo=OdooConfig(series=source.series, source=str(source.path), **odoo),  # type: ignore[arg-type]
    )
    return Project(root=root, config=config)


@pytest.fixture(scope="session")
def odoo_runtime(odoo_source: OdooSource, tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    # Session fixtures run before the autouse per-test cache fixture: point the cache at
    # the shared test cache explicitly while building, never at the user's.
    with pytest.MonkeyPatch.context() as patch:
        _TEST_CACHE.mkdir(parents=True, exist_ok=True)
        patch.setenv("ODOOPLANE_CACHE_DIR", str(_TEST_CACHE))
        project = minimal_project(tmp_path_factory.mktemp("odoo-runtime-project"), odoo_source)
        return ensure_runtime(project, odoo_source)


@pytest.fixture
def odoo_project(tmp_path: Path, odoo_source: OdooSource) -> Project:
    return minimal_project(tmp_path / "project", odoo_source)


FAKE_ODOO_BIN = """#!/usr/bin/env python3
print("this fake odoo-bin runs nothing")
"""


def write_fake_odoo(
    root: Path,
    *,
    version_info: str = "(17, 0, 0, FINAL, 0, '')",
    requirements: str = "",
) -> Path:
    """A folder shaped like an Odoo source tree, holding no Odoo."""
    (root / "odoo" / "addons").mkdir(parents=True, exist_ok=True)
    (root / "odoo" / "__init__.py").write_text("")
    (root / "odoo" / "release.py").write_text(
        "RELEASE_LEVELS = [ALPHA, BETA, RELEASE_CANDIDATE, FINAL] = "
        "['alpha', 'beta', 'candidate', 'final']\n"
        f"version_info = {version_info}\n"
        "series = serie = major_version = '.'.join(str(s) for s in version_info[:2])\n"
    )
    (root / "odoo-bin").write_text(FAKE_ODOO_BIN)
    (root / "odoo-bin").chmod(0o755)
    (root / "requirements.txt").write_text(requirements)
    return root


@pytest.fixture
def make_fake_odoo(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "fake-odoo", **kwargs: str) -> Path:
        return write_fake_odoo(tmp_path / name, **kwargs)

    return make
