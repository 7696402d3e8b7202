"""Resolving the Odoo source: local folders, shallow git clones in the cache, series checks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import run_git
from odooplane.config import GitSource, OdooConfig
from odooplane.errors import ConfigError, NotFoundError
from odooplane.odoo.source import (
    clone_dir,
    content_revision,
    inspect_source,
    read_series,
    resolve_source,
)
from odooplane.progress import ProgressEvent


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("ODOOPLANE_CACHE_DIR", str(cache))
    return cache


def git_odoo(make_fake_odoo: Callable[..., Path], name: str = "odoo-upstream") -> Path:
    """A fake Odoo tree committed in a real git repository: 17.0 on branch 17.0 (tagged
    v17), then 16.0 on branch 16.0."""
    repo = make_fake_odoo(name, requirements="polib==1.1.1\n")
    run_git(repo, "init", "-q", "-b", "17.0")
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", "odoo 17")
    run_git(repo, "tag", "v17")
    run_git(repo, "checkout", "-q", "-b", "16.0")
    release = repo / "odoo" / "release.py"
    release.write_text(release.read_text().replace("(17, 0,", "(16, 0,"))
    run_git(repo, "commit", "-q", "-am", "odoo 16")
    run_git(repo, "checkout", "-q", "17.0")
    return repo


def test_read_series_parses_without_importing(tmp_path: Path) -> None:
    release = tmp_path / "release.py"
    release.write_text(
        "import this_module_does_not_exist\nversion_info = (18, 0, 0, FINAL, 0, '')\n"
    )
    assert read_series(release) == "18.0"
    release.write_text("version_info = (17, 2, 0, ALPHA, 1, '')\n")
    assert read_series(release) == "saas~17.2"
    release.write_text("version = '17.0'\n")
    with pytest.raises(ConfigError, match="has no `version_info"):
        read_series(release)
    release.write_text("version_info = (17, 0\n")
    with pytest.raises(ConfigError, match="cannot be read as Python"):
        read_series(release)


def test_local_source_relative_to_project_root(
    tmp_path: Path, make_fake_odoo: Callable[..., Path]
) -> None:
    tree = make_fake_odoo("vendor/odoo", requirements="polib==1.1.1\n")
    project_root = tmp_path
    config = OdooConfig(series="17.0", source="vendor/odoo")
    source = resolve_source(config, project_root)
    assert source.path == tree.resolve()
    assert source.series == "17.0"
    assert source.revision == content_revision(tree)
    assert source.addons_dirs() == [tree / "odoo" / "addons"]
    # The revision follows the content of release.py and requirements.txt.
    (tree / "requirements.txt").write_text("polib==1.1.2\n")
    assert resolve_source(config, project_root).revision != source.revision


def test_local_git_checkout_revision_is_the_commit(make_fake_odoo: Callable[..., Path]) -> None:
    repo = git_odoo(make_fake_odoo)
    assert inspect_source(repo).revision == run_git(repo, "rev-parse", "HEAD")


def test_series_mismatch_is_a_config_error(
    tmp_path: Path, make_fake_odoo: Callable[..., Path]
) -> None:
    make_fake_odoo("odoo16", version_info="(16, 0, 0, FINAL, 0, '')")
    config = OdooConfig(series="17.0", source="odoo16")
    with pytest.raises(ConfigError) as info:
        resolve_source(config, tmp_path)
    assert "odoo.series is '17.0'" in info.value.message
    assert "is 16.0 (read from odoo/release.py)" in info.value.message
    assert str(tmp_path / "odooplane.yaml") in info.value.message
    assert info.value.hint is not None and "Set odoo.series to '16.0'" in info.value.hint


def test_unsupported_series_is_refused(tmp_path: Path, make_fake_odoo: Callable[..., Path]) -> None:
    make_fake_odoo("odoo20", version_info="(20, 0, 0, FINAL, 0, '')")
    with pytest.raises(ConfigError, match=r"Odoo 20\.0 is not supported") as info:
        resolve_source(OdooConfig(series="20.0", source="odoo20"), tmp_path)
    assert info.value.hint == "Supported series: 16.0, 17.0, 18.0, 19.0."


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("missing", "does not exist"),
        ("file", "is a file, not an Odoo source folder"),
        ("empty", "is not an Odoo source tree: odoo/release.py is missing"),
        ("inner", "is not an Odoo source tree"),
        ("no-bin", "has odoo/release.py but no odoo-bin"),
    ],
)
def test_not_an_odoo_source(
    tmp_path: Path, make_fake_odoo: Callable[..., Path], layout: str, message: str
) -> None:
    target = tmp_path / "src"
    if layout == "file":
        target.write_text("x")
    elif layout == "empty":
        target.mkdir()
    elif layout == "inner":
        tree = make_fake_odoo("full")
        target = tree / "odoo"
        (target / "release.py").touch()
    elif layout == "no-bin":
        tree = make_fake_odoo("src")
        (tree / "odoo-bin").unlink()
    with pytest.raises(ConfigError, match=message) as info:
        resolve_source(OdooConfig(series="17.0", source=str(target)), tmp_path)
    assert "odooplane.yaml: odoo.source" in info.value.message
    if layout == "inner":
        assert info.value.hint is not None and "use its parent" in info.value.hint


def test_git_source_is_cloned_shallow_and_reused(
    tmp_path: Path, make_fake_odoo: Callable[..., Path], isolated_cache: Path
) -> None:
    upstream = git_odoo(make_fake_odoo)
    url = f"file://{upstream}"
    config = OdooConfig(series="17.0", source=GitSource(git=url, ref="17.0"))
    source = resolve_source(config, tmp_path)
    assert source.path == clone_dir(GitSource(git=url, ref="17.0"))
    assert source.path.is_relative_to(isolated_cache / "odoo-src")
    assert source.series == "17.0"
    assert source.revision == run_git(upstream, "rev-parse", "17.0")
    assert run_git(source.path, "rev-parse", "--is-shallow-repository") == "true"
    assert run_git(source.path, "rev-list", "--count", "HEAD") == "1"
    # Nothing half-made is left beside the clone.
    assert sorted(p.name for p in source.path.parent.iterdir() if p.is_dir()) == [source.path.name]

    # Reused: a new upstream commit is not fetched unless asked for.
    marker = source.path / "odooplane-was-here"
    marker.write_text("1")
    (upstream / "README").write_text("new")
    run_git(upstream, "add", "README")
    run_git(upstream, "commit", "-q", "-m", "more")
    again = resolve_source(config, tmp_path)
    assert again.revision == source.revision and marker.exists()
    updated = resolve_source(config, tmp_path, update=True)
    assert updated.revision == run_git(upstream, "rev-parse", "17.0") != source.revision


def test_git_source_by_tag_commit_and_other_branch(
    tmp_path: Path, make_fake_odoo: Callable[..., Path], isolated_cache: Path
) -> None:
    upstream = git_odoo(make_fake_odoo)
    url = f"file://{upstream}"
    # With progress events this time (git's progress lines are parsed).
    events: list[ProgressEvent] = []
    by_tag = resolve_source(
        OdooConfig(series="17.0", source=GitSource(git=url, ref="v17")),
        tmp_path,
        progress=events.append,
    )
    assert events[0].phase.startswith("Fetching Odoo v17 from file://")
    assert (events[-1].done, events[-1].total) == (100, 100)
    assert by_tag.revision == run_git(upstream, "rev-parse", "v17^{commit}")
    sha16 = run_git(upstream, "rev-parse", "16.0")
    by_sha = resolve_source(
        OdooConfig(series="16.0", source=GitSource(git=url, ref=sha16)), tmp_path
    )
    assert (by_sha.series, by_sha.revision) == ("16.0", sha16)
    # The 16.0 branch configured as 17.0: the clone is fine, the series check is not.
    with pytest.raises(ConfigError, match=r"odoo\.series is '17\.0'"):
        resolve_source(
            OdooConfig(series="17.0", source=GitSource(git=url, ref="16.0")),
            tmp_path,
        )


def test_git_source_errors(
    tmp_path: Path, make_fake_odoo: Callable[..., Path], isolated_cache: Path
) -> None:
    upstream = git_odoo(make_fake_odoo)
    missing_ref = OdooConfig(
        series="17.0", source=GitSource(git=f"file://{upstream}", ref="no-such-branch")
    )
    with pytest.raises(NotFoundError, match="has no branch, tag or commit 'no-such-branch'"):
        resolve_source(missing_ref, tmp_path)
    bad_url = OdooConfig(
        series="17.0",
        source=GitSource(git=f"file://{tmp_path}/nowhere", ref="17.0"),
    )
    with pytest.raises(Exception) as info:
        resolve_source(bad_url, tmp_path)
    assert "Fetching '17.0' from" in str(info.value)
    # Failed fetches leave nothing in the cache that could pass for a clone.
    leftovers = [p for p in (isolated_cache / "odoo-src").iterdir() if p.is_dir()]
    assert leftovers == []
    # fetch=False never clones.
    fresh = OdooConfig(series="17.0", source=GitSource(git=f"file://{upstream}", ref="17.0"))
    with pytest.raises(NotFoundError, match="has not been fetched yet"):
        resolve_source(fresh, tmp_path, fetch=False)


def test_credentials_in_urls_are_not_shown(tmp_path: Path, isolated_cache: Path) -> None:
    config = OdooConfig(
        series="17.0",
        source=GitSource(git=f"file://user:tok3n@{tmp_path}/nowhere", ref="17.0"),
    )
    with pytest.raises(Exception) as info:
        resolve_source(config, tmp_path)
    assert "tok3n" not in str(info.value)


@pytest.mark.odoo
def test_real_source(odoo_source: object) -> None:
    from odooplane.odoo.source import OdooSource

    assert isinstance(odoo_source, OdooSource)
    assert odoo_source.series in ("16.0", "17.0", "18.0", "19.0")
    assert (odoo_source.path / "odoo" / "addons" / "base" / "__manifest__.py").is_file()
    assert odoo_source.addons_dirs()
