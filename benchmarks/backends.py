"""Local backend (supervisord) against the Docker backend, side by side, one run.

Two projects with the same repository content (two small addons), each with one
production environment: ``backend: local`` and ``backend: docker``. For each, in turn:

- **build**: `odooplane build` (local: the commit exported, the runtime found in the
  cache) and, for Docker, the build's image cold (the runtime, Odoo and build layers made
  from the base image) and cached (the same build again: a cache hit);
- **create**: `env create production` to /web/login answering 200 (database initialized
  with the addons, process or container started);
- **deploy**: `env deploy production main` after a one-addon change (stop, snapshot,
  module update, start, health);
- **memory**: resident memory of the environment's Odoo (the processes' RSS summed on
  this machine; for the container also the engine's own account, cgroup usage).

    flock /tmp/odooplane-heavy.lock python benchmarks/backends.py [--odoo-src /opt/odoo-src/17.0]
        [--keep-images]

Needs a Docker engine with the base image (`.ci/setup-docker`). Each project has its
own embedded PostgreSQL; both are destroyed at the end. Without --keep-images the
runtime and Odoo images of this dependencies hash are removed first, so "cold" is cold.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil

from odooplane.backends.docker import DockerBackend, container_name
from odooplane.config import load_config
from odooplane.containers import images
from odooplane.containers.engine import Docker
from odooplane.environments import api as envs
from odooplane.environments.builds import build
from odooplane.mailcatcher import stop_catcher
from odooplane.postgres.cluster import EmbeddedCluster
from odooplane.project import Project

MANIFEST = (
    "{'name': '%s', 'version': '17.0.1.0.0', 'depends': ['base'], 'license': 'LGPL-3',"
    " 'installable': True}\n"
)
FIELD_PY = (
    "from odoo import fields, models\n\n\nclass ResPartner(models.Model):\n"
    "    _inherit = 'res.partner'\n\n    bench_note = fields.Char()\n"
)


def git(repo: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def make_project(root: Path, odoo_src: Path, backend: str) -> Project:
    root.mkdir(parents=True)
    name = f"bench{backend}{uuid.uuid4().hex[:4]}"
    (root / "odooplane.yaml").write_text(
        f"project: {name}\nodoo:\n  series: '17.0'\n  source: '{odoo_src}'\n"
        f"environments:\n  production:\n    kind: production\n    backend: {backend}\n"
    )
    (root / ".gitignore").write_text(".odooplane/\n")
    for addon in ("bench_a", "bench_b"):
        (root / "addons" / addon).mkdir(parents=True)
        (root / "addons" / addon / "__init__.py").write_text("")
        (root / "addons" / addon / "__manifest__.py").write_text(MANIFEST % addon)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "two addons")
    return Project(root=root, config=load_config(root / "odooplane.yaml"))


def change(project: Project) -> None:
    addon = project.root / "addons" / "bench_a"
    (addon / "models").mkdir()
    (addon / "models" / "__init__.py").write_text("from . import partner\n")
    (addon / "models" / "partner.py").write_text(FIELD_PY)
    (addon / "__init__.py").write_text("from . import models\n")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "bench_a: a field")


def rss_of_tree(pid: int) -> int:
    root = psutil.Process(pid)
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total


def timed(what: str, action: object) -> float:
    started = time.monotonic()
    action()  # type: ignore[operator]
    seconds = time.monotonic() - started
    print(f"  {what}: {seconds:.1f} s", flush=True)
    return seconds


def container_memory(docker: Docker, name: str) -> int:
    text = docker.run(["stats", "--no-stream", "--format", "{{.MemUsage}}", name]).stdout
    used = text.split("/")[0].strip()
    units = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}
    for unit, factor in sorted(units.items(), key=lambda u: -len(u[0])):
        if used.endswith(unit):
            return int(float(used[: -len(unit)]) * factor)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--odoo-src", type=Path, default=Path("/opt/odoo-src/17.0"))
    parser.add_argument("--keep-images", action="store_true")
    args = parser.parse_args()
    docker = Docker()
    docker.version()
    results: dict[str, dict[str, float]] = {"local": {}, "docker": {}}
    memory: dict[str, dict[str, int]] = {"local": {}, "docker": {}}
    with tempfile.TemporaryDirectory(prefix="odooplane-bench-backends-") as tmp:
        projects = {
            kind: make_project(Path(tmp) / kind, args.odoo_src, kind)
            for kind in ("local", "docker")
        }
        try:
            for kind, project in projects.items():
                print(f"{kind}:", flush=True)
                row = results[kind]
                built = {}
                row["build"] = timed(
                    "build",
                    lambda p=project, into=built: into.setdefault(
                        "b", build(p, "main")
                    ),
                )
                if kind == "docker":
                    b = built["b"]
                    if not args.keep_images:
                        for tag in (
                            images.image_tag(project, b),
                            images.odoo_tag(b),
                            images.runtime_tag(b),
                        ):
                            docker.run(["rmi", "--force", tag], check=False)
                        # The build stage the engine keeps as cache goes too: cold is cold.
                        docker.run(
                            [
                                "image",
                                "prune",
                                "--force",
                                "--filter",
                                "label=org.odooplane.stage=build",
                            ],
                            check=False,
                        )
                    row["image cold"] = timed(
                        "image (cold)", lambda p=project, b=b: images.build_image(p, b)
                    )
                    row["image cached"] = timed(
                        "image (cached)", lambda p=project, b=b: images.build_image(p, b)
                    )
                row["create"] = timed("create", lambda p=project: envs.create(p, "production"))
                change(project)
                row["deploy"] = timed(
                    "deploy", lambda p=project: envs.deploy(p, "production", "main")
                )
                time.sleep(5)  # let Odoo settle after its first requests
                info = envs.status(project, "production")
                pid = (info.get("process") or {}).get("pid")
                if pid:
                    memory[kind]["rss"] = rss_of_tree(int(pid))
                if kind == "docker":
                    memory[kind]["cgroup"] = container_memory(
                        docker, container_name(project, "production")
                    )
        finally:
            for kind, project in projects.items():
                try:
                    envs.destroy(project, "production", force=True)
                except Exception as exc:  # the other project must be cleaned up too
                    print(f"destroy {kind}: {exc}", file=sys.stderr)
                if kind == "docker":
                    DockerBackend(project).shutdown()
                stop_catcher(project.state_dir)
                EmbeddedCluster(project.state_dir).stop()
                shutil.rmtree(project.root, ignore_errors=True)

    print("\nlocal vs Docker backend (seconds; memory in MiB)")
    print(f"{'':28}{'local':>10}{'docker':>10}{'docker/local':>14}")
    for key in ("build", "image cold", "image cached", "create", "deploy"):
        local = results["local"].get(key)
        dock = results["docker"].get(key)
        ratio = f"{dock / local:.2f}x" if local and dock else "-"
        print(
            f"{key:28}{(f'{local:.1f}' if local else '-'):>10}"
            f"{(f'{dock:.1f}' if dock else '-'):>10}{ratio:>14}"
        )
    local_rss = memory["local"].get("rss", 0) / 2**20
    docker_rss = memory["docker"].get("rss", 0) / 2**20
    ratio = f"{docker_rss / local_rss:.2f}x" if local_rss and docker_rss else "-"
    print(f"{'memory (RSS of Odoo)':28}{local_rss:>10.0f}{docker_rss:>10.0f}{ratio:>14}")
    cgroup = memory["docker"].get("cgroup", 0) / 2**20
    print(f"{'memory (container cgroup)':28}{'-':>10}{cgroup:>10.0f}{'':>14}")


if __name__ == "__main__":
    main()
