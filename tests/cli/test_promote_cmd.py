"""`odooplane promote`, `rollback`, `gate` and `backup`: refusals are sentences with the
right exit codes (the full paths run with a real Odoo in tests/promotion and tests/gates)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_run import run


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "odooplane.yaml").write_text(
        "project: acme\n"
        "odoo:\n"
        "  series: '17.0'\n"
        "  source: /opt/odoo-src/17.0\n"
        "environments:\n"
        "  production:\n"
        "    kind: production\n"
        "  staging:\n"
        "    kind: staging\n"
        "gates:\n"
        "  required: [tests, security]\n"
    )
    return root


def test_promote_refuses_when_staging_runs_nothing(
    project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capfd, "-C", str(project), "promote", "--approved-by", "bob")
    assert code == 1
    assert "'staging' runs no build yet" in err


def test_promote_without_a_terminal_needs_approved_by(
    project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capfd, "-C", str(project), "promote")
    assert code == 1 and "--approved-by" in err


def test_promote_unknown_environment_is_usage(
    project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capfd, "-C", str(project), "promote", "--to", "prod", "--approved-by", "x")
    assert code != 0 and "prod" in err


def test_rollback_of_an_environment_never_created(
    project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capfd, "-C", str(project), "rollback", "production", "--dry-run")
    assert code == 1 and "has not been created yet" in err


def test_gate_run_unknown_gate_is_usage(project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capfd, "-C", str(project), "gate", "run", "lint")
    assert code == 2 and "Unknown gate 'lint'" in err and "tests, security" in err


def test_config_refuses_an_unknown_required_gate(
    project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    config = project / "odooplane.yaml"
    config.write_text(config.read_text().replace("[tests, security]", "[tests, lint]"))
    code, _, err = run(capfd, "-C", str(project), "config", "check")
    assert code == 2 and "gates.required" in err
