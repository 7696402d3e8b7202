"""Time the Odoo runtime setup: cold (empty caches), warm (caches full, runtime absent),
and reused (runtime present), on a real Odoo source.

    python benchmarks/runtime_setup.py [ODOO_SOURCE]   (default $ODOOPLANE_TEST_ODOO_SRC
                                                         or /opt/odoo-src/17.0)

Everything happens in a temporary cache folder (the user's caches are not touched), so
"cold" really downloads every package from PyPI.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from odooplane.config import OdooConfig, ProjectConfig
from odooplane.odoo.runtime import ensure_runtime, runtime_dir
from odooplane.odoo.source import inspect_source
from odooplane.project import Project


def main() -> None:
    default = os.environ.get("ODOOPLANE_TEST_ODOO_SRC", "/opt/odoo-src/17.0")
    source = inspect_source(Path(sys.argv[1] if len(sys.argv) > 1 else default))
    work = Path(tempfile.mkdtemp(prefix="odooplane-bench-runtime-"))
    os.environ["ODOOPLANE_CACHE_DIR"] = str(work / "cache")
    os.environ["UV_CACHE_DIR"] = str(work / "cache" / "uv")
    project = Project(
        root=work / "project",
        config=ProjectConfig(
            project="bench", odoo=OdooConfig(series=source.series, source=str(source.path))
        ),
    )
    project.root.mkdir()
    try:
        timings: dict[str, float] = {}
        started = time.monotonic()
        runtime = ensure_runtime(project, source)
        timings["cold (empty caches)"] = time.monotonic() - started

        shutil.rmtree(runtime_dir(runtime.deps_hash))
        started = time.monotonic()
        ensure_runtime(project, source)
        timings["warm (caches full, runtime absent)"] = time.monotonic() - started

        started = time.monotonic()
        ensure_runtime(project, source)
        timings["reused (runtime present)"] = time.monotonic() - started

        packages = len(runtime.metadata.get("packages", []))
        print(
            f"Odoo {source.series} at {source.path}: {packages} packages, "
            f"{len(runtime.skipped)} skipped, python {runtime.metadata.get('python_tag')}"
        )
        cold = timings["cold (empty caches)"]
        for label, seconds in timings.items():
            print(f"  {label:<36} {seconds:8.2f} s   cold/this = {cold / seconds:8.1f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
