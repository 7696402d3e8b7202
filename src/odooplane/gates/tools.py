"""The programs the security gate runs (bandit, pylint with pylint-odoo, pip-audit), in a
virtual environment of their own under the user cache.

They are not odooplane's dependencies: pylint-odoo pins pylint and astroid tightly, and
a project's own development tools must not fight with them. The environment is made
once per set of requirements (with uv, which odooplane ships) and reused.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import filelock

from odooplane.errors import ExternalToolError
from odooplane.fsutil import write_atomic
from odooplane.paths import cache_dir

SECURITY_TOOLS: tuple[str, ...] = (
    "bandit>=1.7.9,<2",
    "pylint-odoo>=9.1,<11",
    "pip-audit>=2.7,<3",
)
_READY = ".odooplane-tools-ready"


@dataclass(frozen=True)
class Toolbox:
    path: Path

    def bin(self, name: str) -> Path:
        return self.path / "bin" / name

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        env["PATH"] = os.pathsep.join([str(self.path / "bin"), env.get("PATH", os.defpath)])
        return env


def _uv() -> str:
    from odooplane.odoo.runtime import _uv_bin

    found = _uv_bin()
    if found is None:
        raise ExternalToolError("uv is not installed; it ships with odooplane: reinstall it.")
    return found


def ensure_toolbox(requirements: tuple[str, ...] = SECURITY_TOOLS) -> Toolbox:
    """The tools' environment, made on first use (about 5 s with a warm uv cache)."""
    key = hashlib.sha256("\n".join((sys.version, *requirements)).encode()).hexdigest()[:12]
    folder = cache_dir() / "tools" / f"security-{key}"
    box = Toolbox(folder)
    if (folder / _READY).is_file():
        return box
    folder.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(folder) + ".lock", timeout=600):
        if (folder / _READY).is_file():
            return box
        uv = _uv()
        env = {**os.environ, "UV_CACHE_DIR": str(cache_dir() / "uv")}
        steps = [
            [uv, "venv", "-q", "--allow-existing", "--python", sys.executable, str(folder)],
            [uv, "pip", "install", "-q", "--python", str(folder / "bin" / "python"), *requirements],
        ]
        for argv in steps:
            done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
            if done.returncode != 0:
                tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-12:])
                raise ExternalToolError(
                    f"Cannot install the security gate's tools ({', '.join(requirements)}):\n"
                    f"{tail}",
                    hint="They come from the package index; check that it is reachable.",
                )
        write_atomic(folder / _READY, "\n".join(requirements) + "\n")
    return box
