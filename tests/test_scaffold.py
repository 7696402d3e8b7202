"""`init` on real git repositories: addon discovery, submodules, series, .gitignore."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import run_git, write_addon
from odooplane.config import GitSource, branch_patterns, load_config
from odooplane.errors import NotFoundError, RefusedError, UsageError
from odooplane.scaffold import init_project, project_name_from

ODOO_SRC = Path(os.environ.get("ODOOPLANE_TEST_ODOO_SRC", "/opt/odoo-src/17.0"))


def commit_all(repo: Path, message: str = "change") -> None:
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", message)


def add_submodule(repo: Path, source: Path, where: str) -> None:
    run_git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(source), where)


@pytest.fixture
def project_repo(make_git_repo: Callable[..., Path]) -> Path:
    """A repository with addons at several depths and a git submodule of addons."""
    library = make_git_repo("library")
    write_addon(library, "lib_tools", version="17.0.3.1.0")
    write_addon(library, "lib_reports", version="17.0.1.0.0")
    commit_all(library, "library addons")

    repo = make_git_repo("shop-addons")
    write_addon(repo / "addons", "sale_ext", version="17.0.1.0.0", depends=("sale",))
    write_addon(repo / "vendor" / "acme" / "addons", "acme_base", version="17.0.2.0.0")
    write_addon(repo / "legacy", "old_addon", version="16.0.1.0.0")
    add_submodule(repo, library, "third_party/library")
    commit_all(repo, "addons and a submodule")
    return repo


def test_init_finds_nested_addons_and_submodules(project_repo: Path) -> None:
    result = init_project(project_repo)

    assert result.config_path == project_repo / "odooplane.yaml"
    assert result.project == "shop-addons"
    assert {(a.name, a.path) for a in result.addons} == {
        ("sale_ext", "addons/sale_ext"),
        ("acme_base", "vendor/acme/addons/acme_base"),
        ("old_addon", "legacy/old_addon"),
        ("lib_tools", "third_party/library/lib_tools"),
        ("lib_reports", "third_party/library/lib_reports"),
    }
    assert sorted(result.addons_paths) == [
        "addons",
        "legacy",
        "third_party/library",
        "vendor/acme/addons",
    ]
    assert result.submodules == ["third_party/library"]
    assert result.series == "17.0"
    assert result.series_reason == "4 of 5 manifest versions say 17.0"
    assert any("16.0 (1), 17.0 (4); picked 17.0" in note for note in result.notes)
    assert result.gitignore == "created"
    assert not result.overwritten

    config = load_config(result.config_path, environ={})
    assert config.project == "shop-addons"
    assert config.odoo.series == "17.0"
    assert sorted(config.odoo.addons_paths) == sorted(result.addons_paths)
    assert config.odoo.source == GitSource(git="https://github.com/odoo/odoo.git", ref="17.0")
    assert {n: e.kind.value for n, e in config.environments.items()} == {
        "production": "production",
        "staging": "staging",
        "development": "development",
    }
    assert branch_patterns(config, "staging") == ["main"]
    assert branch_patterns(config, "development") == ["*"]
    assert branch_patterns(config, "production") == []
    assert result.environments["staging"]["data"] == {"copy": "production"}

    text = result.config_path.read_text()
    previews_block = text.split("# Previews:", 1)[1].split("\n\n", 1)[0]
    assert "Not yet active" not in previews_block and "enabled: false" in previews_block
    assert "Not yet active" not in text
    assert "# Gates:" in text and "# Previews:" in text
    assert (project_repo / ".gitignore").read_text().splitlines()[-1] == ".odooplane/"


def test_refuses_to_overwrite_without_force(project_repo: Path) -> None:
    init_project(project_repo)
    config_path = project_repo / "odooplane.yaml"
    config_path.write_text("# edited by hand\n" + config_path.read_text())
    with pytest.raises(RefusedError) as info:
        init_project(project_repo)
    assert str(config_path) in info.value.message
    assert "--force" in (info.value.hint or "")
    assert config_path.read_text().startswith("# edited by hand")

    again = init_project(project_repo, force=True)
    assert again.overwritten
    assert not config_path.read_text().startswith("# edited by hand")
    assert again.gitignore == "unchanged"
    assert (project_repo / ".gitignore").read_text().count(".odooplane/") == 1


@pytest.mark.parametrize(
    ("existing", "expected", "status"),
    [
        ("*.pyc", "*.pyc\n\n# odooplane", "updated"),  # no final newline
        ("*.pyc\n", "*.pyc\n\n# odooplane", "updated"),
        ("", "# odooplane", "updated"),
        ("/.odooplane\n", "/.odooplane\n", "unchanged"),
        ("build/\n.odooplane/*\n", "build/\n.odooplane/*\n", "unchanged"),
    ],
)
def test_gitignore_is_appended_once(
    make_git_repo: Callable[..., Path], existing: str, expected: str, status: str
) -> None:
    repo = make_git_repo("repo", {".gitignore": existing})
    assert init_project(repo).gitignore == status
    text = (repo / ".gitignore").read_text()
    assert text.startswith(expected)
    assert init_project(repo, force=True).gitignore == "unchanged"
    assert (repo / ".gitignore").read_text() == text
    if status == "updated":
        assert text.endswith("\n.odooplane/\n")


def test_uninitialized_submodule_is_reported(
    project_repo: Path, tmp_path: Path, make_git_repo: Callable[..., Path]
) -> None:
    clone = tmp_path / "clone"
    run_git(tmp_path, "clone", "-q", str(project_repo), str(clone))
    result = init_project(clone)
    assert "lib_tools" not in {a.name for a in result.addons}
    assert result.submodules == ["third_party/library"]
    assert any("third_party/library is not checked out" in n for n in result.notes)


def test_project_name_from_folder() -> None:
    assert project_name_from("My Shop.v2") == "my-shop-v2"
    assert project_name_from("2024_Addons") == "addons"
    assert project_name_from("___") == "odoo-project"
    assert project_name_from("x" * 80) == "x" * 40


def test_explicit_name_and_unsafe_name(make_git_repo: Callable[..., Path]) -> None:
    repo = make_git_repo("Weird Folder")
    with pytest.raises(UsageError, match="'Bad Name' is not a safe project name"):
        init_project(repo, name="Bad Name")
    assert not (repo / "odooplane.yaml").exists()
    assert init_project(repo, name="crm").project == "crm"
    assert load_config(repo / "odooplane.yaml", environ={}).project == "crm"


def test_no_addons_defaults_to_19(make_git_repo: Callable[..., Path]) -> None:
    repo = make_git_repo("empty")
    result = init_project(repo)
    assert result.series == "19.0" and result.addons == [] and result.addons_paths == []
    assert any("assumed 19.0" in n for n in result.notes)
    source = load_config(result.config_path, environ={}).odoo.source
    assert source == GitSource(git="https://github.com/odoo/odoo.git", ref="19.0")
    assert result.series_reason.startswith("default")
    assert any("No addon folder" in n for n in result.notes)
    assert load_config(result.config_path, environ={}).odoo.addons_paths == []


def test_short_versions_do_not_vote(make_git_repo: Callable[..., Path]) -> None:
    repo = make_git_repo("mixed")
    write_addon(repo, "a", version="1.0")
    write_addon(repo, "b", version="16.0.1.0.0")
    result = init_project(repo)
    assert result.series == "16.0"
    assert result.addons_paths == ["."]
    assert load_config(result.config_path, environ={}).odoo.series == "16.0"


def test_git_url_source_gets_the_series_as_ref(project_repo: Path) -> None:
    url = "https://git.example.com/odoo/odoo.git"
    result = init_project(project_repo, odoo_source=url)
    assert result.odoo_source == {"git": url, "ref": "17.0"}
    source = load_config(result.config_path, environ={}).odoo.source
    assert source == GitSource(git=url, ref="17.0")


def test_odoo_tree_in_the_repository_is_the_source_not_addons(
    make_git_repo: Callable[..., Path],
) -> None:
    repo = make_git_repo("with-odoo")
    write_addon(repo / "addons", "mine", version="16.0.1.0.0")
    odoo = repo / "odoo"
    (odoo / "odoo").mkdir(parents=True)
    (odoo / "odoo-bin").write_text("#!/usr/bin/env python3\n")
    (odoo / "odoo" / "release.py").write_text(
        "RELEASE_LEVELS = [ALPHA, BETA, RELEASE_CANDIDATE, FINAL] = "
        "['alpha', 'beta', 'candidate', 'final']\n"
        "version_info = (16, 0, 0, FINAL, 0, '')\n"
    )
    write_addon(odoo / "addons", "web", version="16.0.1.0")
    write_addon(odoo / "odoo" / "addons", "base", version="16.0.1.3")
    result = init_project(repo)
    assert [a.name for a in result.addons] == ["mine"]
    assert result.odoo_source == "odoo"
    assert result.series == "16.0"
    assert result.series_reason == "read from the Odoo source's odoo/release.py"
    assert load_config(result.config_path, environ={}).odoo.source == "odoo"


@pytest.mark.skipif(not ODOO_SRC.is_dir(), reason=f"no Odoo source at {ODOO_SRC}")
def test_local_odoo_source_sets_the_series(make_git_repo: Callable[..., Path]) -> None:
    repo = make_git_repo("local-src")
    write_addon(repo / "addons", "mine", version="16.0.1.0.0")
    result = init_project(repo, odoo_source=str(ODOO_SRC))
    assert result.odoo_source == str(ODOO_SRC.resolve())
    assert result.series == "17.0"
    assert any("manifests suggest 16.0" in n for n in result.notes)


def test_requirements_and_broken_manifest(make_git_repo: Callable[..., Path]) -> None:
    repo = make_git_repo(
        "reqs", {"requirements.txt": "requests\n", "addons/bad/__manifest__.py": "{"}
    )
    write_addon(repo / "addons", "good")
    result = init_project(repo)
    assert result.requirements == ["requirements.txt"]
    assert {a.name for a in result.addons} == {"bad", "good"}
    assert any("Could not read the manifest of addons/bad" in n for n in result.notes)
    assert load_config(result.config_path, environ={}).odoo.requirements == ["requirements.txt"]


def test_not_a_git_repository_is_noted(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    result = init_project(folder)
    assert any("not in a git repository" in n for n in result.notes)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="is not a folder"):
        init_project(tmp_path / "nope")
