"""Changed addons from a real git history: files to addons, reverse dependencies."""

from __future__ import annotations

from pathlib import Path

from conftest import run_git, write_addon
from odooplane.gates.changes import changed_addons
from odooplane.odoo.addons import discover_addons


def _commit(repo: Path, message: str) -> str:
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", message)
    return run_git(repo, "rev-parse", "HEAD")


def _repo(tmp_path: Path) -> tuple[Path, str]:
    repo = tmp_path / "repo"
    repo.mkdir()
    run_git(repo, "init", "-q", "-b", "main")
    addons = repo / "addons"
    write_addon(addons, "a")
    write_addon(addons, "b", depends=("a",))
    write_addon(addons, "c", depends=("b",))
    write_addon(addons, "d")
    (repo / "README.md").write_text("hello\n")
    return repo, _commit(repo, "base")


def test_changed_addon_and_its_reverse_dependencies(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path)
    (repo / "addons" / "a" / "models.py").write_text("x = 1\n")
    (repo / "README.md").write_text("changed\n")
    head = _commit(repo, "change a")
    found = changed_addons(
        repo, base=base, ref=head, addons=discover_addons([repo / "addons"]), code_root=repo
    )
    assert found.changed == ["a"]
    assert found.dependents == ["b", "c"]
    assert found.selected == ["a", "b", "c"]
    assert found.files == {"a": ["addons/a/models.py"]}
    assert found.other_files == ["README.md"]


def test_leaf_change_has_no_dependents_and_all_selects_everything(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path)
    (repo / "addons" / "d" / "data.xml").write_text("<odoo/>\n")
    head = _commit(repo, "change d")
    addons = discover_addons([repo / "addons"])
    found = changed_addons(repo, base=base, ref=head, addons=addons, code_root=repo)
    assert (found.changed, found.dependents) == (["d"], [])
    every = changed_addons(
        repo, base=base, ref=head, addons=addons, code_root=repo, all_addons=True
    )
    assert every.all_addons and every.selected == ["a", "b", "c", "d"]


def test_renamed_file_counts_for_both_addons_and_uninstallable_is_left_out(
    tmp_path: Path,
) -> None:
    repo, base = _repo(tmp_path)
    (repo / "addons" / "a" / "x.py").write_text("value = 'a long enough text to rename'\n" * 5)
    base = _commit(repo, "x in a")
    run_git(repo, "mv", "addons/a/x.py", "addons/d/x.py")
    manifest = repo / "addons" / "c" / "__manifest__.py"
    manifest.write_text(manifest.read_text().replace("'installable': True", "'installable': False"))
    head = _commit(repo, "move x to d, c not installable")
    found = changed_addons(
        repo, base=base, ref=head, addons=discover_addons([repo / "addons"]), code_root=repo
    )
    assert found.changed == ["a", "d"]
    assert found.dependents == ["b"]
