"""Images per build: the Dockerfiles and context (unit), then real builds on a real
engine with the real Odoo 17 runtime: labels, unprivileged user under tini, a cache hit
for an unchanged build, only the thin layer rebuilt for a new commit."""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest

from conftest import run_git, write_addon
from odooplane.config import load_config
from odooplane.containers import images
from odooplane.containers.engine import ContextFile, ContextTree, Docker, _write_context
from odooplane.environments.builds import Build, build
from odooplane.errors import ConfigError
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.source import OdooSource
from odooplane.project import Project


def _fake_build(tmp_path: Path) -> Build:
    return Build(
        sha="a" * 40,
        ref="main",
        branch="main",
        subject="s",
        message="s",
        author_name="a",
        author_email="a@example.com",
        committed_at="2026-01-01T00:00:00+00:00",
        authored_at="2026-01-01T00:00:00+00:00",
        odoo_series="17.0",
        odoo_revision="b" * 40,
        odoo_path=str(tmp_path / "odoo-src"),
        deps_hash="0123456789abcdef",
        runtime_path=str(tmp_path / "rt"),
        python=str(tmp_path / "rt" / "bin" / "python"),
        code_dir=str(tmp_path / "builds" / "code"),
        project_subdir="sub",
    )


def test_dockerfiles_run_odoo_unprivileged_under_tini() -> None:
    runtime = images.runtime_dockerfile(
        "base:1", "3.11", no_deps=True, extra_packages=["wkhtmltopdf"]
    )
    assert runtime.startswith("FROM base:1 AS build\n")
    assert "--no-deps -r /tmp/requirements.txt" in runtime
    assert f"useradd --system --uid {images.ODOO_UID}" in runtime
    assert " tini " in runtime and " wkhtmltopdf " in runtime
    # The host's CA certificates reach the build stage only, never the final image.
    final_stage = runtime.split("\n\nFROM base:1\n")[1]
    assert "ca-certificates/" not in final_stage
    thin = images.build_dockerfile("sha256:odoo")
    assert "USER odoo\n" in thin
    assert 'ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/odooplane-entrypoint"]' in thin
    assert "/web/health" in thin


def test_labels_and_paths_of_a_build(tmp_path: Path) -> None:
    b = _fake_build(tmp_path)
    project = Project(
        root=tmp_path,
        config=load_config(_write_config(tmp_path, "Shop_ERP")),
    )
    labels = images.build_labels(project, b)
    assert labels["org.odooplane.git-sha"] == b.sha
    assert labels["org.odooplane.odoo-revision"] == b.odoo_revision
    assert labels["org.odooplane.deps-hash"] == b.deps_hash
    assert "main" not in labels.values()  # a branch moves; the image must not
    assert images.image_tag(project, b) == f"odooplane/shop_erp:{b.sha[:12]}"
    assert images.container_path(b, Path(b.code_dir) / "sub" / "addons") == PurePosixPath(
        "/opt/odoo/project/sub/addons"
    )
    assert images.container_path(b, Path(b.odoo_path) / "odoo" / "addons") == PurePosixPath(
        "/opt/odoo/src/odoo/addons"
    )
    with pytest.raises(ConfigError, match="neither in build"):
        images.container_path(b, "/srv/elsewhere")


def _write_config(root: Path, name: str) -> Path:
    path = root / "odooplane.yaml"
    path.write_text(f"project: {name.lower()}\nodoo:\n  series: '17.0'\n  source: odoo-src\n")
    return path


def test_context_is_normalized_and_skips_caches(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "pkg" / "__pycache__").mkdir(parents=True)
    (tree / ".git").mkdir()
    (tree / "pkg" / "mod.py").write_text("x = 1\n")
    (tree / "pkg" / "mod.py").chmod(0o600)
    (tree / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"\0")
    (tree / "pkg" / "old.pyc").write_bytes(b"\0")
    buffer = io.BytesIO()
    _write_context(
        [
            ContextFile("Dockerfile", data=b"FROM scratch\n"),
            ContextTree("src", tree, images._skip_source),
        ],
        buffer,
    )
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert set(members) == {"Dockerfile", "src", "src/pkg", "src/pkg/mod.py"}
    mod = members["src/pkg/mod.py"]
    assert (mod.uid, mod.gid, mod.mtime) == (0, 0, 0)
    assert mod.mode & 0o444 == 0o444  # readable by the image's unprivileged user


# -- real engine, real Odoo ---------------------------------------------------------------


def _project(repo: Path, source: OdooSource) -> Project:
    (repo / "odooplane.yaml").write_text(
        f"project: imagetest\nodoo:\n  series: '{source.series}'\n  source: '{source.path}'\n"
    )
    (repo / ".gitignore").write_text(".odooplane/\n")
    return Project(root=repo, config=load_config(repo / "odooplane.yaml"))


@pytest.mark.odoo
@pytest.mark.docker
@pytest.mark.slow
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
    first_build = build(project, "main", progress=False, record=False)

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
    second_build = build(project, "main", progress=False, record=False)
    second = images.build_image(project, second_build)
    cached = {layer.role: layer.cached for layer in second.layers}
    assert cached == {"runtime": True, "odoo": True, "build": False}
    assert second.image_id != first.image_id
    assert second.layers[1].image_id == first.layers[1].image_id
    history = docker_engine.run(["history", "--quiet", "--no-trunc", second.image_id]).stdout
    assert first.layers[1].image_id in history  # built on the very same Odoo layer
