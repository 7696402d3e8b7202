"""Shared fixtures: the real state folder is off limits; git repositories are real.

Fixtures that start services live beside this file: ``fixtures_postgres.py`` (the
embedded PostgreSQL server, started once per test session) and ``fixtures_odoo.py``
(the real-Odoo tier, skipped with a visible reason when no Odoo source is present),
``fixtures_browser.py`` (headless Chromium through the DevTools protocol).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest_plugins = [
    "fixtures_postgres",
    "fixtures_odoo",
    "fixtures_prodlike",
    "fixtures_disk",
    "fixtures_kubernetes",
    "fixtures_docker",
    "fixtures_github",
    "fixtures_browser",
]

# One cache for the whole test session, outside the user's: Python runtimes built for
# the real-Odoo tier take a minute, so every test that needs one shares it.
TEST_CACHE = Path(os.environ.get("ODOOPLANE_TEST_CACHE", "/tmp/odooplane-test-cache"))


def pytest_configure(config: pytest.Config) -> None:
    # Session and module fixtures run before the autouse fixture below: without this,
    # one building a runtime or starting a catcher would use the user's real cache.
    TEST_CACHE.mkdir(parents=True, exist_ok=True)
    os.environ["ODOOPLANE_CACHE_DIR"] = str(TEST_CACHE)
    os.environ["ODOOPLANE_FORBID_REAL_STATE"] = "1"


@pytest.fixture(autouse=True)
def _no_real_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Forbid touching the user's real cache or any project state outside tmp_path."""
    TEST_CACHE.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("ODOOPLANE_CACHE_DIR", str(TEST_CACHE))
    monkeypatch.setenv("ODOOPLANE_FORBID_REAL_STATE", "1")
    monkeypatch.delenv("ODOOPLANE_PROJECT", raising=False)
    monkeypatch.chdir(tmp_path)
    yield


def run_git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test Author",
        "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_COMMITTER_NAME": "Test Author",
        "GIT_COMMITTER_EMAIL": "author@example.com",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return result.stdout.strip()


def write_addon(
    root: Path,
    name: str,
    version: str = "1.0.0",
    depends: tuple[str, ...] = ("base",),
    extra: dict[str, str] | None = None,
) -> Path:
    """A minimal but real Odoo addon folder."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").write_text("")
    (folder / "__manifest__.py").write_text(
        "{\n"
        f"    'name': '{name}',\n"
        f"    'version': '{version}',\n"
        f"    'depends': {list(depends)!r},\n"
        "    'license': 'LGPL-3',\n"
        "    'installable': True,\n"
        "}\n"
    )
    for rel, text in (extra or {}).items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return folder


@pytest.fixture
def make_git_repo(tmp_path: Path) -> Callable[..., Path]:
    """Build a real git repository; ``files`` maps relative paths to contents."""

    def make(name: str = "repo", files: dict[str, str] | None = None) -> Path:
        repo = tmp_path / name
        repo.mkdir()
        run_git(repo, "init", "-q", "-b", "main")
        for rel, text in (files or {"README.md": "addons\n"}).items():
            target = repo / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        run_git(repo, "add", "-A")
        run_git(repo, "commit", "-q", "-m", "initial commit")
        return repo

    return make
