"""The backend interface: what a status says, and that an implementation is complete."""

from __future__ import annotations

from pathlib import Path

import pytest

from odooplane.backends.base import RUNNING_STATES, ProcessBackend, ProcessStatus, ProgramSpec


def test_running_states_and_json() -> None:
    for state in RUNNING_STATES:
        assert ProcessStatus("web", state, 12, 1.0, None, "").running
    for state in ("STOPPED", "EXITED", "FATAL", "ABSENT", "NOT_RUNNING", "NOT_LOADED"):
        assert not ProcessStatus("web", state, None, None, None, "").running
    status = ProcessStatus("web", "RUNNING", 12, 1.5, None, "pid 12", {"spawnerr": ""})
    assert status.to_dict() == {
        "name": "web",
        "state": "RUNNING",
        "pid": 12,
        "since": 1.5,
        "exit_status": None,
        "description": "pid 12",
        "details": {"spawnerr": ""},
    }


def test_an_incomplete_backend_cannot_be_made() -> None:
    class HalfDone(ProcessBackend):
        kind = "half"

        def define(self, spec: ProgramSpec) -> None:
            del spec

    with pytest.raises(TypeError, match="abstract"):
        HalfDone()  # type: ignore[abstract]
    spec = ProgramSpec("web", ["odoo-bin"], Path("/srv"), {}, Path("/srv/odoo.log"))
    assert (spec.start_seconds, spec.stop_wait_seconds) == (3, 30)


def test_program_names_say_environment_and_slot() -> None:
    from odooplane.backends.base import split_program
    from odooplane.environments.slots import program_name

    assert split_program(program_name("production", "green")) == ("production", "green")
    assert split_program("pr-12-shop") == ("pr-12-shop", None)
