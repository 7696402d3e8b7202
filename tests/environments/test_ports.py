"""Port allocation: stable, collision-free, verified by binding real sockets."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from odooplane.environments import ports
from odooplane.errors import RefusedError
from odooplane.ports import ensure_port_free, is_port_free


@pytest.fixture
def isolated_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, int]]:
    cache = tmp_path / "cache"
    monkeypatch.setenv("ODOOPLANE_CACHE_DIR", str(cache))
    # A range of ports that are free right now, away from Odoo's defaults.
    low = _free_block(12)
    monkeypatch.setenv(ports.RANGE_ENV, f"{low}-{low + 11}")
    yield low, low + 11


def _free_block(size: int) -> int:
    for low in range(30100, 60000, 50):
        if all(is_port_free(p) for p in range(low, low + size)):
            return low
    raise RuntimeError("no free block of ports")


def _project(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    (root / ".odooplane").mkdir(parents=True)
    return root


def test_allocation_is_stable_and_distinct(
    tmp_path: Path, isolated_registry: tuple[int, int]
) -> None:
    low, _ = isolated_registry
    proj = _project(tmp_path, "p1")
    prod = ports.allocate(proj, "production")
    assert prod == ports.PortPair(low, low + 1)
    staging = ports.allocate(proj, "staging")
    assert {staging.http, staging.gevent}.isdisjoint({prod.http, prod.gevent})
    assert ports.allocate(proj, "production") == prod
    other = ports.allocate(_project(tmp_path, "p2"), "production")
    assert {other.http, other.gevent}.isdisjoint(
        {prod.http, prod.gevent, staging.http, staging.gevent}
    )
    ports.release(proj, "production")
    again = ports.allocate(_project(tmp_path, "p3"), "dev")
    assert again == prod


def test_listening_ports_are_skipped(tmp_path: Path, isolated_registry: tuple[int, int]) -> None:
    low, _ = isolated_registry
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", low))
        busy.listen()
        assert not is_port_free(low)
        pair = ports.allocate(_project(tmp_path, "p"), "dev")
        assert low not in (pair.http, pair.gevent)
        with pytest.raises(RefusedError, match=f"Port {low} .* already in use by pid"):
            ensure_port_free(low, "HTTP of environment 'dev'")
    assert is_port_free(low)


def test_explicit_port_taken_by_another_environment(
    tmp_path: Path, isolated_registry: tuple[int, int]
) -> None:
    proj = _project(tmp_path, "p")
    prod = ports.allocate(proj, "production")
    with pytest.raises(RefusedError, match="already allocated to"):
        ports.allocate(proj, "staging", http=prod.http)


def test_range_exhausted(
    tmp_path: Path, isolated_registry: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    low, _ = isolated_registry
    monkeypatch.setenv(ports.RANGE_ENV, f"{low}-{low + 2}")
    proj = _project(tmp_path, "p")
    ports.allocate(proj, "a")
    with pytest.raises(RefusedError, match="No free port left"):
        ports.allocate(proj, "b")


def test_stale_projects_give_ports_back(tmp_path: Path, isolated_registry: tuple[int, int]) -> None:
    import shutil

    gone = _project(tmp_path, "gone")
    first = ports.allocate(gone, "production")
    shutil.rmtree(gone)
    assert ports.allocate(_project(tmp_path, "new"), "production") == first


def test_internal_ports_of_slots_are_kept_with_the_environment(
    tmp_path: Path, isolated_registry: tuple[int, int]
) -> None:
    root = _project(tmp_path, "slots")
    public = ports.allocate(root, "production")
    blue = ports.allocate_internal(root, "production", ("blue_http", "blue_gevent"))
    green = ports.allocate_internal(root, "production", ("green_http", "green_gevent"))
    every = [public.http, public.gevent, *blue.values(), *green.values()]
    assert len(set(every)) == 6
    # Asked again (the public pair too), every port stays where it was.
    assert ports.allocate(root, "production") == public
    assert ports.allocate_internal(root, "production", ("blue_http", "blue_gevent")) == blue
    other = ports.allocate(_project(tmp_path, "other"), "production")
    assert not {other.http, other.gevent} & set(every)
    ports.release(root, "production")
    again = ports.allocate_internal(root, "production", ("blue_http",))
    assert again["blue_http"] in range(isolated_registry[0], isolated_registry[1] + 1)
