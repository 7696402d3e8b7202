"""The gates' settings: defaults, and the ``gates:`` section of odooplane.yaml."""

from __future__ import annotations

from pathlib import Path

from odooplane.config import load_config
from odooplane.gates.settings import (
    OCA_MANDATORY_CHECKS,
    GateSettings,
    settings_for,
)

BASE = """\
project: shop
odoo: {series: '17.0', source: /opt/odoo}
environments:
  production: {kind: production}
"""


def test_defaults_without_a_gates_section(tmp_path: Path) -> None:
    (tmp_path / "odooplane.yaml").write_text(BASE)
    settings = settings_for(load_config(tmp_path / "odooplane.yaml"))
    assert settings == GateSettings()
    assert settings.required == ()
    assert (settings.timeout_minutes, settings.parallel) == (30, 2)
    assert settings.security.pylint_checks == OCA_MANDATORY_CHECKS
    assert (settings.security.bandit_severity, settings.security.bandit_confidence) == (
        "high",
        "high",
    )
    assert settings.migration.max_age_hours == 24.0


def test_the_gates_section_is_read(tmp_path: Path) -> None:
    (tmp_path / "odooplane.yaml").write_text(
        BASE + "gates:\n"
        "  required: [tests, security]\n"
        "  timeout_minutes: 5\n"
        "  parallel: 1\n"
        "  security:\n"
        "    bandit_severity: medium\n"
        "    pylint_checks: [print-used]\n"
        "    audit: false\n"
        "    require_audit: true\n"
        "    baseline: ci/baseline.yaml\n"
        "  migration: {max_age_hours: 2.5, fail_on_warnings: true}\n"
    )
    settings = settings_for(load_config(tmp_path / "odooplane.yaml"))
    assert settings.required == ("tests", "security")
    assert (settings.timeout_minutes, settings.parallel) == (5, 1)
    sec = settings.security
    assert sec.bandit_severity == "medium" and sec.bandit_confidence == "high"
    assert sec.pylint_checks == ("print-used",)
    assert (sec.audit, sec.require_audit, sec.baseline) == (False, True, "ci/baseline.yaml")
    assert settings.migration.max_age_hours == 2.5
    assert settings.migration.fail_on_warnings is True
    data = settings.to_dict()
    assert data["security"]["pylint_checks"] == ("print-used",)
    assert data["migration"] == {"max_age_hours": 2.5, "fail_on_warnings": True}


def test_the_oca_checks_are_unique_and_leave_out_publishing_rules() -> None:
    assert len(set(OCA_MANDATORY_CHECKS)) == len(OCA_MANDATORY_CHECKS)
    assert "sql-injection" in OCA_MANDATORY_CHECKS
    assert "manifest-required-author" not in OCA_MANDATORY_CHECKS
    assert "missing-readme" not in OCA_MANDATORY_CHECKS
