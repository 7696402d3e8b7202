"""Runtimes: the dependencies hash, real builds with uv and pip, skipped packages, crashes.

Builds here use a fake Odoo tree whose requirements.txt names one small package, so a
real virtual environment is created and really installed into in a few seconds. The
real Odoo runtime is built by the ``odoo_runtime`` fixture (tests/odoo/test_process.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import TEST_CACHE, write_addon
from fixtures_odoo import minimal_project
from odooplane.errors import ConfigError
from odooplane.odoo.runtime import (
    METADATA_FILE,
    Runtime,
    SystemProbe,
    _missing_from_output,
    _system_package,
    choose_python,
    dependencies_hash,
    ensure_runtime,
    installed_interpreters,
    load_runtime,
    pick_interpreter,
    python_tag,
    requirement_name,
    runtime_dir,
    runtime_status,
)
from odooplane.odoo.source import OdooSource, inspect_source
from odooplane.progress import ProgressEvent
from odooplane.project import Project

TAG = "cpython-3.11-linux-x86_64"


@pytest.fixture
def runtime_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache of this test's own (so 'built' and 'reused' are this test's doing); uv's
    download cache stays shared so nothing is downloaded twice."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("ODOOPLANE_CACHE_DIR", str(cache))
    monkeypatch.setenv("UV_CACHE_DIR", str(TEST_CACHE / "uv"))
    return cache


@pytest.fixture
def fake_source(make_fake_odoo: Callable[..., Path]) -> OdooSource:
    return inspect_source(make_fake_odoo("odoo", requirements="# Odoo\npolib==1.1.1\n"))


def project(tmp_path: Path, source: OdooSource, name: str = "project", **odoo: object) -> Project:
    return minimal_project(tmp_path / name, source, **odoo)


def local_package(
    root: Path, name: str, *, setup_extra: str = "", ext_source: str | None = None
) -> Path:
    """A real, installable source package in ``root/name``."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / f"{name}.py").write_text("VALUE = 42\n")
    ext = ""
    if ext_source is not None:
        (folder / "ext.c").write_text(ext_source)
        ext = f", ext_modules=[Extension('{name}_ext', ['ext.c'])]"
    (folder / "setup.py").write_text(
        "import os, sys, time, pathlib\n"
        "from setuptools import setup, Extension\n"
        f"{setup_extra}\n"
        f"setup(name='{name}', version='1.0', py_modules=['{name}']{ext})\n"
    )
    return folder


