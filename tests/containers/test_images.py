"""Images per build: the Dockerfiles and context (unit), then real builds on a real
engine with the real Odoo 17 runtime: labels, unprivileged user under tini, a cache hit
for an unchanged build, only the thin layer rebuilt for a new commit."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path, PurePosixPath

import pytest

from odooplane.config import load_config
from odooplane.containers import images
from odooplane.containers.engine import ContextFile, ContextTree, _write_context
from odooplane.environments.builds import Build
from odooplane.errors import ConfigError
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
