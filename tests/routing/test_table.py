"""The routing table: routes written to JSON and read back unchanged, and a hand-edited
file reported with its path instead of a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from odooplane.errors import ConfigError
from odooplane.routing.table import (
    TABLE_VERSION,
    Route,
    RouteMode,
    Upstream,
    load_table,
    save_table,
)


def test_upstream_dials() -> None:
    threaded = Upstream(http_port=8069)
    assert threaded.http_dial == "127.0.0.1:8069" and threaded.gevent_dial == "127.0.0.1:8069"
    workers = Upstream(http_port=8069, gevent_port=8072, host="10.0.0.5")
    assert workers.gevent_dial == "10.0.0.5:8072"
    assert Upstream.from_dict(workers.to_dict()) == workers
    assert Upstream.from_dict({"http_port": "8069", "gevent_port": 0}) == threaded


def test_route_round_trip_and_defaults() -> None:
    route = Route(
        env="pr-12",
        listen_port=18012,
        hostnames=("pr-12.previews.example.com",),
        upstream=Upstream(8069, 8072, websocket_paths=("/websocket", "/longpolling")),
        mode=RouteMode.maintenance,
        retry_after=60,
        message="Upgrading",
        wake_command=("odooplane", "env", "start", "pr-12"),
        updated_at="2026-03-14T07:30:00+00:00",
        urls=("https://pr-12.previews.example.com",),
    )
    data = json.loads(json.dumps(route.to_dict()))
    assert data["mode"] == "maintenance"
    back = Route.from_dict(data)
    assert back == route  # urls are filled in by the router, not compared
    assert back.wakes
    bare = Route.from_dict({"env": "dev"})
    assert bare == Route(env="dev")
    assert not bare.wakes and bare.mode is RouteMode.serve and bare.retry_after == 30


def test_save_and_load(tmp_path: Path) -> None:
    path = tmp_path / "routing" / "routes.json"
    assert load_table(path) == {}
    routes = {
        "staging": Route(env="staging", listen_port=18001, upstream=Upstream(8069)),
        "dev": Route(env="dev", mode=RouteMode.waking, wake_command=("true",)),
    }
    save_table(path, routes)
    raw = json.loads(path.read_text())
    assert raw["version"] == TABLE_VERSION
    assert list(raw["routes"]) == ["dev", "staging"]
    assert load_table(path) == routes


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not valid JSON"),
        ("[]", "does not hold a routing table"),
        ('{"routes": []}', "does not hold a routing table"),
        ('{"routes": {"x": {"hostnames": []}}}', "holds a route odooplane cannot read"),
        ('{"routes": {"x": {"env": "x", "mode": "party"}}}', "holds a route odooplane cannot"),
        ('{"routes": {"x": {"env": "x", "listen_port": "eighty"}}}', "cannot read"),
    ],
)
def test_a_damaged_table_names_its_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "routes.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_table(path)
    assert str(path) in str(info.value) and message in str(info.value)
