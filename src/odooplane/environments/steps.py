"""What the lifecycle commands share: results, errors, the recorded run and small checks.

A command on an environment holds its lock, journals each phase into its state and
records itself in the evidence store step by step (:class:`RecordedRun`).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from odooplane.environments import ports
from odooplane.environments.builds import Build, build_project
from odooplane.environments.checksums import UpdatePlan
from odooplane.environments.context import EnvContext
from odooplane.environments.health import HealthResult
from odooplane.environments.state import EnvState, now_iso
from odooplane.errors import CheckFailedError, NotFoundError, RefusedError
from odooplane.mailcatcher import ensure_catcher
from odooplane.ports import ensure_port_free
from odooplane.postgres import databases as dbs
from odooplane.postgres.server import DatabaseServer
from odooplane.progress import Progress, report
from odooplane.project import Project
from odooplane.results import Result

if TYPE_CHECKING:
    from odooplane.environments.recovery import Recovery

    # The evidence store pulls in SQLAlchemy: imported only by commands that record.
    from odooplane.evidence.api import DeploymentRecorder, EvidenceStore


DEFAULT_HEALTH_TIMEOUT = 180.0


class DeploymentFailed(CheckFailedError):
    """A deployment failed; ``result`` says what was done about it (rollback...)."""

    def __init__(self, message: str, *, result: dict[str, Any], hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.result = result


class StepFailed(CheckFailedError):
    def __init__(self, message: str, *, excerpt: str) -> None:
        super().__init__(message)
        self.excerpt = excerpt


class NeutralizationRefused(RefusedError):
    def __init__(self, message: str, *, record: dict[str, Any], hint: str | None) -> None:
        super().__init__(message, hint=hint)
        self.record = record


@dataclass
class StepTiming:
    name: str
    seconds: float
    status: str
    detail: str = ""


@dataclass
class Outcome(Result):
    """What a create or deploy did: for people (rendered) and CI (``--json``)."""

    environment: str
    action: str
    status: str
    build: dict[str, Any] | None
    previous_build: str | None = None
    url: str | None = None
    deployment_id: str | None = None
    steps: list[StepTiming] = field(default_factory=list)
    plan: UpdatePlan | None = None
    health: HealthResult | None = None
    snapshot: str | None = None
    recovered: Recovery | None = None
    neutralization: dict[str, Any] | None = None
    error: str | None = None
    log_excerpt: str | None = None
    seconds: float = 0.0
    # What went wrong without undoing anything (a log not written on a full disk...).
    warnings: list[str] = field(default_factory=list)


def say(progress: Progress | None, text: str) -> None:
    report(progress, text)


def explain(output: str, lines: int = 40) -> str:
    """The part of an Odoo log that explains a failure: from the last traceback or the
    first ERROR/CRITICAL line on, else the end of the log."""
    all_lines = output.splitlines()
    start = None
    for index in range(len(all_lines) - 1, -1, -1):
        if all_lines[index].startswith("Traceback (most recent call last)"):
            start = max(0, index - 2)
            break
    if start is None:
        for index, line in enumerate(all_lines):
            if re.search(r"\b(ERROR|CRITICAL)\b", line):
                start = index
                break
    if start is None:
        return "\n".join(all_lines[-lines:])
    return "\n".join(all_lines[start : start + lines * 2])


def open_evidence(project: Project) -> EvidenceStore:
    from odooplane.evidence.api import EvidenceStore

    return EvidenceStore.open(project)


class RecordedRun:
    """One recorded command on an environment: timed steps into the evidence store."""

    def __init__(
        self,
        recorder: DeploymentRecorder,
        progress: Progress | None,
        *,
        journal: Callable[[str], None] | None = None,
    ) -> None:
        self.recorder = recorder
        self.progress = progress
        self.steps: list[StepTiming] = []
        # Told each step's name before it starts (the operation journal keeps it, so an
        # interruption's record names the step).
        self.journal = journal

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[Any]:
        say(self.progress, f"{name}...")
        if self.journal is not None:
            self.journal(name)
        started = time.monotonic()
        status = "succeeded"
        try:
            with self.recorder.step(name) as capture:
                yield capture
                if capture.status:
                    status = capture.status
        except BaseException:
            status = "failed"
            raise
        finally:
            self.steps.append(StepTiming(name, round(time.monotonic() - started, 2), status))


def require_database(ctx: EnvContext, server: DatabaseServer) -> None:
    if not dbs.database_exists(server, ctx.database):
        raise NotFoundError(
            f"The database '{ctx.database}' of environment '{ctx.name}' does not exist on "
            f"{server.describe()} any more (dropped outside odooplane?).",
            hint=f"Restore a snapshot (`odooplane db snapshots {ctx.database}`), or "
            f"recreate the environment: `odooplane env destroy {ctx.name} --force` then "
            f"`odooplane env create {ctx.name}`.",
        )


def require_state(ctx: EnvContext) -> EnvState:
    state = ctx.load_state()
    if state is None:
        raise NotFoundError(
            f"Environment '{ctx.name}' has not been created yet.",
            hint=f"Create it with `odooplane env create {ctx.name}`.",
        )
    return state


def allocate_ports(ctx: EnvContext, state: EnvState) -> ports.PortPair:
    options = ctx.config.odoo_options
    http = options.get("http_port")
    gevent = options.get("gevent_port", options.get("longpolling_port"))
    current = (
        ports.PortPair(state.http_port, state.gevent_port)
        if state.http_port and state.gevent_port
        else None
    )
    pair = ports.allocate(
        ctx.project.root,
        ctx.name,
        http=int(http) if http is not None else None,
        gevent=int(gevent) if gevent is not None else None,
        current=current if http is None and gevent is None else None,
    )
    state.http_port, state.gevent_port = pair.http, pair.gevent
    return pair


def check_ports_free(ctx: EnvContext, pair: ports.PortPair) -> None:
    ensure_port_free(pair.http, f"HTTP of environment '{ctx.name}'")
    if ctx.config.workers:
        ensure_port_free(pair.gevent, f"gevent/websocket of environment '{ctx.name}'")


def mail_catcher(ctx: EnvContext) -> tuple[str, int] | None:
    if not ctx.config.neutralized:
        return None
    return catcher_address(ctx)


def catcher_address(ctx: EnvContext) -> tuple[str, int]:
    """Where the environment's Odoo sends its mail: the project's catcher, at the address
    its backend reaches this machine by."""
    host, port = ensure_catcher(ctx.project.state_dir, ctx.name)
    return ctx.backend.reach_mail(ctx.project.state_dir, host, port)


def wanted_modules(ctx: EnvContext, b: Build) -> list[str]:
    """What the environment should have installed (the one rule,
    :func:`odooplane.odoo.newdb.wanted_modules`): its ``modules``, else every installable
    addon of the build's project, with base and web."""
    from odooplane.odoo.newdb import wanted_modules as rule

    return rule(build_project(ctx.project, b), ctx.config.modules)


def check_secrets(ctx: EnvContext, b: Build) -> None:
    if ctx.is_production:
        return
    from odooplane.environments.context import process_env
    from odooplane.secrets import check_secrets_visibility

    findings = check_secrets_visibility(
        ctx.project, ctx.name, odoo_conf=ctx.conf_path, process_env=process_env(ctx, b)
    )
    if findings:
        raise RefusedError(
            f"Environment '{ctx.name}' can see production-only secrets: "
            + "; ".join(f.message for f in findings)
            + ".",
            hint="Remove those values from its env file and odoo_options, then start again.",
        )


def history_entry(action: str, outcome: Outcome) -> dict[str, Any]:
    return {
        "action": action,
        "status": outcome.status,
        "build": (outcome.build or {}).get("sha"),
        "at": now_iso(),
        "deployment_id": outcome.deployment_id,
        "steps": [asdict(s) for s in outcome.steps],
        "error": outcome.error,
        "seconds": outcome.seconds,
    }
