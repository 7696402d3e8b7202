"""What gates return: counts per status, the report's overall verdict, and the JSON
``gate run --json`` writes read back unchanged."""

from __future__ import annotations

import json

from odooplane.gates.model import (
    GATE_STATUSES,
    Case,
    ChangedAddons,
    GateResult,
    GatesReport,
)


def _result(gate: str, status: str, cases: list[Case] | None = None) -> GateResult:
    return GateResult(
        gate=gate,
        title=gate.title(),
        status=status,  # type: ignore[arg-type]
        summary=f"{gate} {status}",
        seconds=1.5,
        cases=cases or [],
    )


def _report(*results: GateResult) -> GatesReport:
    return GatesReport(
        project="shop",
        git_sha="a" * 40,
        build_id="b-1",
        environment="staging",
        changes=ChangedAddons(
            base="c" * 40,
            ref="a" * 40,
            changed=["sale_x", "stock_y"],
            dependents=["sale_x", "mrp_z"],
            files={"sale_x": ["models.py"]},
            other_files=["requirements.txt"],
        ),
        results=list(results),
        seconds=3.14159,
    )


def test_counts_and_case_dicts() -> None:
    result = _result(
        "tests",
        "failed",
        [
            Case("a", "1"),
            Case("a", "2", "failed", message="boom"),
            Case("b", "3", "skipped"),
            Case("b", "4", "failed"),
        ],
    )
    assert result.counts == {"passed": 1, "failed": 2, "error": 0, "skipped": 1}
    data = result.to_dict()
    assert data["counts"] == result.counts
    assert data["cases"][1] == {
        "classname": "a",
        "name": "2",
        "status": "failed",
        "seconds": 0.0,
        "message": "boom",
        "details": None,
    }


def test_selected_is_changed_and_dependents_once_each_sorted() -> None:
    changes = _report().changes
    assert changes.selected == ["mrp_z", "sale_x", "stock_y"]
    assert changes.to_dict()["selected"] == changes.selected


def test_report_status_error_beats_failed_beats_passed() -> None:
    assert _report().status == "passed" and _report().ok
    assert _report(_result("a", "skipped"), _result("b", "skipped")).status == "skipped"
    mixed = _report(_result("a", "passed"), _result("b", "skipped"))
    assert mixed.status == "passed" and mixed.ok
    failed = _report(_result("a", "passed"), _result("b", "failed"))
    assert failed.status == "failed" and not failed.ok
    errored = _report(_result("a", "failed"), _result("b", "error"))
    assert errored.status == "error" and not errored.ok
    assert set(GATE_STATUSES) == {"passed", "failed", "skipped", "error"}


def test_result_by_gate_name() -> None:
    report = _report(_result("tests", "passed"), _result("security", "failed"))
    found = report.result("security")
    assert found is not None and found.status == "failed"
    assert report.result("migration") is None


def test_json_round_trip_gives_the_same_report() -> None:
    report = _report(
        _result("tests", "failed", [Case("sale_x.tests", "test_a", "failed", 0.2, "x", "tb")]),
        _result("security", "passed"),
    )
    data = json.loads(json.dumps(report.to_dict()))
    assert data["status"] == "failed" and data["ok"] is False
    assert data["seconds"] == 3.14
    back = GatesReport.from_dict(data)
    assert back.results == report.results
    assert back.changes == report.changes
    assert back.to_dict() == data


def test_from_dict_tolerates_a_sparse_report() -> None:
    back = GatesReport.from_dict(
        {"changes": {"base": None, "ref": "HEAD", "changed": [], "dependents": []}}
    )
    assert (back.project, back.git_sha, back.results, back.seconds) == ("", "", [], 0.0)
    assert back.status == "passed"