def run_python(runtime: Runtime, code: str) -> str:
    result = subprocess.run(
        [str(runtime.python), "-c", code],
        env=runtime.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


class LackingProbe(SystemProbe):
    """This machine, minus some headers and programs."""

    def __init__(self, missing: set[str]) -> None:
        self.missing = missing

    def has_header(self, header: str) -> bool:
        return header not in self.missing and super().has_header(header)

    def has_program(self, name: str) -> bool:
        return name not in self.missing and super().has_program(name)


# -- the hash ---------------------------------------------------------------------------


def test_dependencies_hash_follows_each_input(
    tmp_path: Path, make_fake_odoo: Callable[..., Path]
) -> None:
    odoo_tree = make_fake_odoo("odoo", requirements="polib==1.1.1\nBabel==2.9.1\n")
    source = inspect_source(odoo_tree)
    proj = project(tmp_path, source)
    base = dependencies_hash(source, proj, TAG)
    assert len(base) == 16
    assert dependencies_hash(source, proj, TAG) == base

    # Comments and blank lines do not change what gets installed.
    (odoo_tree / "requirements.txt").write_text(
        "# pinned by Odoo\n\npolib==1.1.1   # po files\nBabel==2.9.1\n\n"
    )
    assert dependencies_hash(source, proj, TAG) == base

    seen = {base}

    def changed() -> str:
        value = dependencies_hash(source, proj, TAG)
        assert value not in seen
        seen.add(value)
        return value

    assert dependencies_hash(source, proj, "cpython-3.12-linux-x86_64") not in seen

    (odoo_tree / "requirements.txt").write_text("polib==1.1.1\nBabel==2.10.0\n")
    changed()

    (proj.root / "requirements.txt").write_text("requests==2.31.0\n-r more.txt\n")
    (proj.root / "more.txt").write_text("pytz\n")
    proj = project(tmp_path, source, requirements=["requirements.txt"])
    changed()
    (proj.root / "requirements.txt").write_text("requests==2.32.0\n-r more.txt\n")
    changed()
    (proj.root / "more.txt").write_text("pytz==2024.1\n")  # a nested file counts too
    changed()

    write_addon(proj.root / "addons", "with_pandas", extra={})
    assert dependencies_hash(source, proj, TAG) in seen  # no external dependency yet
    manifest = proj.root / "addons" / "with_pandas" / "__manifest__.py"
    manifest.write_text(
        manifest.read_text().replace(
            "'installable': True,",
            "'installable': True,\n    'external_dependencies': {'python': ['pandas']},",
        )
    )
    changed()

    # Another series brings other constraints (19.0 does not need old setuptools).
    odoo19 = inspect_source(
        make_fake_odoo(
            "odoo19",
            version_info="(19, 0, 0, FINAL, 0, '')",
            requirements="polib==1.1.1\nBabel==2.10.0\n",
        )
    )
    assert (
        dependencies_hash(
            odoo19,
            project(tmp_path, odoo19, "p19", requirements=["../project/requirements.txt"]),
            TAG,
        )
        not in seen
    )


def test_missing_project_requirements_file_is_a_config_error(
    tmp_path: Path, fake_source: OdooSource
) -> None:
    proj = project(tmp_path, fake_source, requirements=["nope.txt"])
    with pytest.raises(ConfigError, match=r"odoo.requirements\[0\] 'nope.txt' does not exist"):
        dependencies_hash(fake_source, proj, TAG)


def test_python_tag_of_this_and_another_interpreter() -> None:
    here = python_tag()
    assert here.startswith(f"cpython-{sys.version_info[0]}.{sys.version_info[1]}-")
    assert python_tag(Path(sys.executable)) == here
    with pytest.raises(ConfigError, match="cannot run"):
        python_tag(Path("/nonexistent/python"))


def test_pick_interpreter_prefers_the_running_one_then_the_newest_that_fits() -> None:
    here, py312, py313, py39 = (Path(p) for p in ("/a/python", "/b/p3.12", "/b/p3.13", "/c"))
    others = [(py313, (3, 13)), (py312, (3, 12)), (py39, (3, 9))]
    # The running interpreter when the series accepts it: its runtime hash stays put.
    assert pick_interpreter((here, (3, 11)), others, ((3, 10), (3, 13))) == here
    # Otherwise the newest installed one the series accepts.
    assert pick_interpreter((here, (3, 14)), others, ((3, 10), (3, 12))) == py312
    assert pick_interpreter((here, (3, 14)), others, ((3, 10), (3, 13))) == py313
    # None fits: the running one (the build then warns).
    assert pick_interpreter((here, (3, 14)), [(py39, (3, 9))], ((3, 10), (3, 12))) == here


def test_installed_interpreters_are_found_on_path() -> None:
    found = installed_interpreters()
    versions = [version for _path, version in found]
    assert (sys.version_info[0], sys.version_info[1]) in versions or not found
    assert versions == sorted(versions, reverse=True)
    for path, version in found:
        assert path.name == f"python{version[0]}.{version[1]}"


def test_choose_python_for_a_series(tmp_path: Path, fake_source: OdooSource) -> None:
    proj = project(tmp_path, fake_source)
    # This interpreter (3.10+) runs every supported series from 17.0 on.
    for series in ("17.0", "18.0", "19.0"):
        assert choose_python(proj, series) == Path(sys.executable)


def test_requirement_names() -> None:
    assert requirement_name("python-ldap==3.4.0 ; sys_platform != 'win32'") == "python-ldap"
    assert requirement_name("Jinja2==3.1.2 ; python_version > '3.10'") == "jinja2"
    assert requirement_name("zope.interface>=5") == "zope-interface"
    assert requirement_name("brokenext @ file:///tmp/x/brokenext") == "brokenext"
    assert requirement_name("/tmp/pkgs/My_Pkg") == "my-pkg"
    assert requirement_name("-e ./libs/thing") == "thing"


def test_missing_headers_are_read_from_build_output() -> None:
    gcc = (
        "      ext.c:1:10: fatal error: sasl/sasl.h: No such file or directory\n"
        "          1 | #include <sasl/sasl.h>\n"
        "      Modules/constants.h:7:10: fatal error: openssl/ssl.h: No such file or directory\n"
    )
    assert _missing_from_output(gcc) == ["sasl/sasl.h", "openssl/ssl.h"]
    assert [_system_package(m) for m in _missing_from_output(gcc)] == [
        "libsasl2-dev",
        "libssl-dev",
    ]
    assert _missing_from_output("Error: pg_config executable not found.") == ["pg_config"]
    assert _system_package("pg_config") == "libpq-dev"
    assert _system_package("nothing_known.h") is None


# -- real builds ------------------------------------------------------------------------


def test_runtime_is_built_once_reused_and_rebuilt_on_change(
    tmp_path: Path, fake_source: OdooSource, runtime_cache: Path
) -> None:
    proj = project(tmp_path, fake_source)
    status = runtime_status(proj, fake_source)
    assert status.state == "missing"
    runtime = ensure_runtime(proj, fake_source)
    assert runtime.path == runtime_dir(runtime.deps_hash) == status.path
    assert runtime.path.is_relative_to(runtime_cache / "runtimes")
    assert run_python(runtime, "import polib, pkg_resources; print(polib.__version__)") == "1.1.1"
    meta = json.loads((runtime.path / METADATA_FILE).read_text())
    assert meta["installer"] == "uv" and meta["skipped"] == []
    assert "polib==1.1.1" in meta["packages"]
    # Odoo 17 imports pkg_resources, gone from recent setuptools: the recipe keeps it.
    assert any(p.startswith("setuptools==6") for p in meta["packages"])
    assert runtime_status(proj, fake_source).state == "ready"
    assert sorted(p.name for p in (runtime_cache / "runtimes").iterdir() if p.is_dir()) == [
        runtime.deps_hash
    ]

    # Reused: same hash, nothing rebuilt (even by a second project with the same inputs).
    other = project(tmp_path, fake_source, "other")
    again = ensure_runtime(other, fake_source)
    assert again.path == runtime.path
    assert again.metadata["created_at"] == meta["created_at"]

    # A new input makes a new runtime; the old one stays for whoever uses it.
    (proj.root / "req.txt").write_text("# nothing but a comment changes nothing\n")
    same = project(tmp_path, fake_source, requirements=["req.txt"])
    assert ensure_runtime(same, fake_source).path == runtime.path
    (proj.root / "req.txt").write_text("six==1.16.0\n")
    changed = ensure_runtime(project(tmp_path, fake_source, requirements=["req.txt"]), fake_source)
    assert changed.deps_hash != runtime.deps_hash
    assert run_python(changed, "import six; print(six.__version__)") == "1.16.0"
    assert load_runtime(runtime.deps_hash) is not None

    # --rebuild builds the same hash again, in place of the old one.
    time.sleep(1.1)
    rebuilt = ensure_runtime(proj, fake_source, rebuild=True)
    assert rebuilt.path == runtime.path
    assert rebuilt.metadata["created_at"] != meta["created_at"]
    assert [p.name for p in (runtime_cache / "runtimes").iterdir() if p.name.startswith(".")] == []


def test_runtime_env_puts_its_bin_first(
    tmp_path: Path, fake_source: OdooSource, runtime_cache: Path
) -> None:
    runtime = ensure_runtime(project(tmp_path, fake_source), fake_source)
    env = runtime.env(
        {
            "PATH": "/usr/bin",
            "PYTHONPATH": "/elsewhere",
            "HOME": "/root",
            # Odoo 19 would read these over odoo.conf.
            "PGHOST": "db.example.com",
            "PGPASSWORD": "x",
            "ODOO_DEV": "all",
            "ODOO_RC": "/etc/odoo.conf",
        }
    )
    assert env["PATH"].split(os.pathsep)[0] == str(runtime.bin_dir)
    assert "PYTHONPATH" not in env and env["HOME"] == "/root"
    assert not {"PGHOST", "PGPASSWORD", "ODOO_DEV", "ODOO_RC"} & set(env)
    # What Odoo's reloader does: run a bare `python` found on PATH.
    found = subprocess.run(
        ["python", "-c", "import sys; print(sys.prefix)"],
        env=runtime.env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(found) == runtime.path


def test_known_package_without_headers_is_skipped_or_swapped(
    tmp_path: Path, make_fake_odoo: Callable[..., Path], runtime_cache: Path
) -> None:
    """python-ldap is left out and named with its Debian packages; psycopg2 (source
    only on PyPI) is swapped for psycopg2-binary of the same version. The probe stands
    for a machine without the headers; the install itself is real."""
    source = inspect_source(
        make_fake_odoo(
            "odoo",
            requirements="polib==1.1.1\n"
            "python-ldap==3.4.0 ; sys_platform != 'win32'\n"
            "psycopg2==2.9.9\n",
        )
    )
    probe = LackingProbe({"ldap.h", "sasl/sasl.h", "pg_config"})
    runtime = ensure_runtime(project(tmp_path, source), source, probe=probe)
    assert [s.name for s in runtime.skipped] == ["python-ldap"]
    skipped = runtime.skipped[0]
    assert skipped.system_packages == ("libldap2-dev", "libsasl2-dev")
    assert "ldap.h" in skipped.reason and "sasl/sasl.h" in skipped.reason
    assert "apt-get install libldap2-dev libsasl2-dev" in skipped.warning()
    meta = json.loads((runtime.path / METADATA_FILE).read_text())
    assert meta["skipped"][0]["system_packages"] == ["libldap2-dev", "libsasl2-dev"]
    assert "psycopg2-binary==2.9.9" in meta["packages"]
    assert run_python(runtime, "import psycopg2, polib; print(psycopg2.__version__[:5])") == "2.9.9"
    assert run_python(runtime, "import importlib.util as u; print(u.find_spec('ldap'))") == "None"


def test_package_whose_build_fails_on_a_missing_header_is_skipped(
    tmp_path: Path, fake_source: OdooSource, runtime_cache: Path
) -> None:
    """A real C build that fails: the runtime is still built, the package is named with
    the header it missed, the rest is installed."""
    proj_root = tmp_path / "project"
    local_package(
        proj_root / "pkgs",
        "brokenext",
        ext_source="#include <odooplane_test_missing.h>\nint x;\n",
    )
    proj_root.mkdir(exist_ok=True)
    (proj_root / "requirements.txt").write_text("./pkgs/brokenext\nsix==1.16.0\n")
    proj = project(tmp_path, fake_source, requirements=["requirements.txt"])
    runtime = ensure_runtime(proj, fake_source)
    assert [s.name for s in runtime.skipped] == ["brokenext"]
    assert "odooplane_test_missing.h" in runtime.skipped[0].reason
    assert run_python(runtime, "import six, polib; print(six.__version__)") == "1.16.0"
    log = (runtime.path / "odooplane-build.log").read_text()
    assert "fatal error: odooplane_test_missing.h" in log


def test_pip_fallback_builds_a_relocated_runtime(
    tmp_path: Path,
    fake_source: OdooSource,
    runtime_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # This machine's pip configuration adds local indexes that slow pip down to no end.
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    proj_root = tmp_path / "project"
    local_package(proj_root / "pkgs", "localpure")
    (proj_root / "requirements.txt").write_text("./pkgs/localpure\n")
    proj = project(tmp_path, fake_source, requirements=["requirements.txt"])
    runtime = ensure_runtime(proj, fake_source, installer="pip")
    assert runtime.metadata["installer"] == "pip"
    assert run_python(runtime, "import localpure, polib; print(localpure.VALUE)") == "42"
    # pip's scripts named the temporary folder; they must name the final one.
    shebang = (runtime.bin_dir / "pip").read_text().splitlines()[0]
    assert shebang == f"#!{runtime.path}/bin/python" or str(runtime.path) in shebang
    version = subprocess.run(
        [str(runtime.bin_dir / "pip"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert str(runtime.path) in version


def test_a_killed_build_leaves_no_runtime_and_the_next_one_recovers(
    tmp_path: Path, fake_source: OdooSource, runtime_cache: Path
) -> None:
    proj_root = tmp_path / "project"
    local_package(
        proj_root / "pkgs",
        "slowbuild",
        setup_extra=(
            "marker = os.environ.get('ODOOPLANE_TEST_SLOW_MARKER')\n"
            "if marker and 'bdist_wheel' in sys.argv:\n"
            "    pathlib.Path(marker).write_text('building')\n"
            "    time.sleep(300)\n"
        ),
    )
    (proj_root / "requirements.txt").write_text("./pkgs/slowbuild\n")
    proj = project(tmp_path, fake_source, requirements=["requirements.txt"])
    marker = tmp_path / "building"
    tests_dir = str(Path(__file__).parents[1])
    code = (
        "import sys; from pathlib import Path\n"
        f"sys.path.insert(0, {tests_dir!r})\n"
        "from fixtures_odoo import minimal_project\n"
        "from odooplane.odoo.source import inspect_source\n"
        "from odooplane.odoo.runtime import ensure_runtime\n"
        f"src = inspect_source(Path({str(fake_source.path)!r}))\n"
        f"proj = minimal_project(Path({str(proj.root)!r}), src,\n"
        "                        requirements=['requirements.txt'])\n"
        "ensure_runtime(proj, src)\n"
    )
    env = {**os.environ, "ODOOPLANE_TEST_SLOW_MARKER": str(marker)}
    child = subprocess.Popen([sys.executable, "-c", code], env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, "the build ended before it reached the slow package"
            assert time.monotonic() < deadline, "the slow package was never built"
            time.sleep(0.2)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()

    deps_hash = dependencies_hash(fake_source, proj, python_tag())
    assert not runtime_dir(deps_hash).exists()
    assert load_runtime(deps_hash) is None
    leftovers = [p for p in (runtime_cache / "runtimes").iterdir() if p.is_dir()]
    assert leftovers and all(p.name.startswith(f".{deps_hash}.tmp-") for p in leftovers)

    runtime = ensure_runtime(proj, fake_source)
    assert runtime.deps_hash == deps_hash
    assert run_python(runtime, "import slowbuild; print(slowbuild.VALUE)") == "42"
    assert [p.name for p in (runtime_cache / "runtimes").iterdir() if p.is_dir()] == [deps_hash]


def test_progress_is_reported_as_events(
    tmp_path: Path, fake_source: OdooSource, runtime_cache: Path
) -> None:
    events: list[ProgressEvent] = []
    proj = project(tmp_path, fake_source)
    runtime = ensure_runtime(proj, fake_source, progress=events.append)
    phases = list(dict.fromkeys(e.phase for e in events if e.warning is None))
    assert phases[0].startswith("Creating the Python environment")
    assert phases[-2:] == ["Installing packages", "Runtime ready"]
    installing = [e for e in events if e.phase == "Installing packages"]
    assert installing[-1].done == installing[-1].total > 0
    assert load_runtime(runtime.deps_hash) is not None
