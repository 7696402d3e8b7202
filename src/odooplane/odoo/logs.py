"""Reading Odoo's server log: test results, module loading, migration scripts.

Odoo writes one record per log call, ``DATE TIME PID LEVEL DB LOGGER: MESSAGE``; a
message may continue over several lines (tracebacks). These functions turn such a log
into data: the test methods that ran and how they ended (the JUnit of the tests gate),
the modules loaded with their durations and the migration scripts they ran (the
migration gate and deployments), and what went wrong while loading.

The formats are those of Odoo 16 to 19 (``odoo.tests.result`` and
``odoo.modules.loading``/``odoo.modules.migration``), which have not changed between
those series.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

_RECORD_RE = re.compile(
    r"^(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(?P<ms>\d{3}) (?P<pid>\d+) "
    r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL|TEST|\?) (?P<db>\S+) "
    r"(?P<logger>[\w.]+): (?P<message>.*)$"
)
_ADDON_LOGGER_RE = re.compile(r"^odoo\.addons\.(?P<module>\w+)(?:\.|$)")
_STARTING_RE = re.compile(r"^Starting (?P<test>\S+) \.\.\.$")
_OUTCOME_RE = re.compile(r"^(?P<flavour>FAIL|ERROR): (?P<test>.+?)\s*$")
_SKIPPED_RE = re.compile(r"^skipped (?P<test>\S+) : (?P<reason>.*)$")
_SUBTEST_RE = re.compile(r"^Subtest (?P<test>[\w.]+) ")
# setUpClass errors have no method: "setUpClass (odoo.addons.m.tests.test_x.TestX)".
_HOLDER_RE = re.compile(r"^(?P<fixture>\w+) \((?P<path>[\w.]+)\)$")
_LOADING_RE = re.compile(r"^Loading module (?P<module>\w+) \((?P<index>\d+)/(?P<total>\d+)\)$")
_MIGRATION_RE = re.compile(
    r"^module (?P<module>\w+): Running migration \[(?P<spec>[^\]]*)\] (?P<script>\S+)$"
)
_NOT_LOADED_RE = re.compile(r"^Some modules are not loaded.*?: (?P<names>.*)$")
_NOT_INSTALLABLE_RE = re.compile(r"^module (?P<module>\w+): not installable, skipped$")
_INVALID_NAMES_RE = re.compile(r"^invalid module names, ignored: (?P<names>.*)$")
# Odoo's own summaries of test failures already reported one by one.
_TEST_SUMMARY_RE = re.compile(
    r"^(Module \w+: \d+ failures, \d+ errors of \d+ tests"
    r"|At least one test failed when loading the modules\."
    r"|\d+ failed, \d+ error\(s\) of \d+ tests when loading database .*)$"
)


@dataclass(frozen=True)
class LogRecord:
    """One log call: its first line's fields and the whole (multi-line) message."""

    at: datetime
    level: str
    database: str
    logger: str
    message: str
    line: int

    @property
    def first_line(self) -> str:
        return self.message.split("\n", 1)[0]

    @property
    def detail(self) -> str:
        """The lines after the first one (a traceback, usually)."""
        parts = self.message.split("\n", 1)
        return parts[1] if len(parts) > 1 else ""


def parse_records(text: str | Iterable[str]) -> Iterator[LogRecord]:
    """The records of an Odoo log; lines before the first record are ignored."""
    # Odoo ends every first line with a space (where its performance counters go).
    lines = (line.rstrip() for line in (text.splitlines() if isinstance(text, str) else text))
    current: dict[str, Any] | None = None
    extra: list[str] = []
    for number, line in enumerate(lines, start=1):
        match = _RECORD_RE.match(line)
        if match is None:
            if current is not None:
                extra.append(line)
            continue
        if current is not None:
            yield _record(current, extra)
        current = {**match.groupdict(), "line": number}
        extra = []
    if current is not None:
        yield _record(current, extra)


def _record(fields_: dict[str, Any], extra: list[str]) -> LogRecord:
    at = datetime.strptime(fields_["at"], "%Y-%m-%d %H:%M:%S").replace(
        microsecond=int(fields_["ms"]) * 1000
    )
    # Odoo's own "[exit N]" and our runner's "$ argv" lines are not part of a message.
    while extra and (not extra[-1].strip() or extra[-1].startswith("[exit ")):
        extra.pop()
    message = "\n".join([fields_["message"], *extra])
    return LogRecord(
        at=at,
        level=fields_["level"],
        database=fields_["db"],
        logger=fields_["logger"],
        message=message,
        line=int(fields_["line"]),
    )


# -- tests -------------------------------------------------------------------------------


@dataclass
class TestCaseResult:
    """One test method (or a class fixture that failed) of one module."""

    __test__ = False  # not a pytest class

    module: str
    classname: str
    name: str
    status: str = "passed"  # passed, failed, error, skipped
    seconds: float = 0.0
    message: str | None = None
    details: str | None = None

    @property
    def qualified(self) -> str:
        return f"{self.classname}.{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ModuleLoad:
    """A module Odoo loaded with work to do (install or update) during one run."""

    module: str
    started: datetime
    seconds: float = 0.0
    scripts: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["started"] = self.started.isoformat()
        return data


