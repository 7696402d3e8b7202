"""What every gate is handed: a context whose programs run to the deadline and no
further, whose log gets their output, and whose work folder is cleaned up."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from odooplane.config import ProjectConfig
from odooplane.environments.builds import Build
from odooplane.gates.base import GateContext, GateTimeout
from odooplane.gates.model import ChangedAddons
from odooplane.gates.settings import GateSettings
from odooplane.progress import ProgressEvent
from odooplane.project import Project


class Log:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def line(self, text: str = "") -> None:
        self.text += text + "\n"


def _context(tmp_path: Path, seconds: float, events: list[ProgressEvent]) -> GateContext:
    config = ProjectConfig(
        project="shop",
        odoo={"series": "17.0", "source": "/x"},
        environments={"staging": {"kind": "staging"}},
    )
    build = Build(
        sha="a" * 40,
        ref="main",
        branch="main",
        subject="s",
        message="s",
        author_name="A",
        author_email="a@example.com",
        committed_at="2026-01-01T00:00:00+00:00",
        authored_at="2026-01-01T00:00:00+00:00",
        odoo_series="17.0",
        odoo_revision="r",
        odoo_path="/x",
        deps_hash="d",
        runtime_path=sys.prefix,
        python=sys.executable,
        code_dir=str(tmp_path),
        project_subdir="",
    )
    work = tmp_path / "work"
    work.mkdir()
    return GateContext(
        project=Project(root=tmp_path, config=config),
        build=build,
        changes=ChangedAddons(base=None, ref="a" * 40, changed=[], dependents=[]),
        settings=GateSettings(timeout_minutes=7),
        environment="staging",
        log=Log(),
        deadline=time.monotonic() + seconds,
        work_dir=work,
        progress=events.append,
    )


def test_run_logs_the_output_and_returns_it(tmp_path: Path) -> None:
    events: list[ProgressEvent] = []
    ctx = _context(tmp_path, 60, events)
    result = ctx.run(
        [sys.executable, "-c", "import os; print('hello', os.getcwd()); raise SystemExit(3)"],
        env=dict(os.environ),
        log_name="hello.log",
    )
    assert result.code == 3 and not result.timed_out
    assert f"hello {ctx.work_dir}" in result.output
    assert "hello" in (ctx.work_dir / "hello.log").read_text()
    assert isinstance(ctx.log, Log) and "hello" in ctx.log.text
    assert 0 < ctx.remaining() <= 60


def test_say_goes_to_the_log_and_the_progress(tmp_path: Path) -> None:
    events: list[ProgressEvent] = []
    ctx = _context(tmp_path, 60, events)
    ctx.say("bandit on 3 addons")
    assert isinstance(ctx.log, Log) and ctx.log.text == "bandit on 3 addons\n"
    assert [e.phase for e in events] == ["bandit on 3 addons"]


def test_a_program_past_the_deadline_is_stopped_with_a_sentence(tmp_path: Path) -> None:
    ctx = _context(tmp_path, 1.0, [])
    started = time.monotonic()
    with pytest.raises(GateTimeout) as info:
        ctx.run(
            [sys.executable, "-c", "import time; time.sleep(60)"],
            env=dict(os.environ),
            log_name="slow.log",
        )
    assert time.monotonic() - started < 30
    name = Path(sys.executable).name
    assert str(info.value) == (
        f"`{name}` was stopped: the gate ran out of time (gates.timeout_minutes is 7)."
    )


def test_no_time_left_refuses_to_start(tmp_path: Path) -> None:
    ctx = _context(tmp_path, -1, [])
    with pytest.raises(GateTimeout, match=r"ran out of time \(gates.timeout_minutes is 7\)"):
        ctx.remaining()
    with pytest.raises(GateTimeout):
        ctx.run(["true"], env=dict(os.environ), log_name="x.log")
    assert not (ctx.work_dir / "x.log").exists()


def test_cleanup_removes_the_work_folder(tmp_path: Path) -> None:
    ctx = _context(tmp_path, 60, [])
    (ctx.work_dir / "sub").mkdir()
    (ctx.work_dir / "sub" / "f").write_text("x")
    ctx.cleanup()
    assert not ctx.work_dir.exists()
    ctx.cleanup()  # twice is fine
