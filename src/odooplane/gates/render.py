"""Gate results as JUnit XML, Markdown and table rows: one renderer for the terminal,
CI test reports, ``$GITHUB_STEP_SUMMARY`` and pull-request comments.

``markdown(report)`` takes options the GitHub integration uses for a comment: a link
per evidence record and a header level. Nothing here prints.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

from odooplane.gates.model import Case, GateResult, GatesReport

ICONS = {"passed": "✅", "failed": "❌", "error": "💥", "skipped": "⏭️"}
MAX_DETAIL = 20_000


def _clip(text: str | None, limit: int = MAX_DETAIL) -> str:
    if not text:
        return ""
    return text if len(text) <= limit else text[:limit] + "\n[... cut]"


def junit(report: GatesReport) -> str:
    """All gates as JUnit XML, one ``<testsuite>`` per gate, one ``<testcase>`` per case.

    A gate without cases (skipped, or an error before it could judge) gets one case
    carrying its summary, so CI shows why."""
    root = ET.Element(
        "testsuites",
        name=f"odooplane gates {report.git_sha[:12]}",
        time=f"{report.seconds:.3f}",
    )
    for result in report.results:
        cases = result.cases or [
            Case(
                classname=result.gate,
                name=result.gate,
                status="passed"
                if result.status == "passed"
                else (
                    "skipped"
                    if result.status == "skipped"
                    else "error"
                    if result.status == "error"
                    else "failed"
                ),
                message=result.summary,
            )
        ]
        counts = {"failed": 0, "error": 0, "skipped": 0}
        for case in cases:
            if case.status in counts:
                counts[case.status] += 1
        suite = ET.SubElement(
            root,
            "testsuite",
            name=result.gate,
            tests=str(len(cases)),
            failures=str(counts["failed"]),
            errors=str(counts["error"]),
            skipped=str(counts["skipped"]),
            time=f"{result.seconds:.3f}",
        )
        props = ET.SubElement(suite, "properties")
        for key, value in (
            ("status", result.status),
            ("summary", result.summary),
            ("git_sha", report.git_sha),
            ("evidence_id", result.record_id or ""),
            ("log", result.log or ""),
        ):
            ET.SubElement(props, "property", name=key, value=value)
        for case in cases:
            element = ET.SubElement(
                suite,
                "testcase",
                classname=case.classname,
                name=case.name,
                time=f"{case.seconds:.3f}",
            )
            if case.status in ("failed", "error"):
                tag = "failure" if case.status == "failed" else "error"
                node = ET.SubElement(element, tag, message=(case.message or case.status)[:1000])
                node.text = _clip(case.details or case.message)
            elif case.status == "skipped":
                ET.SubElement(element, "skipped", message=(case.message or "skipped")[:1000])
            elif case.message:
                ET.SubElement(element, "system-out").text = _clip(case.message)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(
    report: GatesReport,
    *,
    heading: str = "###",
    link: Callable[[GateResult], str | None] | None = None,
    max_failures: int = 10,
) -> str:
    """A summary fit for ``$GITHUB_STEP_SUMMARY`` and a pull-request comment.

    ``link(result)`` may give a URL for each gate's evidence (a CI log, an artifact)."""
    icon = ICONS.get(report.status, "")
    lines = [
        f"{heading} {icon} odooplane gates: {report.status} on `{report.git_sha[:12]}`",
        "",
    ]
    changes = report.changes
    if changes.all_addons:
        lines.append(f"Addons: all ({len(changes.selected)}).")
    else:
        base = f" since `{changes.base[:12]}`" if changes.base else ""
        changed = ", ".join(f"`{n}`" for n in changes.changed) or "none"
        lines.append(f"Changed addons{base}: {changed}.")
        if changes.dependents:
            lines.append(
                "Depending on them: " + ", ".join(f"`{n}`" for n in changes.dependents) + "."
            )
    lines += ["", "| gate | status | time | summary | evidence |", "|---|---|---|---|---|"]
    for result in report.results:
        url = link(result) if link else None
        evidence = result.record_id[:8] if result.record_id else ""
        if url and evidence:
            evidence = f"[{evidence}]({url})"
        lines.append(
            f"| {result.title} | {ICONS.get(result.status, '')} {result.status} | "
            f"{result.seconds:.0f} s | {_md_escape(result.summary)} | {evidence} |"
        )
    failing = [
        (result, case)
        for result in report.results
        for case in result.cases
        if case.status in ("failed", "error")
    ]
    if failing:
        lines += ["", "<details><summary>Failures</summary>", ""]
        for result, case in failing[:max_failures]:
            lines.append(
                f"**{result.gate}** `{case.classname}.{case.name}`: "
                f"{_md_escape(case.message or case.status)}"
            )
            if case.details:
                lines += ["", "```", _clip(case.details, 3000), "```", ""]
        if len(failing) > max_failures:
            lines.append(f"... and {len(failing) - max_failures} more.")
        lines += ["", "</details>"]
    lines.append("")
    return "\n".join(lines)


def table_rows(report: GatesReport) -> list[tuple[str, str, str, str]]:
    """(gate, status, seconds, summary) per gate, for a terminal table."""
    return [(r.title, r.status, f"{r.seconds:.1f}", r.summary) for r in report.results]
