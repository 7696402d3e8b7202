"""Blue/green slots: two programs per environment with internal ports of their own,
allocated once and kept, and the names the backend knows them by."""

from __future__ import annotations

from pathlib import Path

import pytest

from odooplane.environments.context import EnvContext
from odooplane.environments.ports import PortPair
from odooplane.environments.slots import (
    FIRST,
    SLOTS,
    conf_path,
    log_path,
    other,
    program_name,
    programs,
    serving,
    slot,
)
from odooplane.environments.state import EnvState
from odooplane.project import Project


@pytest.fixture(autouse=True)
def _own_port_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Ports are kept per project in the cache's registry: keep these out of the shared one.
    monkeypatch.setenv("ODOOPLANE_CACHE_DIR", str(tmp_path / "cache"))


def test_names_and_the_other_slot() -> None:
    assert SLOTS == ("blue", "green") and FIRST == "blue"
    assert other(None) == "blue"
    assert other("blue") == "green" and other("green") == "blue"
    assert program_name("staging", "green") == "staging.green"
    assert programs("staging") == ["staging.blue", "staging.green", "staging"]


def test_slots_get_their_own_ports_once_and_for_good(project: Project) -> None:
    # The registry gives back ports of projects whose state folder is gone.
    project.state_dir.mkdir()
    ctx = EnvContext(project, "staging")
    state = EnvState(name="staging", kind="staging", database=ctx.database)
    assert serving(ctx, state) is None
    blue = slot(ctx, state, "blue")
    green = slot(ctx, state, "green")
    ports = {blue.http, blue.gevent, green.http, green.gevent}
    assert len(ports) == 4
    assert state.slots == {
        "blue": {"http": blue.http, "gevent": blue.gevent},
        "green": {"http": green.http, "gevent": green.gevent},
    }
    assert blue.program == "staging.blue"
    assert blue.pair == PortPair(blue.http, blue.gevent)
    assert blue.local_url == f"http://127.0.0.1:{blue.http}"
    # Asked again (another command, a fresh state): the same ports.
    again = slot(ctx, EnvState(name="staging", kind="staging", database="x"), "blue")
    assert again == blue
    state.slot = "green"
    assert serving(ctx, state) == green
    # Another environment of the project never gets the same ports.
    prod = slot(
        EnvContext(project, "production"), EnvState("production", "production", "p"), "blue"
    )
    assert not {prod.http, prod.gevent} & ports


def test_each_slot_has_its_own_conf_and_log(project: Project) -> None:
    ctx = EnvContext(project, "staging")
    assert conf_path(ctx, "green") == ctx.dir / "odoo-green.conf"
    assert log_path(ctx, "blue") == ctx.dir / "odoo-blue.log"
    assert conf_path(ctx, "blue") != ctx.conf_path
