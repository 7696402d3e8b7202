"""``odooplane promote``: staging's build to production, through gates and a person.

Refused, with a sentence naming what is missing, unless:

1. the SHA is what the source environment (staging) runs;
2. every gate of ``gates.required`` passed for that build, as recorded in the evidence
   store (never re-run here; a pass for another commit or build does not count);
3. a person approved, through an approval source (:mod:`.approval`) and the project's
   rules (``promotion.approvers``, ``promotion.forbid_self_approval``).

Then: a backup when modules will be installed or updated (Odoo.sh's "update" backup),
the deployment itself (environments' deploy: snapshot, update, start, health check,
automatic rollback of its own failures), smoke checks (``/web/health`` and
``promotion.smoke_paths``), and an automatic :func:`~.rollback.rollback` when a smoke
check fails. One evidence record of kind ``promote`` names the gates, the approver,
the backup, the snapshot and the deployment.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from odooplane.config import EnvironmentKind
from odooplane.errors import CheckFailedError, RefusedError, UsageError
from odooplane.project import Project
from odooplane.promotion.approval import ApprovalRequest, ApprovalSource, check_rules

DEFAULT_SMOKE_PATHS: tuple[str, ...] = ("/web/health", "/web/login")


@dataclass(frozen=True)
class PromotionSettings:
    approvers: tuple[str, ...] = ()
    forbid_self_approval: bool = False
    smoke_paths: tuple[str, ...] = DEFAULT_SMOKE_PATHS


def settings_for(project: Project) -> PromotionSettings:
    section = project.config.promotion
    paths = tuple(dict.fromkeys(("/web/health", *section.smoke_paths)))
    return PromotionSettings(
        approvers=tuple(section.approvers),
        forbid_self_approval=section.forbid_self_approval,
        smoke_paths=paths if section.smoke_paths else DEFAULT_SMOKE_PATHS,
    )


@dataclass
class PromotionResult:
    source: str
    target: str
    git_sha: str
    status: str  # promoted, rolled_back
    approval: dict[str, Any]
    gates: dict[str, dict[str, Any]]
    install: list[str] = field(default_factory=list)
    update: list[str] = field(default_factory=list)
    backup: dict[str, Any] | None = None
    snapshot: str | None = None
    deployment_id: str | None = None
    promotion_id: str | None = None
    smoke: dict[str, int | str] = field(default_factory=dict)
    rollback: dict[str, Any] | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _kind_env(project: Project, kind: EnvironmentKind) -> str | None:
    return next((n for n, e in project.config.environments.items() if e.kind is kind), None)


def resolve_environments(
    project: Project, source: str | None, target: str | None
) -> tuple[str, str]:
    source = source or _kind_env(project, EnvironmentKind.staging)
    target = target or _kind_env(project, EnvironmentKind.production)
    if source is None:
        raise UsageError("No staging environment is configured: name one with --from ENV.")
    if target is None:
        raise UsageError("No production environment is configured: name one with --to ENV.")
    project.environment(source)
    project.environment(target)
    if source == target:
        raise UsageError(f"--from and --to are both '{source}'.")
    return source, target


def smoke_check(
    base_url: str, paths: tuple[str, ...], timeout: float = 20.0
) -> dict[str, int | str]:
    """Each path's HTTP status (or what went wrong): every one must answer below 400."""
    from odooplane.environments.health import probe

    return {path: probe(base_url, path, timeout=timeout) for path in paths}


def _smoke_ok(results: dict[str, int | str]) -> bool:
    return all(isinstance(code, int) and 200 <= code < 400 for code in results.values())


