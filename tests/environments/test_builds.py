"""Builds of real commits with the real Odoo source and runtime."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import run_git, write_addon
from odooplane.config import load_config
from odooplane.environments.builds import build, list_builds, load_build
from odooplane.errors import ConfigError, NotFoundError
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.source import OdooSource
from odooplane.project import Project

pytestmark = pytest.mark.odoo


def _project(repo: Path, source: OdooSource) -> Project:
    (repo / "odooplane.yaml").write_text(
        "project: buildtest\n"
        "odoo:\n"
        f"  series: '{source.series}'\n"
        f"  source: '{source.path}'\n"
        "environments:\n"
        "  production:\n"
        "    kind: production\n"
    )
    (repo / ".gitignore").write_text(".odooplane/\nweb/\n")
    return Project(root=repo, config=load_config(repo / "odooplane.yaml"))


def test_build_exports_commit_and_reuses_it(
    make_git_repo: Callable[..., Path],
    odoo_source: OdooSource,
    odoo_runtime: Runtime,
) -> None:
    vendor = make_git_repo("vendor")
    write_addon(vendor, "vendor_addon")
    run_git(vendor, "add", "-A")
    run_git(vendor, "commit", "-q", "-m", "vendor addon")
    repo = make_git_repo("project")
    project = _project(repo, odoo_source)
    write_addon(repo / "addons", "own_addon", version="17.0.2.0.0")
    run_git(
        repo,
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        str(vendor),
        "third_party",
    )
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", "Add own addon\n\nand a vendored one")
    sha = run_git(repo, "rev-parse", "HEAD")
    # Uncommitted work never reaches a build.
    (repo / "addons" / "own_addon" / "__manifest__.py").write_text("{'broken': ")

    first = build(project, "main")
    assert first.sha == sha
    assert first.branch == "main"
    assert first.subject == "Add own addon"
    assert first.author_email == "author@example.com"
    assert first.odoo_series == odoo_source.series
    assert first.odoo_revision == odoo_source.revision
    assert first.deps_hash == odoo_runtime.deps_hash
    assert first.addons == {"own_addon": "17.0.2.0.0", "vendor_addon": "1.0.0"}
    assert first.submodules == ["third_party"]
    assert not first.reused
    assert first.evidence_id
    code = Path(first.code_dir)
    assert code == project.state_dir / "builds" / sha / "code"
    assert (code / "third_party" / "vendor_addon" / "__manifest__.py").is_file()
    assert "17.0.2.0.0" in (code / "addons" / "own_addon" / "__manifest__.py").read_text()

    again = build(project, sha[:10])
    assert again.reused
    assert again.inputs() == first.inputs()
    assert again.evidence_id == first.evidence_id
    assert again.branch == "main"
    assert [b.sha for b in list_builds(project)] == [sha]
    loaded = load_build(project, sha)
    assert loaded is not None and loaded.submodules == ["third_party"]


def test_build_of_a_missing_ref(
    make_git_repo: Callable[..., Path], odoo_source: OdooSource
) -> None:
    repo = make_git_repo("project")
    project = _project(repo, odoo_source)
    with pytest.raises(NotFoundError, match="'v9' is not a branch, tag or commit"):
        build(project, "v9")
    assert not (project.state_dir / "builds").exists() or not list_builds(project)


def test_a_build_the_series_would_not_install_is_refused(
    make_git_repo: Callable[..., Path], series_source: OdooSource, series_runtime: Runtime
) -> None:
    """An addon whose version belongs to another series is named with its manifest
    before any environment is touched (Odoo would skip it with a warning)."""
    repo = make_git_repo("project")
    project = _project(repo, series_source)
    write_addon(repo / "addons", "fine", version="1.0.0")
    write_addon(repo / "addons", "ported_late", version="16.0.1.0.0")
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", "an addon still on 16.0")
    with pytest.raises(ConfigError) as info:
        build(project, "main", progress=False)
    assert "ported_late/__manifest__.py: version '16.0.1.0.0'" in info.value.message
    assert f"not a {series_source.series} version" in info.value.message
    assert "fine" not in info.value.message
