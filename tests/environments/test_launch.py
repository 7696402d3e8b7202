"""The helpers of launching an environment's Odoo that need no Odoo: reading what a
start added to a log, and the environment's own address (the supervised start itself:
tests/environments/test_api_odoo.py)."""

from __future__ import annotations

from pathlib import Path

from odooplane.environments.launch import log_since, log_size, public_pair
from odooplane.environments.ports import PortPair
from odooplane.environments.state import EnvState


def test_log_since_an_offset(tmp_path: Path) -> None:
    log = tmp_path / "odoo.log"
    assert log_size(log) == 0 and log_since(log, 0) == ""
    log.write_bytes(b"old start\n")
    offset = log_size(log)
    with log.open("ab") as fh:
        fh.write("new start \xe9\n".encode("latin-1"))  # not UTF-8: replaced, not raised
    assert log_since(log, offset) == "new start \ufffd\n"
    # An offset past the end (the log was rotated) reads it from the start.
    assert log_since(log, 10_000).startswith("old start")
    assert log_since(log, -5).startswith("old start")


def test_log_since_keeps_only_the_end_of_a_big_log(tmp_path: Path) -> None:
    log = tmp_path / "odoo.log"
    log.write_text("a" * 1000 + "END")
    assert log_since(log, 0, max_bytes=10) == "aaaaaaaEND"


def test_public_pair_needs_both_ports() -> None:
    state = EnvState(name="dev", kind="development", database="d")
    assert public_pair(state) is None
    state.http_port = 18069
    assert public_pair(state) is None
    state.gevent_port = 18072
    assert public_pair(state) == PortPair(18069, 18072)
