"""Low-level port helpers, on real sockets: freedom, who listens, ranges, free picks."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from odooplane import ports
from odooplane.errors import ConfigError, RefusedError

VARIABLE = "ODOOPLANE_TEST_PORT_RANGE"


def test_a_listener_makes_a_port_busy_and_is_named() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert not ports.is_port_free(port)
        assert ports.port_user(port).startswith(f"pid {os.getpid()}")
        with pytest.raises(RefusedError, match=f"Port {port} \\(HTTP\\) is already in use by pid"):
            ports.ensure_port_free(port, "HTTP")
    assert ports.is_port_free(port)
    ports.ensure_port_free(port, "HTTP")


def test_free_ports_are_bindable() -> None:
    for port in (ports.free_port(), ports.free_port_below_ephemeral()):
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
    low_ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    if low_ephemeral > 20000:
        assert 20000 <= ports.free_port_below_ephemeral() < low_ephemeral


def test_port_range_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    assert ports.port_range(VARIABLE, (9000, 9100)) == (9000, 9100)
    monkeypatch.setenv(VARIABLE, "20000-20010")
    assert ports.port_range(VARIABLE, (9000, 9100)) == (20000, 20010)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("20000", "is not a port range such as 9000-9100"),
        ("a-b", "is not a port range such as 9000-9100"),
        ("80-90", "must lie within 1024-65535"),
        ("30000-20000", "low before high"),
    ],
)
def test_bad_port_ranges_are_sentences(
    monkeypatch: pytest.MonkeyPatch, raw: str, message: str
) -> None:
    monkeypatch.setenv(VARIABLE, raw)
    with pytest.raises(ConfigError, match=message):
        ports.port_range(VARIABLE, (9000, 9100))
