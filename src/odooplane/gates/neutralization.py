"""The neutralization gate: the read-only verification of the staging database (and of
its odoo.conf, env file and visible secrets), as ``odooplane verify`` runs it."""

from __future__ import annotations

from typing import ClassVar

from odooplane.config import EnvironmentKind
from odooplane.gates.base import GateContext
from odooplane.gates.model import Case, GateOutcome


def staging_environment(ctx: GateContext) -> str | None:
    """The environment whose copy is verified: the one the gates run for when it is a
    neutralized one, else the first staging environment."""
    envs = ctx.project.config.environments
    if ctx.environment is not None and envs[ctx.environment].neutralized:
        return ctx.environment
    return next((n for n, e in envs.items() if e.kind is EnvironmentKind.staging), None)


class NeutralizationGate:
    name: ClassVar[str] = "neutralization"
    title: ClassVar[str] = "Neutralization"

    def run(self, ctx: GateContext) -> GateOutcome:
        from odooplane.neutralize import verify_environment

        env = staging_environment(ctx)
        if env is None:
            return GateOutcome("skipped", "no staging environment is configured")
        report = verify_environment(ctx.project, env, server=ctx.server())
        for check in report.checks:
            ctx.log.line(f"{check.status:7} {check.id}: {check.detail}")
        cases = [
            Case(
                classname=f"neutralization.{env}",
                name=check.id,
                status={"pass": "passed", "fail": "failed", "skip": "skipped"}.get(
                    check.status, "error"
                ),  # type: ignore[arg-type]
                message=check.detail if check.status != "pass" else None,
            )
            for check in report.checks
        ]
        failures = [c.id for c in report.failures]
        if failures:
            return GateOutcome(
                "failed",
                f"{env} ({report.database}) can reach the outside: {', '.join(failures)}",
                cases,
                {"environment": env, "database": report.database},
            )
        return GateOutcome(
            "passed",
            f"{env} ({report.database}) is neutralized ({report.summary()})",
            cases,
            {"environment": env, "database": report.database},
        )
