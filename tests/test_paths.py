"""Where odooplane keeps things: the per-user cache, the project's state folder, the
project root found by walking up, and socket paths that fit the kernel's limit."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from odooplane.errors import UsageError
from odooplane.paths import (
    CONFIG_FILENAME,
    FORBID_ENV,
    MAX_SOCKET_PATH,
    cache_dir,
    find_project_root,
    socket_path,
    state_dir,
)


def test_cache_dir_honours_the_explicit_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ODOOPLANE_CACHE_DIR", str(tmp_path / "cache" / ".." / "c2"))
    assert cache_dir() == (tmp_path / "c2").resolve()


def test_cache_dir_refuses_the_real_cache_while_tests_forbid_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ODOOPLANE_CACHE_DIR")
    monkeypatch.setenv(FORBID_ENV, "1")
    with pytest.raises(UsageError, match="ODOOPLANE_CACHE_DIR to a temporary folder"):
        cache_dir()


def test_cache_dir_falls_back_to_xdg_then_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ODOOPLANE_CACHE_DIR")
    monkeypatch.delenv(FORBID_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == (tmp_path / "xdg" / "odooplane").resolve()
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == (tmp_path / "home" / ".cache" / "odooplane").resolve()


def test_state_dir_is_inside_the_project(tmp_path: Path) -> None:
    assert state_dir(tmp_path) == tmp_path / ".odooplane"


def test_find_project_root_walks_up_to_the_nearest_config(tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    inner = outer / "sub" / "inner"
    deep = inner / "addons" / "sale_x"
    deep.mkdir(parents=True)
    assert find_project_root(deep) is None
    (outer / CONFIG_FILENAME).write_text("project: outer\n")
    assert find_project_root(deep) == outer.resolve()
    (inner / CONFIG_FILENAME).write_text("project: inner\n")
    assert find_project_root(deep) == inner.resolve()
    assert find_project_root(inner) == inner.resolve()


def test_a_folder_named_like_the_config_is_not_a_project(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILENAME).mkdir()
    assert find_project_root(tmp_path) is None


def test_short_socket_paths_are_kept(tmp_path: Path) -> None:
    preferred = Path("/tmp/x/odoo.sock")
    assert socket_path(preferred, "odoo") == preferred


def test_long_socket_paths_get_a_stable_short_stand_in_that_binds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    preferred = deep / "catcher.sock"
    assert len(str(preferred)) > MAX_SOCKET_PATH
    chosen = socket_path(preferred, "catcher")
    assert chosen.parent == runtime
    assert chosen.name.startswith("catcher-") and chosen.suffix == ".sock"
    assert socket_path(preferred, "catcher") == chosen
    assert socket_path(deep / "other.sock", "catcher") == chosen  # per folder, not file
    other = tmp_path / ("f" * 60) / ("g" * 60) / "catcher.sock"
    assert socket_path(other, "catcher") != chosen
    # The stand-in is a real, bindable unix socket address.
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(chosen))
        assert chosen.exists()
    finally:
        server.close()
        os.unlink(chosen)