def prepare(
    project: Project,
    *,
    source: str | None = None,
    target: str | None = None,
    sha: str | None = None,
) -> tuple[ApprovalRequest, Any]:
    """Check everything that does not need a person; returns the approval request and
    the build. Raises RefusedError naming what is missing."""
    from odooplane import gitrepo
    from odooplane.environments.builds import build
    from odooplane.environments.state import StateStore
    from odooplane.gates.settings import settings_for as gate_settings
    from odooplane.gates.verdicts import gate_verdicts, missing_gates

    source, target = resolve_environments(project, source, target)
    store = StateStore(project.state_dir)
    source_state = store.load(source)
    if source_state is None or source_state.build is None:
        raise RefusedError(
            f"'{source}' runs no build yet: nothing to promote.",
            hint=f"Deploy it first: `odooplane env deploy {source} <ref>`.",
        )
    deployed = source_state.build
    if sha is not None:
        wanted = gitrepo.resolve_ref(project.root, sha)
        if wanted != deployed:
            raise RefusedError(
                f"{wanted[:12]} is not deployed on '{source}' (it runs {deployed[:12]}): "
                "only what was tested there can be promoted.",
                hint=f"Deploy it to {source} first, let the gates run, then promote.",
            )
    if store.load(target) is None:
        raise RefusedError(
            f"'{target}' has not been created yet.",
            hint=f"Create it with `odooplane env create {target}`.",
        )
    b = build(project, deployed, record=True)
    required = gate_settings(project.config).required
    verdicts = gate_verdicts(
        project, b.sha, build_id=uuid.UUID(b.evidence_id) if b.evidence_id else None
    )
    problems = missing_gates(required, verdicts)
    if problems:
        raise RefusedError(
            f"{b.short} cannot be promoted to '{target}': " + "; ".join(problems) + ".",
            hint=f"Run them: `odooplane gate run --ref {b.short} --env {source}`.",
        )
    install, update = _module_changes(project, target, b)
    gates = {
        name: {
            "status": run.status,
            "id": str(run.id),
            "summary": run.summary,
            "at": run.started_at.isoformat(),
        }
        for name, run in verdicts.items()
        if not required or name in required
    }
    request = ApprovalRequest(
        project=project.config.project,
        source=source,
        target=target,
        git_sha=b.sha,
        build=b.summary(),
        gates=gates,
        install=install,
        update=update,
    )
    return request, b


def _module_changes(project: Project, target: str, b: Any) -> tuple[list[str], list[str]]:
    """Modules the deployment will install and update (the deploy's own plan)."""
    from odooplane.environments.context import EnvContext
    from odooplane.environments.odoo_run import update_plan

    ctx = EnvContext(project, target)
    plan = update_plan(ctx, ctx.server(), b)
    update = ["all"] if plan.update_all else list(plan.update)
    return list(plan.install), update


