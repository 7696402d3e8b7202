"""`odooplane dev` command line: help, and refusals that need no Odoo."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from odooplane.cli import LAZY_COMMANDS, cli, main


def test_dev_is_listed_and_has_help() -> None:
    assert "dev" in LAZY_COMMANDS
    result = CliRunner().invoke(cli, ["dev", "--help"])
    assert result.exit_code == 0
    for option in ("--auto-upgrade", "--port", "--no-livereload", "--json"):
        assert option in result.output
    assert "syntax error keeps the last good code" in " ".join(result.output.split())


def write_config(root: Path, environments: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "odooplane.yaml").write_text(
        "project: devcli\n"
        "odoo:\n"
        "  series: '17.0'\n"
        "  source: /nonexistent/odoo\n"
        "environments:\n" + environments
    )


def test_unknown_environment_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_config(tmp_path / "p", "  dev:\n    kind: development\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["-C", str(tmp_path / "p"), "dev", "nosuch"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "no environment named 'nosuch'" in err and "dev" in err


def test_production_environment_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_config(
        tmp_path / "p",
        "  dev:\n    kind: development\n  prod:\n    kind: production\n",
    )
    with pytest.raises(SystemExit) as exit_info:
        main(["-C", str(tmp_path / "p"), "dev", "prod"])
    assert exit_info.value.code == 1
    assert "production environment" in capsys.readouterr().err
