"""The Markdown odooplane writes on GitHub: the preview section of the pull-request
comment, the gates section (read back from ``gate run --json``) and the footer."""

from __future__ import annotations

import re
from typing import Any

from odooplane.gates.model import Case, ChangedAddons, GateResult, GatesReport
from odooplane.github.markdown import footer, gates_section, preview_section

SHA = "0123456789abcdef0123456789abcdef01234567"


def _ready(**extra: Any) -> dict[str, Any]:
    return {
        "status": "ready",
        "environment": "pr-7",
        "url": "https://pr-7.example.test",
        "login": "admin",
        "password": "s3cret",
        "build": SHA,
        "data": "staging",
        **extra,
    }


def test_no_preview_says_nothing() -> None:
    assert preview_section(None, show_password=False, pr=7, run_url=None) is None
    assert preview_section({}, show_password=True, pr=7, run_url=None) is None


def test_a_ready_preview_is_a_table_without_the_password_by_default() -> None:
    text = preview_section(_ready(), show_password=False, pr=7, run_url=None)
    assert text is not None
    assert text.startswith("### 🚀 Preview: [pr-7](https://pr-7.example.test)")
    assert "| link | [https://pr-7.example.test](https://pr-7.example.test) |" in text
    assert "| login | `admin` |" in text
    assert "s3cret" not in text
    assert "| password | on the server: `odooplane preview show --pr 7` |" in text
    assert f"| commit | `{SHA[:12]}` |" in text
    assert "| data | a neutralized copy of staging (no mail leaves it, crons off) |" in text
    assert "evidence" not in text


def test_the_password_is_shown_only_when_asked_and_evidence_is_linked() -> None:
    text = preview_section(
        _ready(evidence_id="abcdef0123456789", data="custom|data"),
        show_password=True,
        pr=7,
        run_url=None,
    )
    assert text is not None
    assert "| password | `s3cret` |" in text
    assert "| evidence | `abcdef01` |" in text
    # A pipe in a value does not break the table.
    assert "| data | custom\\|data |" in text


def test_removed_absent_and_failed_previews() -> None:
    removed = preview_section(
        {"status": "removed", "closed_as": "merged"}, show_password=False, pr=3, run_url=None
    )
    assert removed == (
        "### 🧹 Preview removed\n\n`pr-3` and its database were removed when the "
        "pull request was merged."
    )
    absent = preview_section({"status": "absent"}, show_password=False, pr=3, run_url="https://r")
    assert absent == "### Preview\n\nNo preview ran for this pull request. ([log](https://r))"
    failed = preview_section(
        {"status": "failed", "build": SHA, "error": "addon x\nfailed | to install"},
        show_password=False,
        pr=3,
        run_url=None,
    )
    assert failed == (f"### ❌ Preview failed on `{SHA[:12]}`\n\naddon x failed \\| to install")
    refused = preview_section({"status": "refused"}, show_password=False, pr=3, run_url=None)
    assert refused is not None and "the preview is refused" in refused


def test_gates_that_did_not_run_say_why() -> None:
    assert gates_section(None, run_url=None) == "### 💥 odooplane gates: they did not run"
    assert gates_section({"error": "no build", "results": []}, run_url="https://r") == (
        "### 💥 odooplane gates: no build ([log](https://r))"
    )


def test_gates_section_renders_the_report_json_wrote() -> None:
    report = GatesReport(
        project="shop",
        git_sha=SHA,
        build_id=None,
        environment="staging",
        changes=ChangedAddons(base=None, ref=SHA, changed=["sale_x"], dependents=[]),
        results=[
            GateResult(
                gate="tests",
                title="Tests",
                status="failed",
                summary="1 failed",
                seconds=12.0,
                cases=[Case("sale_x.tests", "test_total", "failed", message="boom")],
                record_id="feedfacecafebeef",
            )
        ],
        seconds=12.0,
    )
    text = gates_section(report.to_dict(), run_url="https://ci/run/1")
    assert text.startswith(f"### ❌ odooplane gates: failed on `{SHA[:12]}`")
    assert "`sale_x`" in text
    assert "[feedface](https://ci/run/1)" in text
    assert "test_total" in text


def test_footer_names_the_commit_run_and_time() -> None:
    text = footer(SHA, "https://ci/run/1")
    assert text.startswith(
        "<sub>odooplane · commit `0123456789ab` · [workflow run](https://ci/run/1)"
    )
    assert re.search(r"updated \d{4}-\d\d-\d\d \d\d:\d\d UTC</sub>$", text)
    assert re.fullmatch(r"<sub>odooplane · updated [^<]+</sub>", footer(None, None))
