"""What every lifecycle verb shares: the part of an Odoo log that explains a failure,
timed steps recorded as evidence, the checks that stop a verb early with a sentence, and
the history entry a verb leaves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from odooplane.environments.context import EnvContext
from odooplane.environments.state import EnvState
from odooplane.environments.steps import (
    Outcome,
    RecordedRun,
    StepTiming,
    allocate_ports,
    explain,
    history_entry,
    mail_catcher,
    open_evidence,
    require_database,
    require_state,
)
from odooplane.errors import NotFoundError
from odooplane.postgres.server import DatabaseServer
from odooplane.progress import ProgressEvent
from odooplane.project import Project

from .conftest import rules_project


def test_explain_starts_at_the_last_traceback() -> None:
    log = "\n".join(
        [f"INFO line {i}" for i in range(50)]
        + ["WARNING x", "Traceback (most recent call last):", '  File "a.py"', "KeyError: 1"]
        + ["INFO after"]
        + ["Traceback (most recent call last):", '  File "b.py"', "ValueError: boom"]
    )
    text = explain(log)
    assert text.splitlines()[0] == "KeyError: 1"  # two lines of context before it
    assert text.splitlines()[2] == "Traceback (most recent call last):"
    assert text.endswith("ValueError: boom")


def test_explain_falls_back_to_the_first_error_then_the_end() -> None:
    log = "\n".join(["INFO a", "ERROR db: cannot connect", "INFO b", "CRITICAL stop"])
    assert explain(log) == "ERROR db: cannot connect\nINFO b\nCRITICAL stop"
    quiet = "\n".join(f"INFO {i}" for i in range(100))
    assert explain(quiet, lines=3) == "INFO 97\nINFO 98\nINFO 99"
    assert explain("") == ""


def test_require_state_and_database(project: Project, pg_server: DatabaseServer) -> None:
    ctx = EnvContext(project, "staging")
    with pytest.raises(NotFoundError) as info:
        require_state(ctx)
    assert info.value.message == "Environment 'staging' has not been created yet."
    assert info.value.hint == "Create it with `odooplane env create staging`."
    ctx.store.save(EnvState(name="staging", kind="staging", database=ctx.database))
    assert require_state(ctx).database == ctx.database
    with pytest.raises(NotFoundError) as missing:
        require_database(ctx, pg_server)
    assert f"The database '{ctx.database}' of environment 'staging' does not exist" in str(
        missing.value
    )
    assert "odooplane env destroy staging --force" in str(missing.value)


def test_ports_come_from_odoo_options_or_stay_as_they_were(
    make_git_repo: Callable[..., Path], pg_server: DatabaseServer, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("ODOOPLANE_CACHE_DIR", str(tmp_path / "cache"))
    repo = make_git_repo("ports")
    project = rules_project(
        repo,
        pg_server,
        "  dev:\n    kind: development\n    odoo_options: {http_port: 18555, gevent_port: 18556}\n",
    )
    project.state_dir.mkdir()
    dev = EnvContext(project, "dev")
    state = EnvState(name="dev", kind="development", database=dev.database)
    pair = allocate_ports(dev, state)
    assert (pair.http, pair.gevent) == (18555, 18556)
    assert (state.http_port, state.gevent_port) == (18555, 18556)
    staging = EnvContext(project, "staging")
    st = EnvState(name="staging", kind="staging", database=staging.database)
    first = allocate_ports(staging, st)
    assert first.http not in (18555, 18556)
    assert allocate_ports(staging, st) == first  # kept for the environment's whole life


def test_only_neutralized_environments_mail_the_catcher(project: Project) -> None:
    assert mail_catcher(EnvContext(project, "production")) is None


def test_recorded_run_times_steps_into_the_evidence(project: Project) -> None:
    events: list[ProgressEvent] = []
    journal: list[str] = []
    with open_evidence(project) as store:
        with store.start_deployment("staging", git_sha="a" * 40) as deployment:
            run = RecordedRun(deployment, events.append, journal=journal.append)
            with run.step("export code") as step:
                step.line("exported")
            with pytest.raises(RuntimeError), run.step("update modules"):
                raise RuntimeError("boom")
        detail = store.deployment(deployment.id)
    assert [(s.name, s.status) for s in run.steps] == [
        ("export code", "succeeded"),
        ("update modules", "failed"),
    ]
    assert all(s.seconds >= 0 for s in run.steps)
    assert journal == ["export code", "update modules"]
    assert [e.phase for e in events] == ["export code...", "update modules..."]
    assert [(s.name, s.status) for s in detail.steps] == [
        ("export code", "succeeded"),
        ("update modules", "failed"),
    ]


def test_history_entry_of_an_outcome() -> None:
    outcome = Outcome(
        environment="staging",
        action="deploy",
        status="failed",
        build={"sha": "b" * 40},
        deployment_id="d1",
        steps=[StepTiming("update modules", 12.5, "failed", "exit 1")],
        error="Odoo failed",
        seconds=13.0,
    )
    entry = history_entry("deploy", outcome)
    assert entry["build"] == "b" * 40 and entry["status"] == "failed"
    assert entry["steps"] == [
        {"name": "update modules", "seconds": 12.5, "status": "failed", "detail": "exit 1"}
    ]
    assert entry["error"] == "Odoo failed" and entry["at"]
    data = outcome.to_dict()
    assert data["steps"][0]["name"] == "update modules" and data["warnings"] == []
    assert history_entry("start", Outcome("dev", "start", "ok", None))["build"] is None
