"""The security gate: three tools over what changed.

- bandit over the changed addons: findings at or above ``gates.security.bandit_severity``
  and ``bandit_confidence`` (high and high by default) fail, the others are reported;
- pylint with pylint-odoo, OCA's mandatory checks (``sql-injection``, ``eval-used``...):
  any message fails;
- pip-audit over the runtime's pinned requirements: a published advisory fails. When
  the advisory data cannot be reached the audit is reported *skipped*, with why.

A finding listed in the baseline file (see :mod:`odooplane.gates.baseline`) is accepted:
reported with its reason, not failing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from odooplane.gates.base import GateContext
from odooplane.gates.baseline import Baseline, load_baseline
from odooplane.gates.model import Case, GateOutcome
from odooplane.gates.settings import SEVERITIES
from odooplane.gates.tools import Toolbox, ensure_toolbox

_PYLINT_NOISE = {"unknown-option-value", "useless-option-value"}


class SecurityGate:
    name: ClassVar[str] = "security"
    title: ClassVar[str] = "Security"

    def run(self, ctx: GateContext) -> GateOutcome:
        from odooplane.environments.builds import build_project
        from odooplane.odoo.addons import project_addons

        settings = ctx.settings.security
        baseline = load_baseline(ctx.project.root / settings.baseline)
        box = ensure_toolbox()
        addons = project_addons(build_project(ctx.project, ctx.build))
        root = Path(ctx.build.code_dir)
        folders = [addons[n].path for n in ctx.changes.selected if n in addons]
        cases: list[Case] = []
        parts: list[str] = []
        details: dict[str, Any] = {"baseline": str(baseline.path) if baseline.path else None}
        if folders:
            ctx.say(f"bandit and pylint-odoo over {len(folders)} addon(s)")
            bandit_cases = _bandit(ctx, box, folders, root, baseline)
            pylint_cases = _pylint(ctx, box, folders, root, baseline)
            cases += bandit_cases + pylint_cases
            parts.append(_count("bandit", bandit_cases))
            parts.append(_count("pylint-odoo", pylint_cases))
        else:
            parts.append("no addon changed: bandit and pylint-odoo had nothing to read")
        audit_status = "off"
        if settings.audit:
            audit_cases, audit_status, audit_note = _audit(ctx, box, baseline)
            cases += audit_cases
            parts.append(audit_note)
        details["audit"] = audit_status
        failed = [c for c in cases if c.status in ("failed", "error")]
        status = "failed" if failed else "passed"
        if audit_status == "skipped" and settings.require_audit and not failed:
            status = "failed"
            parts.append("gates.security.require_audit is on")
        return GateOutcome(status, "; ".join(parts), cases, details)  # type: ignore[arg-type]


def _count(tool: str, cases: list[Case]) -> str:
    failing = sum(1 for c in cases if c.status == "failed")
    accepted = sum(1 for c in cases if c.status == "skipped")
    noted = sum(1 for c in cases if c.status == "passed") - (1 if cases else 0)
    text = f"{tool}: {failing} failing"
    if accepted:
        text += f", {accepted} accepted by the baseline"
    if noted > 0:
        text += f", {noted} below the threshold"
    return text


def _relative(path: str, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path


def _finding(
    tool: str,
    rule: str,
    path: str | None,
    line: int | None,
    message: str,
    *,
    failing: bool,
    baseline: Baseline,
) -> Case:
    where = f"{path}:{line}" if path and line else (path or "")
    accepted = baseline.accepts(tool, rule, path) if failing else None
    if accepted is not None:
        return Case(
            classname=tool,
            name=f"{rule} {where}".strip(),
            status="skipped",
            message=f"accepted by the baseline: {accepted.reason}",
            details=message,
        )
    return Case(
        classname=tool,
        name=f"{rule} {where}".strip(),
        status="failed" if failing else "passed",
        message=message,
    )


def _bandit(
    ctx: GateContext, box: Toolbox, folders: list[Path], root: Path, baseline: Baseline
) -> list[Case]:
    settings = ctx.settings.security
    result = ctx.run(
        [str(box.bin("bandit")), "-r", "-f", "json", "-q", *map(str, folders)],
        env=box.env(),
        log_name="bandit.log",
        cwd=root,
    )
    data = _json_object(result.output)
    if data is None:
        return [
            Case("bandit", "run", "error", message=f"bandit gave no report (exit {result.code})")
        ]
    min_sev = SEVERITIES.index(settings.bandit_severity.lower())
    min_conf = SEVERITIES.index(settings.bandit_confidence.lower())
    cases = [Case("bandit", "run", "passed", message=f"{len(data.get('results', []))} finding(s)")]
    for item in data.get("results", []):
        sev = SEVERITIES.index(str(item.get("issue_severity", "low")).lower())
        conf = SEVERITIES.index(str(item.get("issue_confidence", "low")).lower())
        path = _relative(str(item.get("filename", "")), root)
        cases.append(
            _finding(
                "bandit",
                str(item.get("test_id")),
                path,
                item.get("line_number"),
                f"{item.get('issue_text')} (severity {item.get('issue_severity')}, "
                f"confidence {item.get('issue_confidence')})",
                failing=sev >= min_sev and conf >= min_conf,
                baseline=baseline,
            )
        )
    for error in data.get("errors", []):
        cases.append(
            Case(
                "bandit",
                f"parse {_relative(str(error.get('filename')), root)}",
                "error",
                message=str(error.get("reason")),
            )
        )
    return cases


def _pylint(
    ctx: GateContext, box: Toolbox, folders: list[Path], root: Path, baseline: Baseline
) -> list[Case]:
    checks = ",".join(ctx.settings.security.pylint_checks)
    result = ctx.run(
        [
            str(box.bin("pylint")),
            "--load-plugins=pylint_odoo",
            "--disable=all",
            f"--enable={checks}",
            f"--valid-odoo-versions={ctx.build.odoo_series}",
            "--output-format=json",
            "--score=n",
            "--jobs=1",
            *[
                f.relative_to(root).as_posix() if f.is_relative_to(root) else str(f)
                for f in folders
            ],
        ],
        env=box.env(),
        log_name="pylint.log",
        cwd=root,
    )
    messages = _json_list(result.output)
    if messages is None:
        return [
            Case("pylint", "run", "error", message=f"pylint gave no report (exit {result.code})")
        ]
    cases = [Case("pylint", "run", "passed", message=f"{len(messages)} message(s)")]
    for item in messages:
        symbol = str(item.get("symbol"))
        if symbol in _PYLINT_NOISE:
            continue
        cases.append(
            _finding(
                "pylint",
                symbol,
                str(item.get("path")),
                item.get("line"),
                f"{item.get('message')} ({item.get('obj') or item.get('module')})",
                failing=True,
                baseline=baseline,
            )
        )
    return cases


def _audit(ctx: GateContext, box: Toolbox, baseline: Baseline) -> tuple[list[Case], str, str]:
    """(cases, status of the audit, sentence)."""
    from odooplane.environments.builds import runtime_of

    pins = [str(p) for p in runtime_of(ctx.build).metadata.get("packages", [])]
    pins = [p for p in pins if "==" in p and not p.startswith(("-", "#"))]
    if not pins:
        why = "the runtime records no pinned requirements"
        return (
            [Case("pip-audit", "advisories", "skipped", message=why)],
            "skipped",
            f"audit skipped: {why}",
        )
    req = ctx.work_dir / "pinned-requirements.txt"
    req.write_text("\n".join(pins) + "\n")
    ctx.say(f"pip-audit over {len(pins)} pinned requirements")
    result = ctx.run(
        [
            str(box.bin("pip-audit")),
            "-r",
            str(req),
            "--no-deps",
            "--disable-pip",
            "--vulnerability-service",
            "pypi",
            "--format",
            "json",
            "--progress-spinner",
            "off",
        ],
        env=box.env(),
        log_name="pip-audit.log",
    )
    data = _json_object(result.output)
    if data is None:
        last = next(
            (line for line in reversed(result.output.splitlines()) if line.strip()), "no output"
        )
        why = f"pip-audit could not reach the advisory data ({last.strip()[:300]})"
        return (
            [Case("pip-audit", "advisories", "skipped", message=why)],
            "skipped",
            f"audit skipped: {why}",
        )
    deps = data.get("dependencies", [])
    unaudited = [d for d in deps if d.get("skip_reason")]
    audited = len(deps) - len(unaudited)
    cases: list[Case] = []
    for dep in deps:
        for vuln in dep.get("vulns", []):
            fixes = ", ".join(vuln.get("fix_versions", [])) or "none published"
            cases.append(
                _finding(
                    "pip-audit",
                    str(vuln.get("id")),
                    str(dep.get("name")),
                    None,
                    f"{dep.get('name')} {dep.get('version')}: {vuln.get('description', '')[:500]} "
                    f"(fixed in: {fixes})",
                    failing=True,
                    baseline=baseline,
                )
            )
    failing = sum(1 for c in cases if c.status == "failed")
    if audited == 0:
        example = unaudited[0].get("skip_reason") if unaudited else "no dependency audited"
        why = (
            f"no advisory data could be read for any of the {len(deps)} pinned requirements "
            f"(pip-audit: {example})"
        )
        cases.append(Case("pip-audit", "advisories", "skipped", message=why))
        return cases, "skipped", f"audit skipped: {why}"
    if unaudited:
        names = ", ".join(f"{d.get('name')} {d.get('version')}" for d in unaudited[:10])
        cases.append(
            Case(
                "pip-audit",
                "not audited",
                "skipped",
                message=f"{len(unaudited)} requirement(s) without advisory data: {names}",
            )
        )
    cases.append(
        Case(
            "pip-audit",
            "advisories",
            "failed" if failing else "passed",
            message=f"{audited} requirement(s) audited, {failing} with advisories",
        )
    )
    status = "failed" if failing else ("partial" if unaudited else "passed")
    note = f"pip-audit: {failing} advisory(ies) over {audited} audited requirement(s)"
    if unaudited:
        note += f", {len(unaudited)} not audited (no advisory data)"
    return cases, status, note


def _json_object(text: str) -> dict[str, Any] | None:
    start = text.find("{")
    while start != -1:
        try:
            value, _ = json.JSONDecoder().raw_decode(text, start)
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    return None


def _json_list(text: str) -> list[dict[str, Any]] | None:
    start = text.find("[")
    while start != -1:
        try:
            value, _ = json.JSONDecoder().raw_decode(text, start)
        except json.JSONDecodeError:
            start = text.find("[", start + 1)
            continue
        if isinstance(value, list):
            return [v for v in value if isinstance(v, dict)]
        start = text.find("[", start + 1)
    return None
