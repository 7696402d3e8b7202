"""The CLI draws the library's progress events: bars, timed lines, warnings."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console
from rich.progress import Progress

from odooplane.cli.progress import ProgressBar, ProgressLines, StepsView
from odooplane.environments.steps import StepTiming
from odooplane.progress import ProgressEvent, report, warn


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, color_system=None, width=120), out


def test_bar_has_a_task_per_phase_and_keeps_warnings() -> None:
    console, out = _console()
    with ProgressBar("Importing dump.zip", transient=False, console=console) as bar:
        report(bar, "restoring", 1, 4)
        report(bar, "restoring", 4, 4)
        warn(bar, "python-ldap was not installed")
        report(bar, "extracting filestore", 2, 2)
        assert [t.description for t in bar._bar.tasks] == [  # type: ignore[union-attr]
            "Importing dump.zip: restoring",
            "Importing dump.zip: extracting filestore",
        ]
    text = out.getvalue()
    assert "warning: python-ldap was not installed" in text
    assert "Importing dump.zip: extracting filestore" in text


def test_bar_inside_a_live_display_of_the_caller_then_restarted() -> None:
    """Inside the caller's own live display the bar draws nested (rich 14+) or not at
    all (older rich refuses a second live display): either way warnings get through and
    the bar starts again after stop()."""
    console, out = _console()
    bar = ProgressBar(console=console)
    with Progress(console=console) as outer:
        outer.add_task("the caller's own step")
        report(bar, "Installing packages", 1, 3)
        warn(bar, "still said")
    bar.stop()
    assert bar._bar is None
    report(bar, "Runtime ready", 1, 1)
    assert bar._bar is not None
    bar.stop()
    assert "still said" in out.getvalue()


def test_lines_print_each_new_phase_once() -> None:
    console, out = _console()
    lines = ProgressLines(console=console)
    for event in (
        ProgressEvent("building main..."),
        ProgressEvent("Installing packages", 1, 9),
        ProgressEvent("Installing packages", 9, 9),
        ProgressEvent("", warning="slow disk"),
        ProgressEvent("stop..."),
    ):
        lines(event)
    text = out.getvalue()
    assert text.count("Installing packages") == 1
    assert "building main..." in text and "stop..." in text and "slow disk" in text


def test_steps_view_draws_the_steps_then_their_times() -> None:
    console, out = _console()
    steps = [
        StepTiming("postgres", 0.4, "succeeded"),
        StepTiming("database", 1.25, "succeeded", "cloned"),
    ]
    with StepsView(False, console=console) as view:
        report(view, "postgres")
        report(view, "database")
        report(view, "installing base", 1, 3)  # a phase inside the step
        warn(view, "slow disk")
        view.finish(steps)
    text = out.getvalue()
    assert "warning: slow disk" in text
    assert "✓ postgres (0.4 s)" in text and "✓ database (1.2 s) — cloned" in text


def test_steps_view_as_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    with StepsView(True) as view:
        report(view, "postgres")
        report(view, "a detail")  # not a step: no line
        view.finish([StepTiming("postgres", 0.5, "succeeded")])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines == [
        {"event": "step", "step": "postgres", "state": "start"},
        {"event": "step", "step": "postgres", "state": "done", "seconds": 0.5, "detail": ""},
    ]
    with StepsView(True, quiet=True) as quiet:
        report(quiet, "postgres")
        quiet.finish([StepTiming("postgres", 0.5, "succeeded")])
    assert capsys.readouterr().out == ""
