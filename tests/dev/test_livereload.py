"""The server-sent events channel, with a real HTTP client."""

from __future__ import annotations

import json
import urllib.request

from odooplane.dev.livereload import EventStreamClient, LiveReloadServer


def test_events_reach_every_connected_client() -> None:
    server = LiveReloadServer().start()
    try:
        first = EventStreamClient(server.url, timeout=10)
        second = EventStreamClient(server.url, timeout=10)
        assert server.client_count == 2
        assert server.publish("css", {"why": "a.scss"}) == 2
        assert server.publish("reload") == 2
        for client in (first, second):
            event = client.wait_for(lambda name, _d: name == "reload", 5)
            assert event is not None
            assert [name for name, _ in client.events] == ["css", "reload"]
            assert client.events[0][1]["why"] == "a.scss"
            assert client.events[1][1]["seq"] == client.events[0][1]["seq"] + 1
        first.close()
        second.close()
    finally:
        server.stop()


def test_stream_allows_cross_origin_and_status_counts_clients() -> None:
    server = LiveReloadServer().start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/status", timeout=5) as resp:
            assert json.loads(resp.read()) == {"clients": 0}
            assert resp.headers["Access-Control-Allow-Origin"] == "*"
        client = EventStreamClient(server.url, timeout=10)
        resp = client._response
        assert resp.headers["Content-Type"] == "text/event-stream"
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        client.close()
    finally:
        server.stop()