def promote(
    project: Project,
    *,
    approval: ApprovalSource,
    source: str | None = None,
    target: str | None = None,
    sha: str | None = None,
    health_timeout: float | None = None,
    progress: Any = None,
) -> PromotionResult:
    """Promote what ``source`` runs to ``target`` (see the module docstring)."""
    from odooplane.environments import api as environments
    from odooplane.environments.context import EnvContext
    from odooplane.environments.ports import PortPair
    from odooplane.environments.steps import open_evidence, say
    from odooplane.promotion.backups import create_backup
    from odooplane.promotion.rollback import rollback

    started = time.monotonic()
    settings = settings_for(project)
    request, b = prepare(project, source=source, target=target, sha=sha)
    granted = approval.approve(request)
    if granted is None:
        raise RefusedError(
            f"Promotion of {b.short} to '{request.target}' was not approved.",
            hint="Confirm it when asked, or pass --approved-by NAME (recorded) in CI.",
        )
    check_rules(
        granted,
        request,
        approvers=settings.approvers,
        forbid_self_approval=settings.forbid_self_approval,
    )
    result = PromotionResult(
        source=request.source,
        target=request.target,
        git_sha=b.sha,
        status="failed",
        approval=granted.to_dict(),
        gates=request.gates,
        install=request.install,
        update=request.update,
    )
    with open_evidence(project) as store:
        record = store.start_deployment(
            request.target,
            git_sha=b.sha,
            build_id=uuid.UUID(b.evidence_id) if b.evidence_id else None,
            kind="promote",
            approved_by=f"{granted.approver} ({granted.method})",
        )
        result.promotion_id = str(record.id)
        record.note(
            f"promotion of {b.short} from {request.source} approved by {granted.approver}",
            approval=granted.to_dict(),
            gates=request.gates,
            install=request.install,
            update=request.update,
        )
        try:
            if request.install or request.update:
                say(progress, f"backing up {request.target} before modules change")
                backup = create_backup(project, request.target, kind="update")
                result.backup = {"name": backup.name, "sha256": backup.sha256, "path": backup.path}
                record.note(f"backup {backup.name} taken", backup=result.backup)
            outcome = environments.deploy(
                project,
                request.target,
                b.sha,
                health_timeout=health_timeout or environments.DEFAULT_HEALTH_TIMEOUT,
                progress=progress,
                approved_by=f"{granted.approver} ({granted.method})",
            )
            result.snapshot = outcome.snapshot
            result.deployment_id = outcome.deployment_id
            ctx = EnvContext(project, request.target)
            state = ctx.store.load(request.target)
            assert state is not None and state.http_port and state.gevent_port
            url = ctx.local_url(PortPair(state.http_port, state.gevent_port))
            say(progress, "smoke checks: " + ", ".join(settings.smoke_paths))
            result.smoke = smoke_check(url, settings.smoke_paths)
            for path, code in result.smoke.items():
                record.record_health_check(
                    f"smoke {path}",
                    ok=isinstance(code, int) and 200 <= code < 400,
                    detail=str(code),
                )
            if not _smoke_ok(result.smoke):
                failing = ", ".join(
                    f"{p} {c}"
                    for p, c in result.smoke.items()
                    if not (isinstance(c, int) and 200 <= c < 400)
                )
                say(progress, f"smoke check failed ({failing}): rolling back")
                undone = rollback(
                    project,
                    request.target,
                    # A deploy that changed no module took no snapshot: switching back to
                    # the previous build is the whole rollback.
                    code_only=outcome.snapshot is None,
                    force=True,
                    reason=f"promotion {record.short_id}: smoke check failed ({failing})",
                    progress=progress,
                )
                result.rollback = undone.to_dict()
                result.status = "rolled_back"
                result.seconds = round(time.monotonic() - started, 2)
                record.finish(
                    "rolled_back",
                    error=f"smoke check failed: {failing}",
                    rollback={
                        "deployment_id": undone.deployment_id,
                        "kept_snapshot": undone.kept_snapshot,
                        "restored_sha": undone.plan.target_sha,
                    },
                    data={"promotion": result.to_dict()},
                )
                raise CheckFailedError(
                    f"Promoted {b.short} to '{request.target}', but a smoke check failed "
                    f"({failing}); rolled back to {undone.plan.target_sha[:12]}.",
                    hint=f"The database that served meanwhile is kept as snapshot "
                    f"{undone.kept_snapshot}."
                    if undone.kept_snapshot
                    else None,
                )
        except environments.DeploymentFailed as exc:
            result.status = "rolled_back" if exc.result.get("status") == "rolled_back" else "failed"
            result.deployment_id = exc.result.get("deployment_id")
            record.finish(
                "rolled_back" if result.status == "rolled_back" else "failed",
                error=exc.message,
                data={"promotion": result.to_dict()},
            )
            raise
        except CheckFailedError:
            raise
        except BaseException as exc:
            if record.outcome is None:
                message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
                record.finish("failed", error=message, data={"promotion": result.to_dict()})
            raise
        result.status = "promoted"
        result.seconds = round(time.monotonic() - started, 2)
        record.finish("succeeded", data={"promotion": result.to_dict()})
    return result
