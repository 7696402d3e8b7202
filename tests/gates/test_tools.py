"""The security gate's own tool environment: its PATH comes first, it is reused once
ready, and a failed install is a sentence naming the requirements."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from odooplane.errors import ExternalToolError
from odooplane.gates.tools import SECURITY_TOOLS, Toolbox, ensure_toolbox


def test_toolbox_paths_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    monkeypatch.setenv("PYTHONHOME", "/elsewhere")
    box = Toolbox(tmp_path / "box")
    assert box.bin("bandit") == tmp_path / "box" / "bin" / "bandit"
    env = box.env()
    assert "PYTHONPATH" not in env and "PYTHONHOME" not in env
    assert env["PATH"].split(os.pathsep)[0] == str(tmp_path / "box" / "bin")
    assert env["PATH"].endswith(os.environ["PATH"])


def test_the_pinned_tools_are_bounded() -> None:
    assert [r.split(">=")[0] for r in SECURITY_TOOLS] == ["bandit", "pylint-odoo", "pip-audit"]
    assert all("<" in r for r in SECURITY_TOOLS)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each test's toolbox is keyed by a tmp path: keep it out of the shared test cache.
    monkeypatch.setenv("ODOOPLANE_CACHE_DIR", str(tmp_path / "cache"))


def test_an_install_that_fails_names_the_requirements(tmp_path: Path) -> None:
    # A local path that does not exist: uv fails without reaching any index.
    missing = str(tmp_path / "no-such-package")
    with pytest.raises(ExternalToolError) as info:
        ensure_toolbox((missing,))
    assert f"Cannot install the security gate's tools ({missing})" in str(info.value)
    assert info.value.hint is not None and "package index" in info.value.hint


def test_a_ready_toolbox_is_reused_and_its_python_runs(tmp_path: Path) -> None:
    # A local, dependency-free package: a real install without any index.
    pkg = tmp_path / "tinytool"
    (pkg / "tinytool").mkdir(parents=True)
    (pkg / "tinytool" / "__init__.py").write_text("VALUE = 42\n")
    (pkg / "pyproject.toml").write_text(
        "[build-system]\nrequires = []\nbuild-backend = 'backend'\nbackend-path = ['.']\n"
        "[project]\nname = 'tinytool'\nversion = '1.0'\n"
    )
    (pkg / "backend.py").write_text(_BACKEND)
    box = ensure_toolbox((str(pkg),))
    assert box.path.parent == tmp_path / "cache" / "tools"
    assert (box.path / ".odooplane-tools-ready").read_text() == f"{pkg}\n"
    out = subprocess.run(
        [str(box.bin("python")), "-c", "import tinytool; print(tinytool.VALUE)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "42"
    # Second call: the ready marker is trusted, nothing is installed again.
    (pkg / "pyproject.toml").unlink()
    assert ensure_toolbox((str(pkg),)) == box


# A minimal PEP 517 backend building a wheel from the package folder (no setuptools
# needed, so the install works offline).
_BACKEND = """
import base64, hashlib, os, zipfile

NAME, VERSION = "tinytool", "1.0"
DIST = f"{NAME}-{VERSION}.dist-info"


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = f"{NAME}-{VERSION}-py3-none-any.whl"
    files = {
        f"{NAME}/__init__.py": open(os.path.join(NAME, "__init__.py"), "rb").read(),
        f"{DIST}/METADATA": (
            f"Metadata-Version: 2.1\\nName: {NAME}\\nVersion: {VERSION}\\n"
        ).encode(),
        f"{DIST}/WHEEL": (
            b"Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
        ),
    }
    record = [_record_line(p, d) for p, d in files.items()] + [f"{DIST}/RECORD,,"]
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as whl:
        for path, data in files.items():
            whl.writestr(path, data)
        whl.writestr(f"{DIST}/RECORD", "\\n".join(record) + "\\n")
    return name


def get_requires_for_build_wheel(config_settings=None):
    return []
"""
