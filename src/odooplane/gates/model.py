"""What gates return: typed results that the renderers (table, JSON, JUnit, Markdown)
and the promotion read."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

GateStatus = Literal["passed", "failed", "skipped", "error"]
GATE_STATUSES: tuple[str, ...] = ("passed", "failed", "skipped", "error")
CaseStatus = Literal["passed", "failed", "error", "skipped"]


@dataclass
class Case:
    """One line of a gate's verdict: a test method, a finding, a module updated, a check.

    It becomes one ``<testcase>`` in JUnit: ``classname`` groups cases (a test class, a
    tool, a module), ``name`` names this one.
    """

    classname: str
    name: str
    status: CaseStatus = "passed"
    seconds: float = 0.0
    message: str | None = None
    details: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GateOutcome:
    """What a gate concluded (the runner adds timing, ids and the log)."""

    status: GateStatus
    summary: str
    cases: list[Case] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class GateResult:
    gate: str
    title: str
    status: GateStatus
    summary: str
    seconds: float
    cases: list[Case] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    log: str | None = None
    record_id: str | None = None

    @property
    def counts(self) -> dict[str, int]:
        found = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
        for case in self.cases:
            found[case.status] += 1
        return found

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["counts"] = self.counts
        return data


@dataclass
class ChangedAddons:
    """The addons a gate run looks at, and why."""

    base: str | None
    ref: str
    changed: list[str]
    dependents: list[str]
    all_addons: bool = False
    files: dict[str, list[str]] = field(default_factory=dict)
    # Changed files outside any addon (requirements, config): they may matter too.
    other_files: list[str] = field(default_factory=list)

    @property
    def selected(self) -> list[str]:
        return sorted(set(self.changed) | set(self.dependents))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["selected"] = self.selected
        return data


@dataclass
class GatesReport:
    """One ``gate run``: the build it judged, the addons it looked at, each gate."""

    project: str
    git_sha: str
    build_id: str | None
    environment: str | None
    changes: ChangedAddons
    results: list[GateResult]
    seconds: float

    @property
    def status(self) -> GateStatus:
        statuses = {r.status for r in self.results}
        if "error" in statuses:
            return "error"
        if "failed" in statuses:
            return "failed"
        if statuses and statuses <= {"skipped"}:
            return "skipped"
        return "passed"

    @property
    def ok(self) -> bool:
        return all(r.status in ("passed", "skipped") for r in self.results)

    def result(self, gate: str) -> GateResult | None:
        return next((r for r in self.results if r.gate == gate), None)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GatesReport:
        """The report ``to_dict`` (``gate run --json``) wrote, read back (a CI step
        renders what an earlier step ran)."""
        changes = dict(data.get("changes") or {})
        changes.pop("selected", None)
        results = []
        for raw in data.get("results") or []:
            result = dict(raw)
            result.pop("counts", None)
            result["cases"] = [Case(**c) for c in result.get("cases") or []]
            results.append(GateResult(**result))
        return cls(
            project=str(data.get("project") or ""),
            git_sha=str(data.get("git_sha") or ""),
            build_id=data.get("build_id"),
            environment=data.get("environment"),
            changes=ChangedAddons(**changes),
            results=results,
            seconds=float(data.get("seconds") or 0.0),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "git_sha": self.git_sha,
            "build_id": self.build_id,
            "environment": self.environment,
            "status": self.status,
            "ok": self.ok,
            "seconds": round(self.seconds, 2),
            "changes": self.changes.to_dict(),
            "results": [r.to_dict() for r in self.results],
        }