@dataclass
class OdooRun:
    """What one Odoo run's log says."""

    tests: list[TestCaseResult] = field(default_factory=list)
    loads: list[ModuleLoad] = field(default_factory=list)
    # ERROR/CRITICAL records that are not a test's own failure: (module or None, text).
    errors: list[tuple[str | None, str]] = field(default_factory=list)
    warnings: list[tuple[str | None, str]] = field(default_factory=list)
    not_loaded: list[str] = field(default_factory=list)

    @property
    def failed_tests(self) -> list[TestCaseResult]:
        return [t for t in self.tests if t.status in ("failed", "error")]

    def load_of(self, module: str) -> ModuleLoad | None:
        for load in self.loads:
            if load.module == module:
                return load
        return None


def _test_module(logger: str) -> str | None:
    match = _ADDON_LOGGER_RE.match(logger)
    return match.group("module") if match else None


def _split_test(description: str) -> tuple[str, str]:
    classname, _, method = description.rpartition(".")
    return (classname or description, method or description)


def _is_test_logger(logger: str) -> bool:
    return ".tests" in logger and logger.startswith("odoo.addons.")


def parse_run(text: str | Iterable[str]) -> OdooRun:
    """Everything :class:`OdooRun` holds, from one Odoo log."""
    run = OdooRun()
    cases: dict[tuple[str, str], TestCaseResult] = {}
    starts: dict[tuple[str, str], datetime] = {}
    last_case: TestCaseResult | None = None
    current_load: ModuleLoad | None = None
    last_at: datetime | None = None
    for record in parse_records(text):
        if last_case is not None and last_case.module is not None and last_at is not None:
            key = (last_case.module, last_case.qualified)
            if key in starts and last_case.status == "passed":
                last_case.seconds = round((record.at - starts[key]).total_seconds(), 3)
        last_at = record.at
        if current_load is not None:
            current_load.seconds = round((record.at - current_load.started).total_seconds(), 3)
        module = _test_module(record.logger)
        first = record.first_line
        if not _is_test_logger(record.logger):
            last_case = None
        if module is not None and _is_test_logger(record.logger):
            started = _STARTING_RE.match(first)
            if started:
                classname, name = _split_test(started.group("test"))
                case = TestCaseResult(module=module, classname=classname, name=name)
                cases[(module, case.qualified)] = case
                starts[(module, case.qualified)] = record.at
                run.tests.append(case)
                last_case = case
                continue
            outcome = _OUTCOME_RE.match(first)
            if outcome and record.level in ("ERROR", "CRITICAL"):
                _record_outcome(run, cases, module, outcome, record)
                last_case = None
                continue
            skipped = _SKIPPED_RE.match(first)
            if skipped:
                found = cases.get((module, skipped.group("test")))
                if found is not None:
                    found.status = "skipped"
                    found.message = skipped.group("reason")
                continue
        loading = _LOADING_RE.match(first) if record.logger == "odoo.modules.loading" else None
        if loading:
            current_load = ModuleLoad(module=loading.group("module"), started=record.at)
            run.loads.append(current_load)
            continue
        migration = _MIGRATION_RE.match(first) if record.logger.endswith(".migration") else None
        if migration:
            load = run.load_of(migration.group("module")) or current_load
            if load is not None:
                load.scripts.append(
                    f"{_stage(migration.group('spec'))}: {migration.group('script')}"
                )
            continue
        not_loaded = _NOT_LOADED_RE.match(first)
        if not_loaded:
            run.not_loaded.extend(re.findall(r"\w+", not_loaded.group("names")))
        elif match := _NOT_INSTALLABLE_RE.match(first):
            run.not_loaded.append(match.group("module"))
        elif match := _INVALID_NAMES_RE.match(first):
            run.not_loaded.extend(re.findall(r"\w+", match.group("names")))
        owner = module or (current_load.module if current_load is not None else None)
        if _TEST_SUMMARY_RE.match(first):
            continue
        if record.level in ("ERROR", "CRITICAL"):
            run.errors.append((owner, record.message))
            if current_load is not None:
                current_load.errors.append(record.message)
        elif record.level == "WARNING":
            run.warnings.append((owner, record.message))
            if current_load is not None:
                current_load.warnings.append(first)
    return run


def _stage(spec: str) -> str:
    if spec.startswith(">"):
        return f"pre {spec[1:]}"
    if spec.endswith(">"):
        return f"post {spec[:-1]}"
    if spec.startswith("$"):
        return f"end {spec[1:]}"
    return spec


def _record_outcome(
    run: OdooRun,
    cases: dict[tuple[str, str], TestCaseResult],
    module: str,
    outcome: re.Match[str],
    record: LogRecord,
) -> None:
    status = "failed" if outcome.group("flavour") == "FAIL" else "error"
    description = outcome.group("test")
    subtest = _SUBTEST_RE.match(description)
    if subtest:
        description = subtest.group("test")
    holder = _HOLDER_RE.match(description)
    if holder:
        # A class fixture failed: its tests never ran; report the fixture itself.
        classname = holder.group("path").rsplit(".", 1)[-1]
        description = f"{classname}.{holder.group('fixture')}"
    case = cases.get((module, description))
    if case is None:
        classname, name = _split_test(description)
        case = TestCaseResult(module=module, classname=classname, name=name)
        cases[(module, description)] = case
        run.tests.append(case)
    detail = record.detail.strip()
    last = next((line for line in reversed(detail.splitlines()) if line.strip()), "")
    # A failing subtest does not hide an earlier error of the same method.
    if case.status != "error":
        case.status = status
    case.message = last or record.first_line
    case.details = f"{case.details}\n\n{detail}" if case.details else detail
