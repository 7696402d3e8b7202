"""Results of neutralization and verification, as data, JSON and JUnit XML (the CLI
draws the tables)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Literal

from odooplane.errors import CheckFailedError
from odooplane.results import Result

Status = Literal["pass", "fail", "warn", "skip"]
STATUSES: tuple[Status, ...] = ("pass", "fail", "warn", "skip")


@dataclass(frozen=True)
class Check(Result):
    """One verification: ``detail`` names the leaking records, never a secret value."""

    id: str
    title: str
    status: Status
    detail: str = ""


@dataclass
class VerificationReport:
    database: str
    environment: str | None
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    @property
    def ok(self) -> bool:
        return not self.failures

    def check(self, check_id: str) -> Check:
        for item in self.checks:
            if item.id == check_id:
                return item
        raise KeyError(check_id)

    def summary(self) -> str:
        counts = {s: sum(1 for c in self.checks if c.status == s) for s in STATUSES}
        return ", ".join(f"{n} {s}" for s, n in counts.items() if n)

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "environment": self.environment,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "summary": self.summary(),
            "checks": [c.to_dict() for c in self.checks],
        }

    def to_junit(self) -> str:
        """JUnit XML: one test case per check, failures carrying the leak."""
        suite = ET.Element(
            "testsuite",
            name=f"odooplane neutralization verification ({self.environment or self.database})",
            tests=str(len(self.checks)),
            failures=str(len(self.failures)),
            skipped=str(sum(1 for c in self.checks if c.status == "skip")),
            errors="0",
            time=f"{self.seconds:.3f}",
        )
        for item in self.checks:
            case = ET.SubElement(
                suite, "testcase", classname=f"neutralization.{self.database}", name=item.id
            )
            if item.status == "fail":
                failure = ET.SubElement(case, "failure", message=item.title)
                failure.text = item.detail
            elif item.status == "skip":
                ET.SubElement(case, "skipped", message=item.detail or item.title)
            elif item.detail:
                out = ET.SubElement(case, "system-out")
                out.text = item.detail
        root = ET.Element("testsuites")
        root.append(suite)
        ET.indent(root)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            + ET.tostring(root, encoding="unicode")
            + "\n"
        )


@dataclass(frozen=True)
class RuleResult(Result):
    name: str
    title: str
    changed: int
    notes: tuple[str, ...] = ()


@dataclass
class NeutralizationReport:
    database: str
    environment: str | None
    rules: list[RuleResult] = field(default_factory=list)
    odoo_source: str | None = None
    skipped_statements: list[str] = field(default_factory=list)
    seconds: float = 0.0
    verification: VerificationReport | None = None
    # Shown once to the person who ran the command; stored nowhere.
    reset_password: str | None = None

    @property
    def changed(self) -> int:
        return sum(r.changed for r in self.rules)

    @property
    def ok(self) -> bool:
        return self.verification is None or self.verification.ok

    def rule(self, name: str) -> RuleResult:
        for item in self.rules:
            if item.name == name:
                return item
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "environment": self.environment,
            "ok": self.ok,
            "changed": self.changed,
            "seconds": round(self.seconds, 3),
            "odoo_source": self.odoo_source,
            "skipped_statements": self.skipped_statements,
            "rules": [r.to_dict() for r in self.rules],
            "verification": self.verification.to_dict() if self.verification else None,
            "reset_password": self.reset_password,
        }


class NeutralizationFailed(CheckFailedError):
    """Verification found a leak after neutralization; ``report`` holds every check."""

    def __init__(self, report: NeutralizationReport | VerificationReport) -> None:
        verification = report.verification if isinstance(report, NeutralizationReport) else report
        failures = verification.failures if verification else []
        names = ", ".join(c.id for c in failures)
        super().__init__(
            f"Database '{report.database}' is not safe: {len(failures)} check(s) failed ({names}).",
            hint="Do not start this database. Re-run `odooplane neutralize`, or fix each leak "
            "named above and run `odooplane verify` again.",
        )
        self.report = report
