"""Images per build on a real engine with the real Odoo 17 runtime: labels, the
unprivileged user under tini, a cache hit for an unchanged build, only the thin layer
rebuilt for a new commit."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import run_git, write_addon
from odooplane.config import load_config
from odooplane.containers import images
from odooplane.containers.engine import Docker
from odooplane.environments.builds import build
from odooplane.evidence.store import EvidenceStore
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.source import OdooSource
from odooplane.project import Project

pytestmark = [pytest.mark.odoo, pytest.mark.docker, pytest.mark.slow]


def _project(repo: Path, source: OdooSource) -> Project:
    (repo / "odooplane.yaml").write_text(
        f"project: imagetest\nodoo:\n  series: '{source.series}'\n  source: '{source.path}'\n"
    )
    (repo / ".gitignore").write_text(".odooplane/\n")
    return Project(root=repo, config=load_config(repo / "odooplane.yaml"))


def test_image_per_build_cached_and_layered(
    make_git_repo: Callable[..., Path],
    odoo_source: OdooSource,
    odoo_runtime: Runtime,
    docker_engine: Docker,
) -> None:
    repo = make_git_repo("project")
    project = _project(repo, odoo_source)
    write_addon(repo / "addons", "shop_rules")
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", "shop rules")
    first_build = build(project, "main", record=False)

    first = images.build_image(project, first_build)
    assert first.tag == images.image_tag(project, first_build)
    labels = docker_engine.image(first.tag)["Config"]["Labels"]  # type: ignore[index]
    assert labels["org.odooplane.git-sha"] == first_build.sha
    assert labels["org.odooplane.odoo-revision"] == odoo_source.revision
    assert labels["org.odooplane.deps-hash"] == odoo_runtime.deps_hash
    assert [layer.role for layer in first.layers] == ["runtime", "odoo", "build"]
    assert images.image_record_path(project, first_build.sha).is_file()

    # Odoo, its packages (compiled ones included) and the project's addon are in the
    # image; it runs as the unprivileged user, with tini as PID 1.
    probe = docker_engine.run(
        [
            "run",
            "--rm",
            # odoo-bin imports Odoo from its own folder; a bare interpreter needs it named.
            "--env",
            "PYTHONPATH=/opt/odoo/src",
            first.tag,
            "python",
            "-c",
            "import os, odoo, psycopg2, lxml, ldap; print(os.getuid(), os.getgid()); "
            "print(open('/proc/1/cmdline').read().split(chr(0))[0]); "
            "print(os.path.isfile('/opt/odoo/project/addons/shop_rules/__manifest__.py'))",
        ]
    ).stdout.split()
    assert probe == [str(images.ODOO_UID), str(images.ODOO_UID), "/usr/bin/tini", "True"]

    # Unchanged: a cache hit, same image, nothing sent to the engine.
    t0 = time.monotonic()
    again = images.build_image(project, first_build)
    assert again.cached and again.image_id == first.image_id
    assert time.monotonic() - t0 < 30

    # A new commit rebuilds only the thin layer on the shared runtime and Odoo layers.
    write_addon(repo / "addons", "shop_extra")
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", "shop extra")
    second_build = build(project, "main", record=False)
    second = images.build_image(project, second_build)
    cached = {layer.role: layer.cached for layer in second.layers}
    assert cached == {"runtime": True, "odoo": True, "build": False}
    assert second.image_id != first.image_id
    assert second.layers[1].image_id == first.layers[1].image_id
    history = docker_engine.run(["history", "--quiet", "--no-trunc", second.image_id]).stdout
    assert first.layers[1].image_id in history  # built on the very same Odoo layer

    # `odooplane build --image` records the image with the build in evidence (a cache
    # hit here), and `build --list` shows it.
    def cli(*args: str) -> object:
        done = subprocess.run(
            [sys.executable, "-m", "odooplane", "-C", str(repo), *args, "--json"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    made = cli("build", "main", "--image")
    assert isinstance(made, dict)
    assert made["image"]["image_id"] == second.image_id and made["image"]["cached"]
    with EvidenceStore.open(project) as store:
        [record] = store.build_images(git_sha=second_build.sha)
    assert record.image_id == second.image_id and record.tag == second.tag
    assert record.layers == {layer.role: layer.image_id for layer in second.layers}
    assert record.base_image == images.DEFAULT_BASE_IMAGE
    listing = cli("build", "--list")
    assert isinstance(listing, list)
    shown = {row["sha"]: (row["image"] or {}).get("image_id") for row in listing}
    assert shown == {first_build.sha: first.image_id, second_build.sha: second.image_id}
