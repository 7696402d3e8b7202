"""Running gates: which addons changed, then each gate, a bounded number at once, each
with its own deadline, each recorded in the evidence store with its log.

    report = run_gates(project, ["tests", "security"], ref="HEAD", base="main")
    report.ok, report.results[0].cases
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING

from odooplane.config import EnvironmentKind
from odooplane.errors import OdooplaneError, UsageError
from odooplane.gates.base import Gate, GateContext
from odooplane.gates.changes import changed_addons
from odooplane.gates.model import ChangedAddons, GateOutcome, GateResult, GatesReport
from odooplane.gates.registry import gate_names, get_gate
from odooplane.gates.settings import GateSettings, settings_for
from odooplane.progress import Progress, ProgressEvent, report
from odooplane.project import Project

if TYPE_CHECKING:
    from odooplane.environments.builds import Build
    from odooplane.evidence.api import EvidenceStore


def production_environment(project: Project) -> str | None:
    for name, env in project.config.environments.items():
        if env.kind is EnvironmentKind.production:
            return name
    return None


def deployed_sha(project: Project, environment: str) -> str | None:
    """The commit an environment runs now (None when it was never deployed)."""
    from odooplane.environments.state import StateStore

    project.environment(environment)  # a sentence for an unknown name
    state = StateStore(project.state_dir).load(environment)
    return state.build if state is not None else None


def promotion_target(project: Project, environment: str) -> str | None:
    """Where ``environment``'s builds go next: production for a staging environment
    (what ``odooplane promote`` does by default), nowhere for the others."""
    if project.environment(environment).kind is EnvironmentKind.staging:
        target = production_environment(project)
        return target if target != environment else None
    return None


# History entries whose build never served: a deploy undone by its own rollback, or
# anything that failed or was refused.
_NOT_SERVED = {"failed", "refused"}


def ran_before(project: Project, environment: str, sha: str) -> str | None:
    """The commit ``environment`` ran before ``sha``: what it runs now when that is
    another commit (gates run before the deploy), else the build it served before the
    deploy of ``sha`` (None when it never ran anything else)."""
    from odooplane.environments.state import StateStore

    project.environment(environment)  # a sentence for an unknown name
    state = StateStore(project.state_dir).load(environment)
    if state is None or state.build is None:
        return None
    if state.build != sha:
        return state.build
    if state.previous_build and state.previous_build != sha:
        return state.previous_build
    # Deployed twice in a row (a re-run of the same deploy): look further back.
    for entry in state.history:
        build = entry.get("build")
        status = entry.get("status")
        if not build or build == sha or status in _NOT_SERVED:
            continue
        if entry.get("action") == "deploy" and status == "rolled_back":
            continue
        return str(build)
    return None


def default_base(project: Project, environment: str | None, sha: str) -> str | None:
    """What ``--base`` means when not given, for the gates of commit ``sha``:

    - no environment: what production runs;
    - an environment promoted to another (staging to production): what that target
      runs, since that is the change a promotion would bring;
    - any other environment: what it ran before ``sha`` (so gates run right after a
      deploy still see the addons that deploy changed).

    None (every addon is selected) when there is nothing to compare with."""
    if environment is None:
        production = production_environment(project)
        return deployed_sha(project, production) if production else None
    target = promotion_target(project, environment)
    if target is not None:
        return deployed_sha(project, target)
    return ran_before(project, environment, sha)


def select_gates(project: Project, names: Sequence[str]) -> list[str]:
    known = gate_names()
    chosen = list(dict.fromkeys(names)) or list(known)
    unknown = [n for n in chosen if n not in known]
    if unknown:
        raise UsageError(
            f"Unknown gate {', '.join(repr(n) for n in unknown)}.",
            hint=f"Gates: {', '.join(known)}.",
        )
    return chosen


def compute_changes(
    project: Project, b: Build, *, base: str | None, all_addons: bool
) -> ChangedAddons:
    from pathlib import Path

    from odooplane import gitrepo
    from odooplane.environments.builds import build_project
    from odooplane.odoo.addons import project_addons

    base_sha = gitrepo.resolve_ref(project.root, base) if base else None
    return changed_addons(
        project.root,
        base=base_sha,
        ref=b.sha,
        addons=project_addons(build_project(project, b)),
        code_root=Path(b.code_dir),
        all_addons=all_addons,
    )


def run_gates(
    project: Project,
    names: Sequence[str] = (),
    *,
    ref: str = "HEAD",
    base: str | None = None,
    environment: str | None = None,
    all_addons: bool = False,
    progress: Progress | None = None,
    settings: GateSettings | None = None,
) -> GatesReport:
    """Run the gates ``names`` (default: all) on the build of ``ref``."""
    from odooplane.environments.builds import build
    from odooplane.evidence.api import EvidenceStore

    started = time.monotonic()
    settings = settings or settings_for(project.config)
    chosen = select_gates(project, names)
    if environment is not None:
        project.environment(environment)
    report(progress, f"building {ref}...")
    b = build(project, ref, record=True)
    if base is None and not all_addons:
        base = default_base(project, environment, b.sha)
    changes = compute_changes(project, b, base=base, all_addons=all_addons)
    report(
        progress,
        "addons: "
        + (", ".join(changes.selected) or "none changed")
        + (f" (base {changes.base[:12]})" if changes.base else " (all addons)"),
    )
    lock = threading.Lock()

    def one(name: str) -> GateResult:
        # One store per thread: a SQLite connection belongs to the thread that made it.
        with EvidenceStore.open(project) as store:
            return _run_one(
                store, lock, project, get_gate(name), b, changes, settings, environment, progress
            )

    workers = max(1, min(settings.parallel, len(chosen)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gate") as pool:
        results = list(pool.map(one, chosen))
    return GatesReport(
        project=project.config.project,
        git_sha=b.sha,
        build_id=b.evidence_id,
        environment=environment,
        changes=changes,
        results=results,
        seconds=time.monotonic() - started,
    )


def _run_one(
    store: EvidenceStore,
    lock: threading.Lock,
    project: Project,
    gate: Gate,
    b: Build,
    changes: ChangedAddons,
    settings: GateSettings,
    environment: str | None,
    progress: Progress | None,
) -> GateResult:
    started = time.monotonic()
    work_dir = project.state_dir / "gates" / f"{b.short}-{gate.name}-{uuid.uuid4().hex[:6]}"
    work_dir.mkdir(parents=True, exist_ok=True)
    outcome: GateOutcome
    log_path: str | None = None
    record_id: str | None = None
    build_id = uuid.UUID(b.evidence_id) if b.evidence_id else None

    def say(event: ProgressEvent) -> None:
        if progress is not None:
            with lock:
                progress(replace(event, phase=f"[{gate.name}] {event.phase}"))

    with store.gate_run(
        gate.name, git_sha=b.sha, build_id=build_id, environment=environment
    ) as capture:
        ctx = GateContext(
            project=project,
            build=b,
            changes=changes,
            settings=settings,
            environment=environment,
            log=capture,
            deadline=started + settings.timeout_minutes * 60,
            work_dir=work_dir,
            progress=say,
        )
        report(say, "started")
        try:
            outcome = gate.run(ctx)
        except OdooplaneError as exc:
            outcome = GateOutcome(status="error", summary=exc.message)
            capture.line(f"error: {exc.message}")
            if exc.hint:
                capture.line(f"hint: {exc.hint}")
        except Exception as exc:  # a gate's bug must not lose the other gates' results
            import traceback

            capture.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
            outcome = GateOutcome(status="error", summary=f"{type(exc).__name__}: {exc}")
        finally:
            ctx.cleanup()
        capture.status = outcome.status
        capture.summary = outcome.summary
        capture.details = {
            **outcome.details,
            "cases": [c.to_dict() for c in outcome.cases],
            "addons": changes.selected,
        }
        log_path = str(capture.path)
    record_id = str(capture.record_id) if capture.record_id else None
    report(say, f"{outcome.status}: {outcome.summary}")
    return GateResult(
        gate=gate.name,
        title=gate.title,
        status=outcome.status,
        summary=outcome.summary,
        seconds=round(time.monotonic() - started, 2),
        cases=outcome.cases,
        details=outcome.details,
        log=log_path,
        record_id=record_id,
    )
