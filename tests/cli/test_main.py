"""The command line's frame: lazy command table, exit codes, crash logs."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import click
import pytest

from odooplane.cli import LAZY_COMMANDS, cli, main
from odooplane.errors import (
    EXIT_UNEXPECTED,
    CheckFailedError,
    ConfigError,
    OdooplaneError,
    RefusedError,
)


def test_lazy_table_names_every_registered_command() -> None:
    for module in {m for m, _ in LAZY_COMMANDS.values()}:
        importlib.import_module(f"odooplane.cli.{module}")
    assert set(cli.commands) == set(LAZY_COMMANDS)
    for name, (module, _help) in LAZY_COMMANDS.items():
        assert cli.commands[name].callback is not None
        assert cli.commands[name].callback.__module__ == f"odooplane.cli.{module}"


def _walk(command: click.Command, path: str) -> list[tuple[str, click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, f"{path} {name} does not load"
            found.extend(_walk(sub, f"{path} {name}"))
    return found


def test_every_command_has_help() -> None:
    for path, command in _walk(cli, "odooplane"):
        assert (command.help or "").strip(), f"`{path}` has no --help text"


def test_help_is_fast_to_reach_and_lists_everything() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "odooplane", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    for name in LAZY_COMMANDS:
        assert f"  {name} " in result.stdout


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConfigError("odooplane.yaml:3:1: bad [main, 'x']"), 2),
        (RefusedError("refused"), 1),
        (CheckFailedError("failed"), 1),
        (OdooplaneError("plain"), 1),
    ],
)
def test_library_errors_become_exit_codes(
    error: OdooplaneError, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    @cli.command("boom-test", hidden=True)
    def boom() -> None:
        raise error

    try:
        with pytest.raises(SystemExit) as exit_info:
            main(["boom-test"])
    finally:
        cli.commands.pop("boom-test")
    assert exit_info.value.code == code
    err = capsys.readouterr().err
    # Brackets in user text are kept: messages are not read as markup.
    assert error.message in err
    assert "Traceback" not in err


def test_unexpected_error_leaves_a_crash_log(capsys: pytest.CaptureFixture[str]) -> None:
    @cli.command("crash-test", hidden=True)
    def crash() -> None:
        raise ZeroDivisionError("surprise")

    try:
        with pytest.raises(SystemExit) as exit_info:
            main(["crash-test"])
    finally:
        cli.commands.pop("crash-test")
    assert exit_info.value.code == EXIT_UNEXPECTED
    err = capsys.readouterr().err
    assert "ZeroDivisionError: surprise" in err
    log = Path(err.split("traceback is in ")[1].split(";")[0])
    assert "Traceback" in log.read_text()
    assert "Traceback" not in err


def test_ctx_exit_code_is_kept() -> None:
    @cli.command("exit-test", hidden=True)
    @click.pass_context
    def exit_test(ctx: click.Context) -> None:
        ctx.exit(1)

    try:
        with pytest.raises(SystemExit) as exit_info:
            main(["exit-test"])
    finally:
        cli.commands.pop("exit-test")
    assert exit_info.value.code == 1


def test_unknown_command_is_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "odooplane", "deploi"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
