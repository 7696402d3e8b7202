"""Helpers every command uses, exercised through a real click command: ``--json``
output of typed results, the -C project folder, and durations refused with a sentence."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from odooplane.cli._common import (
    COUNT,
    POSITIVE_COUNT,
    TCP_PORT,
    Seconds,
    emit,
    json_option,
    project_dir,
)
from odooplane.results import Result


@dataclass(frozen=True)
class Thing(Result):
    name: str
    path: Path
    size: int


@click.group()
@click.option("-C", "project", default=None)
@click.pass_context
def demo(ctx: click.Context, project: str | None) -> None:
    ctx.obj = {"project_dir": project}


@demo.command("show")
@click.option("--wait", type=Seconds(maximum=60), default=1.0)
@click.option("--lines", type=COUNT, default=0)
@json_option
@click.pass_context
def show(ctx: click.Context, wait: float, lines: int, as_json: bool) -> None:
    folder = project_dir(ctx)
    thing = Thing("x", folder, lines)
    emit(thing, as_json, lambda: click.echo(f"{thing.name} in {folder}, waiting {wait:g} s"))


def test_emit_prints_json_or_renders(tmp_path: Path) -> None:
    runner = CliRunner()
    as_json = runner.invoke(demo, ["-C", str(tmp_path), "show", "--lines", "3", "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output) == {"name": "x", "path": str(tmp_path), "size": 3}
    text = runner.invoke(demo, ["-C", str(tmp_path), "show", "--wait", "2.5"])
    assert text.output == f"x in {tmp_path}, waiting 2.5 s\n"


def test_project_dir_defaults_to_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(demo, ["show", "--json"])
    assert json.loads(result.output)["path"] == str(tmp_path)
    relative = CliRunner().invoke(demo, ["-C", ".", "show", "--json"])
    assert json.loads(relative.output)["path"] == str(tmp_path.resolve())


def test_json_option_has_help() -> None:
    result = CliRunner().invoke(demo, ["show", "--help"])
    assert "--json" in result.output and "Print the result as JSON" in result.output


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("soon", "'soon' is not a number of seconds."),
        ("nan", "nan is not a duration from 0 to 60 seconds."),
        ("inf", "inf is not a duration from 0 to 60 seconds."),
        ("-1", "-1 is not a duration from 0 to 60 seconds."),
        ("61", "61 is not a duration from 0 to 60 seconds."),
    ],
)
def test_bad_durations_are_usage_errors(value: str, message: str) -> None:
    result = CliRunner().invoke(demo, ["show", "--wait", value])
    assert result.exit_code == 2
    assert message in result.output


def test_seconds_converts_numbers_and_text() -> None:
    seconds = Seconds(minimum=0.5, maximum=10)
    assert seconds.convert(" 2 ", None, None) == 2.0
    assert seconds.convert(3, None, None) == 3.0
    with pytest.raises(click.BadParameter):
        seconds.convert(0.1, None, None)
    with pytest.raises(click.BadParameter):
        seconds.convert(True, None, None)  # a flag is not a number of seconds
    assert math.isclose(Seconds().maximum, 7 * 86400)


def test_count_and_port_ranges() -> None:
    result = CliRunner().invoke(demo, ["show", "--lines", "-1"])
    assert result.exit_code == 2 and "-1 is not in the range" in result.output
    assert POSITIVE_COUNT.convert("1", None, None) == 1
    with pytest.raises(click.BadParameter):
        POSITIVE_COUNT.convert("0", None, None)
    assert TCP_PORT.convert("65535", None, None) == 65535
    with pytest.raises(click.BadParameter):
        TCP_PORT.convert("0", None, None)
