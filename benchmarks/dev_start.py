"""How fast does a developer get a database, and a served page: init against templates.

Side by side, in one run, on one machine:

1. **A new development database** (``base``, ``web`` and the project's sample addon,
   with demo data) made three ways: by ``odoo-bin -i`` (the baseline, what ``dev`` did
   before templates), by templates when none is cached yet (the layers are built, then
   cloned), and by templates when they are cached (a clone).
2. **``odooplane dev`` to the first page served** (``GET /web/login`` 200), as a new user
   runs it: a project made by ``odooplane quickstart``, then ``git clone`` of it (a
   second clone: its own embedded PostgreSQL, the Python runtime and the template cache
   warm) served by ``odooplane dev``; against the same second clone served with an empty
   template cache (its database initialized by Odoo: the baseline).

    python benchmarks/dev_start.py [--odoo-src /opt/odoo-src/17.0] [--runs 3]

The Python runtime comes from ``$ODOOPLANE_CACHE_DIR`` (default the test cache), built
on first use; the template caches are this script's own (temporary folders that share
the runtimes by symlink), so earlier runs do not make the cold numbers warm.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from odooplane.odoo.newdb import new_database, wanted_modules
from odooplane.odoo.process import http_get, initialize_database
from odooplane.odoo.runtime import ensure_runtime
from odooplane.odoo.source import inspect_source
from odooplane.postgres.cluster import EmbeddedCluster
from odooplane.project import load_project
from odooplane.quickstart import create_project

WARM_CACHE = Path(os.environ.get("ODOOPLANE_CACHE_DIR", "/tmp/odooplane-test-cache"))


def fresh_cache(parent: Path, name: str) -> Path:
    """A cache folder sharing the warm cache's runtimes and tools, with no templates."""
    folder = parent / name
    folder.mkdir()
    for entry in WARM_CACHE.iterdir():
        if entry.name != "db-templates" and not entry.name.endswith((".json", ".lock")):
            (folder / entry.name).symlink_to(entry)
    return folder


@contextmanager
def cache(folder: Path) -> Iterator[None]:
    before = os.environ.get("ODOOPLANE_CACHE_DIR")
    os.environ["ODOOPLANE_CACHE_DIR"] = str(folder)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("ODOOPLANE_CACHE_DIR", None)
        else:
            os.environ["ODOOPLANE_CACHE_DIR"] = before


def git(cwd: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def databases(work: Path, odoo_src: Path) -> dict[str, float]:
    """Part 1: one new database three ways, on one embedded cluster."""
    project_root = work / "db-project"
    with cache(fresh_cache(work, "cache-db")):
        create_project(project_root, str(odoo_src))
        project = load_project(project_root)
        source = inspect_source(odoo_src)
        runtime = ensure_runtime(project, source)
        cluster = EmbeddedCluster(project.state_dir)
        cluster.start()
        server = cluster.server()
        filestores = project.odoo_data_dir / "filestore"
        modules = wanted_modules(project)
        times: dict[str, float] = {}
        try:
            started = time.monotonic()
            initialize_database(project, source, runtime, server, "bench_init", modules, demo=True)
            times["init"] = time.monotonic() - started
            for label, name in (
                ("template, cold", "bench_cold"),
                ("template, cached", "bench_hit"),
            ):
                started = time.monotonic()
                made = new_database(
                    project,
                    source,
                    runtime,
                    server,
                    name,
                    modules=modules,
                    demo=True,
                    filestore_root=filestores,
                )
                times[label] = time.monotonic() - started
                outcomes = ", ".join(f"{u.template.layer} {u.outcome}" for u in made.layers)
                print(f"  {label}: {times[label]:.2f} s ({outcomes})", flush=True)
        finally:
            cluster.destroy()
    print(f"  init: {times['init']:.2f} s", flush=True)
    return times


def serve_once(root: Path, cache_dir: Path) -> tuple[float, dict[str, float]]:
    """``odooplane dev`` in ``root`` until /web/login answers 200; then Ctrl-C."""
    env = {**os.environ, "ODOOPLANE_CACHE_DIR": str(cache_dir)}
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "odooplane", "-C", str(root), "dev", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    steps: dict[str, float] = {}
    try:
        assert proc.stdout is not None
        url = None
        for line in proc.stdout:
            event = json.loads(line)
            if event.get("event") == "step" and event.get("state") == "done":
                steps[event["step"]] = float(event["seconds"])
            if event.get("event") == "serving":
                url = event["url"]
                break
        if url is None:
            raise SystemExit(
                f"odooplane dev did not serve:\n{proc.stderr.read() if proc.stderr else ''}"
            )
        while True:
            try:
                if http_get(url + "/web/login", timeout=30)[0] == 200:
                    break
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        served = time.monotonic() - started
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return served, steps


def second_clones(work: Path, odoo_src: Path, runs: int) -> dict[str, list[float]]:
    """Part 2: a project made by quickstart, then second clones served by dev."""
    warm = fresh_cache(work, "cache-dev")
    first = work / "first"
    env = {**os.environ, "ODOOPLANE_CACHE_DIR": str(warm)}
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "odooplane",
            "quickstart",
            str(first),
            "--odoo-source",
            str(odoo_src),
            "--no-serve",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode != 0:
        raise SystemExit(f"quickstart failed:\n{done.stderr}")
    print(f"  quickstart (first clone, templates built): {time.monotonic() - started:.1f} s")
    results: dict[str, list[float]] = {"warm": [], "cold": []}
    clusters: list[Path] = [first / ".odooplane"]
    try:
        for run in range(runs):
            for mode in ("warm", "cold"):
                clone = work / f"clone-{mode}-{run}"
                git(work, "clone", "-q", str(first), str(clone))
                clusters.append(clone / ".odooplane")
                cache_dir = warm if mode == "warm" else fresh_cache(work, f"cache-cold-{run}")
                served, steps = serve_once(clone, cache_dir)
                results[mode].append(served)
                parts = ", ".join(f"{k} {v:.1f}" for k, v in steps.items())
                print(f"  {mode} run {run + 1}: first page in {served:.1f} s ({parts})", flush=True)
    finally:
        for state in clusters:
            EmbeddedCluster(state).destroy()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--odoo-src", default="/opt/odoo-src/17.0")
    parser.add_argument("--runs", type=int, default=1, help="second clones served, each way")
    args = parser.parse_args()
    odoo_src = Path(args.odoo_src)
    work = Path(tempfile.mkdtemp(prefix="odooplane-bench-start-"))
    os.chmod(work, 0o711)  # the embedded PostgreSQL runs as another user when we are root
    try:
        print("1. a new development database (base, web, sample addon, demo data):")
        db = databases(work, odoo_src)
        print("2. odooplane dev from a second clone of the repository, to the first page:")
        dev = second_clones(work, odoo_src, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    warm, cold = statistics.median(dev["warm"]), statistics.median(dev["cold"])
    print()
    print("| what | baseline (init) | templates | ratio |")
    print("|---|---|---|---|")
    print(
        f"| new development database | {db['init']:.1f} s | cached: {db['template, cached']:.2f} s"
        f" (first time, building them: {db['template, cold']:.1f} s) |"
        f" {db['init'] / db['template, cached']:.1f}x |"
    )
    print(
        f"| `odooplane dev` in a second clone, to the first page | {cold:.1f} s "
        f"(empty template cache) | {warm:.1f} s (warm caches) | {cold / warm:.1f}x |"
    )
    print(f"(median of {args.runs} run(s) each; load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
