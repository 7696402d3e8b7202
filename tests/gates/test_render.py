"""JUnit and Markdown of a gates report."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from odooplane.gates import render
from odooplane.gates.model import Case, ChangedAddons, GateResult, GatesReport


def _report() -> GatesReport:
    return GatesReport(
        project="acme",
        git_sha="a" * 40,
        build_id=None,
        environment="staging",
        changes=ChangedAddons(base="b" * 40, ref="a" * 40, changed=["sale_x"], dependents=["y"]),
        results=[
            GateResult(
                gate="tests",
                title="Tests",
                status="failed",
                summary="1 of 2 failed",
                seconds=12.5,
                cases=[
                    Case("sale_x.TestX", "test_ok", "passed", 0.2),
                    Case(
                        "sale_x.TestX",
                        "test_bad",
                        "failed",
                        0.1,
                        "AssertionError: no",
                        "Traceback ...\nAssertionError: no",
                    ),
                ],
                record_id="12345678-aaaa",
            ),
            GateResult(
                gate="migration",
                title="Migration",
                status="skipped",
                summary="no production environment is configured",
                seconds=0.0,
            ),
        ],
        seconds=13.0,
    )


def test_junit_one_suite_per_gate_and_a_case_for_a_gate_without_cases() -> None:
    root = ET.fromstring(render.junit(_report()))
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"tests", "migration"}
    tests = suites["tests"]
    assert (tests.get("tests"), tests.get("failures")) == ("2", "1")
    bad = next(c for c in tests.iter("testcase") if c.get("name") == "test_bad")
    failure = bad.find("failure")
    assert failure is not None and bad.get("classname") == "sale_x.TestX"
    assert "Traceback" in (failure.text or "")
    skipped = next(suites["migration"].iter("testcase")).find("skipped")
    assert skipped is not None and "no production" in (skipped.get("message") or "")


def test_markdown_summary_names_changes_gates_and_failures() -> None:
    text = render.markdown(_report(), link=lambda r: f"https://ci/{r.gate}")
    assert "odooplane gates: failed" in text
    assert "`sale_x`" in text and "`y`" in text
    assert "| Tests | ❌ failed |" in text
    assert "[12345678](https://ci/tests)" in text
    assert "sale_x.TestX.test_bad" in text and "<details>" in text
    assert _report().ok is False and _report().status == "failed"
