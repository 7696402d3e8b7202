"""`pip install .` ships what the code reads at run time, and the entry points work."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Files read through importlib.resources or run from the installed package.
NEEDED = [
    "odooplane/py.typed",
    "odooplane/templates/sample_addon/__manifest__.py",
    "odooplane/templates/sample_addon/security/ir.model.access.csv",
    "odooplane/templates/sample_addon/views/greeting_views.xml",
    "odooplane/dev/addon/odooplane_livereload/__manifest__.py",
    "odooplane/dev/addon/odooplane_livereload/static/src/livereload.js",
    "odooplane/evidence/migrations/env.py",
    "odooplane/evidence/migrations/versions/v0001_initial.py",
]


def test_wheel_holds_package_data_and_the_console_script(tmp_path: Path) -> None:
    # uv builds in an isolated environment from its cache: seconds, and no network
    # once the build backend is cached.
    subprocess.run(
        [sys.executable, "-m", "uv", "build", "--wheel", "-q", "-o", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    )
    (wheel,) = tmp_path.glob("odooplane-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        scripts = archive.read(entry_points).decode()
    missing = [name for name in NEEDED if name not in names]
    assert not missing, f"the wheel lacks {missing}"
    assert "odooplane = odooplane.cli:main" in scripts


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "odooplane", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert result.stdout.startswith("odooplane, version ")
