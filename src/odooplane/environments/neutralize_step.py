"""The neutralization step of a copy (fail-closed) and the verification before every
start of a neutralized environment."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from odooplane.environments import ports
from odooplane.environments.builds import Build
from odooplane.environments.context import EnvContext
from odooplane.environments.state import EnvState, now_iso
from odooplane.environments.steps import (
    NeutralizationRefused,
    RecordedRun,
    catcher_address,
    mail_catcher,
    open_evidence,
)
from odooplane.fsutil import write_atomic
from odooplane.postgres.server import DatabaseServer


def neutralize_step(
    ctx: EnvContext,
    server: DatabaseServer,
    b: Build,
    pair: ports.PortPair,
    run: RecordedRun,
    *,
    source_database: str | None,
) -> dict[str, Any]:
    """Neutralize and verify the database (fail-closed); returns the state record."""
    from odooplane.neutralize import NeutralizationFailed, neutralize_database

    catcher = mail_catcher(ctx)
    assert catcher is not None
    started = time.monotonic()
    with run.step("neutralize") as capture:
        try:
            report = neutralize_database(
                ctx.odoo_server(server),
                ctx.database,
                project=ctx.project,
                environment=ctx.name,
                odoo_source_path=Path(b.odoo_path),
                catcher=catcher,
                base_url=ctx.url(pair),
                progress=run.progress,
            )
        except NeutralizationFailed as exc:
            failed = exc.report.to_dict()
            capture.line(str(failed))
            record = {
                "status": "failed",
                "at": now_iso(),
                "error": exc.message,
                "failures": [
                    c["id"]
                    for c in (failed.get("verification") or {}).get("checks", [])
                    if c.get("status") == "fail"
                ],
            }
            _record_neutralization(ctx, "failed", failed, started, source_database)
            raise NeutralizationRefused(exc.message, record=record, hint=exc.hint) from None
        data = report.to_dict()
        data.pop("reset_password", None)
        capture.line(
            f"neutralized: {report.changed} change(s); verification "
            f"{report.verification.summary() if report.verification else 'skipped'}"
        )
        _record_neutralization(ctx, "succeeded", data, started, source_database)
    verification = data.get("verification") or {}
    return {
        "status": "verified" if verification.get("ok") else "neutralized",
        "at": now_iso(),
        "changed": data.get("changed"),
        "checks": verification.get("summary"),
        "seconds": round(time.monotonic() - started, 2),
    }


LOGIN_FILE = "login.json"


def identity_step(
    ctx: EnvContext,
    server: DatabaseServer,
    pair: ports.PortPair,
    run: RecordedRun,
    *,
    source_database: str,
) -> dict[str, Any]:
    """A clone of a verified neutralized copy: its own identity, then verification
    (fail-closed). The admin login it gets is kept in ``login.json`` (0600)."""
    from odooplane.neutralize import verify_database
    from odooplane.neutralize.identity import personalize_copy

    catcher = mail_catcher(ctx)
    assert catcher is not None
    started = time.monotonic()
    with run.step("identity and verification") as capture:
        identity = personalize_copy(
            ctx.odoo_server(server),
            ctx.database,
            environment=ctx.name,
            base_url=ctx.url(pair),
            catcher=catcher,
        )
        write_atomic(
            ctx.dir / LOGIN_FILE,
            json.dumps({"login": identity.login, "password": identity.password}) + "\n",
            mode=0o600,
        )
        report = verify_database(
            ctx.odoo_server(server),
            ctx.database,
            project=ctx.project,
            environment=ctx.name,
            catcher=catcher,
            base_url=ctx.url(pair),
        )
        data = {"rules": ["identity"], "verification": report.to_dict(), "changed": 5}
        capture.line(f"own identity for {identity.base_url}; verification {report.summary()}")
        if not report.ok:
            failed = [c.id for c in report.failures]
            _record_neutralization(ctx, "failed", data, started, source_database)
            message = (
                f"The copy '{ctx.database}' of a neutralized base does not verify "
                f"({', '.join(failed)})."
            )
            record = {"status": "failed", "at": now_iso(), "error": message, "failures": failed}
            raise NeutralizationRefused(
                message, record=record, hint="Refresh the base: `odooplane preview refresh-base`."
            )
        _record_neutralization(ctx, "succeeded", data, started, source_database)
    return {
        "status": "verified",
        "at": now_iso(),
        "changed": "identity",
        "checks": report.summary(),
        "base": source_database,
        "seconds": round(time.monotonic() - started, 2),
    }


def _record_neutralization(
    ctx: EnvContext,
    status: str,
    data: dict[str, Any],
    started: float,
    source_database: str | None,
) -> None:
    with open_evidence(ctx.project) as store:
        store.record_neutralization(
            ctx.name,
            ctx.database,
            status=status,
            source_database=source_database,
            rules=data.get("rules", []),
            verification=data.get("verification"),
            duration_s=time.monotonic() - started,
        )


def verify_before_start(
    ctx: EnvContext, state: EnvState, server: DatabaseServer, pair: ports.PortPair
) -> None:
    """A neutralized copy starts only when its database verifies, every time (read-only,
    a fraction of a second): whatever changed it since, it never reaches the outside."""
    from odooplane.neutralize import verify_database

    catcher = catcher_address(ctx)
    report = verify_database(
        ctx.odoo_server(server),
        ctx.database,
        project=ctx.project,
        environment=ctx.name,
        catcher=catcher,
        base_url=ctx.url(pair),
    )
    if report.ok:
        if not state.neutralization_ok or state.neutralization is None:
            state.neutralization = {
                "status": "verified",
                "at": now_iso(),
                "checks": report.summary(),
                "note": "verified before starting",
            }
            ctx.store.save(state)
        return
    failed = [c.id for c in report.failures]
    message = (
        f"Environment '{ctx.name}' is not started: its database is not neutralized "
        f"(verification failed: {', '.join(failed)})."
    )
    record = {"status": "failed", "at": now_iso(), "error": message, "failures": failed}
    state.neutralization = record
    ctx.store.save(state)
    raise NeutralizationRefused(
        message,
        record=record,
        hint=f"Fix the leak, then run `odooplane neutralize {ctx.name}` and start it again.",
    )
