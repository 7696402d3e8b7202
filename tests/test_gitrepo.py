"""gitrepo against real git repositories, submodules included."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import run_git
from odooplane import gitrepo
from odooplane.errors import NotFoundError, UsageError


def _commit(repo: Path, files: dict[str, str], message: str) -> str:
    for rel, text in files.items():
        target = repo / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", message)
    return run_git(repo, "rev-parse", "HEAD")


def test_resolve_ref_branch_tag_and_short_sha(make_git_repo: Callable[..., Path]) -> None:
    repo = make_git_repo()
    sha = run_git(repo, "rev-parse", "HEAD")
    run_git(repo, "tag", "v1")
    assert gitrepo.resolve_ref(repo, "main") == sha
    assert gitrepo.resolve_ref(repo, "v1") == sha
    assert gitrepo.resolve_ref(repo, sha[:8]) == sha
    assert gitrepo.head_sha(repo) == sha


def test_missing_ref_is_a_sentence(make_git_repo: Callable[..., Path]) -> None:
    repo = make_git_repo()
    with pytest.raises(NotFoundError, match="'nope' is not a branch, tag or commit"):
        gitrepo.resolve_ref(repo, "nope")
    with pytest.raises(UsageError):
        gitrepo.resolve_ref(repo, "--all")


def test_not_a_repository(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(UsageError, match="is not a git repository"):
        gitrepo.resolve_ref(tmp_path / "plain", "HEAD")


def test_commit_info_and_branches(make_git_repo: Callable[..., Path]) -> None:
    repo = make_git_repo()
    sha = _commit(repo, {"a.txt": "x"}, "Add a\n\nWith a body line.")
    info = gitrepo.commit_info(repo, "HEAD")
    assert info.sha == sha
    assert info.subject == "Add a"
    assert "With a body line." in info.message
    assert info.author_name == "Test Author"
    assert info.author_email == "author@example.com"
    assert info.timestamp.endswith("+00:00")
    assert gitrepo.current_branch(repo) == "main"
    run_git(repo, "branch", "feature/x")
    assert gitrepo.branches_pointing_at(repo, sha) == ["feature/x", "main"]
    assert gitrepo.branch_of(repo, "feature/x", sha) == "feature/x"
    assert gitrepo.branch_of(repo, sha, sha) == "main"
    run_git(repo, "checkout", "-q", "--detach", "HEAD")
    assert gitrepo.current_branch(repo) is None


def test_changed_files_with_rename(make_git_repo: Callable[..., Path]) -> None:
    repo = make_git_repo(files={"a/one.py": "1\n" * 50, "b/two.py": "2"})
    first = run_git(repo, "rev-parse", "HEAD")
    run_git(repo, "mv", "a/one.py", "a/uno.py")
    (repo / "b/two.py").write_text("22")
    (repo / "c.txt").write_text("new")
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", "change")
    changes = {c.path: c for c in gitrepo.changed_files(repo, first, "HEAD")}
    assert changes["a/uno.py"].status == "R"
    assert changes["a/uno.py"].old_path == "a/one.py"
    assert changes["b/two.py"].status == "M"
    assert changes["c.txt"].status == "A"


def test_export_commit_is_the_commit_not_the_worktree(
    make_git_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_git_repo(files={"addons/x/__manifest__.py": "{'name': 'x'}"})
    sha = run_git(repo, "rev-parse", "HEAD")
    (repo / "addons/x/__manifest__.py").write_text("{'name': 'dirty'}")
    (repo / "untracked.txt").write_text("no")
    target = tmp_path / "export" / sha
    gitrepo.export_commit(repo, sha, target, submodule_cache=tmp_path / "cache")
    assert (target / "addons/x/__manifest__.py").read_text() == "{'name': 'x'}"
    assert not (target / "untracked.txt").exists()
    assert not (target / ".git").exists()
    # The user's repository is untouched: no worktree was registered.
    assert run_git(repo, "worktree", "list").count("\n") == 0
    # A second export of the same commit is a no-op.
    assert gitrepo.export_commit(repo, sha, target, submodule_cache=tmp_path / "cache") == []
    leftovers = [p.name for p in target.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def _add_submodule(parent: Path, sub: Path, path: str) -> None:
    run_git(parent, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), path)
    run_git(parent, "commit", "-q", "-m", f"add submodule {path}")


def test_export_includes_nested_submodules(
    make_git_repo: Callable[..., Path], tmp_path: Path
) -> None:
    inner = make_git_repo("inner", files={"inner_addon/__manifest__.py": "{'name': 'i'}"})
    middle = make_git_repo("middle", files={"mid_addon/__manifest__.py": "{'name': 'm'}"})
    _add_submodule(middle, inner, "vendor/inner")
    parent = make_git_repo("parent", files={"own/__manifest__.py": "{'name': 'o'}"})
    _add_submodule(parent, middle, "third_party")
    run_git(
        parent, "-c", "protocol.file.allow=always", "submodule", "update", "--init", "--recursive"
    )
    sha = run_git(parent, "rev-parse", "HEAD")
    subs = gitrepo.submodules_at(parent, sha)
    assert [(s.path, s.name) for s in subs] == [("third_party", "third_party")]

    target = tmp_path / "out"
    exported = gitrepo.export_commit(parent, sha, target, submodule_cache=tmp_path / "cache")
    assert exported == ["third_party", "third_party/vendor/inner"]
    assert (target / "own/__manifest__.py").exists()
    assert (target / "third_party/mid_addon/__manifest__.py").exists()
    assert (target / "third_party/vendor/inner/inner_addon/__manifest__.py").exists()


def test_export_fetches_an_uninitialised_submodule(
    make_git_repo: Callable[..., Path], tmp_path: Path
) -> None:
    lib = make_git_repo("lib", files={"lib_addon/__manifest__.py": "{'name': 'l'}"})
    parent = make_git_repo("parent2")
    _add_submodule(parent, lib, "lib")
    # A fresh clone has the gitlink but no submodule checkout nor .git/modules.
    clone = tmp_path / "clone"
    run_git(tmp_path, "clone", "-q", str(parent), str(clone))
    sha = run_git(clone, "rev-parse", "HEAD")
    assert not (clone / "lib" / "lib_addon").exists()
    target = tmp_path / "out2"
    gitrepo.export_commit(clone, sha, target, submodule_cache=tmp_path / "cache")
    assert (target / "lib/lib_addon/__manifest__.py").exists()


def test_export_of_a_vanished_submodule_commit_fails_clearly(
    make_git_repo: Callable[..., Path], tmp_path: Path
) -> None:
    lib = make_git_repo("lib3")
    parent = make_git_repo("parent3")
    _add_submodule(parent, lib, "lib")
    sha = run_git(parent, "rev-parse", "HEAD")
    # Point the gitlink at a commit nobody has.
    ghost = "1234567890abcdef1234567890abcdef12345678"
    run_git(parent, "update-index", "--cacheinfo", f"160000,{ghost},lib")
    run_git(parent, "commit", "-q", "-m", "ghost")
    bad = run_git(parent, "rev-parse", "HEAD")
    assert bad != sha
    # Remove the local module copy so only the URL is left to try.
    import shutil

    shutil.rmtree(parent / ".git" / "modules")
    shutil.rmtree(parent / "lib")
    with pytest.raises(NotFoundError, match="points at commit 1234567890ab"):
        gitrepo.export_commit(parent, bad, tmp_path / "out3", submodule_cache=tmp_path / "c")
    assert not (tmp_path / "out3").exists()
