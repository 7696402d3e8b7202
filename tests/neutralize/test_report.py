"""Reports as data, JSON and JUnit XML (what CI reads)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from odooplane.neutralize.report import (
    Check,
    NeutralizationFailed,
    NeutralizationReport,
    RuleResult,
    VerificationReport,
)


def sample() -> VerificationReport:
    return VerificationReport(
        database="acme_staging",
        environment="staging",
        checks=[
            Check("mail.catcher", "Exactly one active server", "pass", "sends to 127.0.0.1:2525"),
            Check(
                "crons.active",
                "Only the allowlist",
                "fail",
                "ir_cron #3 mail.ir_cron_mail_scheduler_action 'Mail' is active",
            ),
            Check("edi", "EDI", "skip", "no electronic invoicing module is installed"),
        ],
        seconds=0.25,
    )


def test_junit_has_one_case_per_check_and_the_failure_text() -> None:
    root = ET.fromstring(sample().to_junit().split("\n", 1)[1])
    suite = root.find("testsuite")
    assert suite is not None
    assert (
        suite.get("tests") == "3" and suite.get("failures") == "1" and suite.get("skipped") == "1"
    )
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"mail.catcher", "crons.active", "edi"}
    failure = cases["crons.active"].find("failure")
    assert failure is not None and "mail.ir_cron_mail_scheduler_action" in (failure.text or "")
    assert cases["edi"].find("skipped") is not None
    assert cases["mail.catcher"].find("failure") is None


def test_json_round_trip_and_failure_message() -> None:
    report = sample()
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False
    assert [c["id"] for c in data["checks"] if c["status"] == "fail"] == ["crons.active"]
    assert data["summary"] == "1 pass, 1 fail, 1 skip"
    error = NeutralizationFailed(report)
    assert "crons.active" in error.message and error.exit_code == 1


def test_neutralization_report_totals() -> None:
    report = NeutralizationReport(
        database="d",
        environment=None,
        rules=[RuleResult("odoo:base", "Odoo", 14), RuleResult("crons", "Crons", 0, ("note",))],
    )
    assert report.changed == 14 and report.ok
    assert report.to_dict()["rules"][1] == {
        "name": "crons",
        "title": "Crons",
        "changed": 0,
        "notes": ["note"],
    }
