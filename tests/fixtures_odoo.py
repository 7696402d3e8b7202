"""The real-Odoo tier: real Odoo source trees and the runtimes that run them.

Two kinds of tests use it (docs/testing.md says which runs where):

- depth tests run on the **primary** series only: ``odoo_source`` (session) is the
  :class:`OdooSource` at ``$ODOOPLANE_TEST_ODOO_SRC`` (default ``/opt/odoo-src/17.0``)
  and ``odoo_runtime`` (session) its runtime;
- series tests run **once per series** whose tree is present: ``series_source``
  (session, parametrized ``17.0``/``18.0``/``19.0``: the primary tree, then
  ``$ODOOPLANE_TEST_ODOO_SRC_18`` and ``$ODOOPLANE_TEST_ODOO_SRC_19``, defaults
  ``/opt/odoo-src/18.0`` and ``/opt/odoo-src/19.0``) and ``series_runtime``.

Each is skipped, with the reason, when its folder is absent. Runtimes are built with
:func:`ensure_runtime` into the shared test cache (``/tmp/odooplane-test-cache``): the
first session builds them (15-40 s each), later sessions reuse them.
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
# The series of the series tests: (series, variable naming its tree, default tree). The
# first is the primary series, whose tree also serves the depth tests.
SERIES_TREES = (
    ("17.0", "ODOOPLANE_TEST_ODOO_SRC", DEFAULT_ODOO_SRC),
    ("18.0", "ODOOPLANE_TEST_ODOO_SRC_18", "/opt/odoo-src/18.0"),
    ("19.0", "ODOOPLANE_TEST_ODOO_SRC_19", "/opt/odoo-src/19.0"),
)
TESTED_SERIES = tuple(series for series, _var, _default in SERIES_TREES)


def odoo_src_path() -> Path:
    return Path(os.environ.get("ODOOPLANE_TEST_ODOO_SRC", DEFAULT_ODOO_SRC))


def series_src_path(series: str) -> Path:
    for name, variable, default in SERIES_TREES:
        if name == series:
            return Path(os.environ.get(variable, default))
    raise KeyError(series)


@pytest.fixture(scope="session")
def odoo_source() -> OdooSource:
    path = odoo_src_path()
    if not (path / "odoo" / "release.py").is_file():
        pytest.skip(f"no Odoo source at {path}: set ODOOPLANE_TEST_ODOO_SRC")
    return inspect_source(path)


def source_of_series(series: str) -> OdooSource:
    """The tree of ``series`` for the series tests, or a skip saying why there is none."""
    variable = next(v for name, v, _d in SERIES_TREES if name == series)
    path = series_src_path(series)
    if not (path / "odoo" / "release.py").is_file():
        pytest.skip(f"no Odoo {series} source at {path}: set {variable}")
    source = inspect_source(path)
    if variable != SERIES_TREES[0][1]:
        if source.series != series:
            pytest.skip(f"{variable} is a {source.series} tree ({path}), not {series}")
        if path.resolve() == odoo_src_path().resolve():
            pytest.skip(f"{variable} is the primary tree ($ODOOPLANE_TEST_ODOO_SRC)")
    return source


@pytest.fixture(scope="session", params=TESTED_SERIES)
def series_source(request: pytest.FixtureRequest) -> OdooSource:
    return source_of_series(str(request.param))


@pytest.fixture(scope="session")
def series_runtime(series_source: OdooSource, tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    return _runtime_for(series_source, tmp_path_factory)


def _runtime_for(source: OdooSource, tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    with pytest.MonkeyPatch.context() as patch:
        _TEST_CACHE.mkdir(parents=True, exist_ok=True)
        patch.setenv("ODOOPLANE_CACHE_DIR", str(_TEST_CACHE))
        project = minimal_project(tmp_path_factory.mktemp("odoo-runtime-project"), source)
        return ensure_runtime(project, source)


def is_primary(source: OdooSource) -> bool:
    """Whether ``source`` is the primary tree, the one depth tests run on."""
    return source.path.resolve() == odoo_src_path().resolve()


def primary_only(source: OdooSource) -> None:
    """Skip a depth test on the other series (the choice is in docs/testing.md)."""
    if not is_primary(source):
        pytest.skip(
            f"depth test: runs on the primary series only ({odoo_src_path()}), "
            f"not on {source.series} (docs/testing.md)"
        )


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
    return _runtime_for(odoo_source, tmp_path_factory)


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
