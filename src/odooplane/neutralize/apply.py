"""Neutralize a database: Odoo's own layer, odooplane's rules, the project's, then verify.

Everything runs over SQL in one transaction (no Odoo process): a failure anywhere rolls
the database back untouched. Verification then runs in its own READ ONLY transaction;
if any check fails, :class:`NeutralizationFailed` is raised (fail-closed) with the full
report attached.
"""

from __future__ import annotations

import copy
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psycopg

from odooplane.errors import CheckFailedError, RefusedError
from odooplane.neutralize.changes import ChangeTracker
from odooplane.neutralize.odoo_sql import addons_search_path, installed_modules, module_scripts
from odooplane.neutralize.record import RECORD_KEY, NeutralizationRecord, load_record, utcnow
from odooplane.neutralize.report import NeutralizationFailed, NeutralizationReport, RuleResult
from odooplane.neutralize.rules import (
    RULES,
    RuleContext,
    apply_project_rule,
    capture_crons,
    capture_params,
    write_param,
)
from odooplane.neutralize.schema import Schema
from odooplane.neutralize.settings import NeutralizeSettings, settings_for
from odooplane.neutralize.verify import verify_database_with
from odooplane.policy import check_neutralize
from odooplane.progress import Progress
from odooplane.progress import report as report_progress
from odooplane.project import Project

# A running Odoo may hold row locks on the tables we write; waiting forever helps nobody.
LOCK_TIMEOUT = "30s"


def neutralize_database(
    server: Any,
    database: str,
    *,
    project: Project | None,
    environment: str | None,
    odoo_source_path: Path | None,
    catcher: tuple[str, int],
    base_url: str | None = None,
    verify: bool = True,
    force: bool = False,
    progress: Progress | None = None,
) -> NeutralizationReport:
    """Neutralize ``database`` on ``server`` (a :class:`DatabaseServer`) and verify it.

    Production (its environment, its database, its snapshots) is refused with
    :class:`~odooplane.errors.RefusedError` unless ``force`` (:mod:`odooplane.policy`).
    Raises :class:`NeutralizationFailed` when verification finds a leak, with the report
    attached; the changes made are kept (the database is safer than before) but the
    caller must not start it.
    """
    check_neutralize(project, database, environment, force=force)
    settings = settings_for(
        project, environment, catcher=catcher, odoo_source_path=odoo_source_path, base_url=base_url
    )
    return neutralize_with(
        server, database, settings, project=project, verify=verify, force=force, progress=progress
    )


def neutralize_with(
    server: Any,
    database: str,
    settings: NeutralizeSettings,
    *,
    project: Project | None = None,
    verify: bool = True,
    force: bool = False,
    progress: Progress | None = None,
) -> NeutralizationReport:
    """Neutralize ``database`` with ``settings``; production is refused unless ``force``
    (the project's rules, or the protection of the server it came from)."""
    check_neutralize(
        project,
        database,
        settings.environment,
        force=force,
        protection=getattr(server, "protection", None),
    )
    started = time.monotonic()
    report = NeutralizationReport(
        database=database,
        environment=settings.environment,
        odoo_source=str(settings.odoo_source) if settings.odoo_source else None,
    )
    with server.connect(database, autocommit=False) as conn:
        try:
            with conn.cursor() as cur:
                _neutralize(cur, settings, report, progress)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    if verify:
        report_progress(progress, "verifying")
        report.verification = verify_database_with(server, database, settings, project=project)
    report.seconds = time.monotonic() - started
    if not report.ok:
        raise NeutralizationFailed(report)
    return report


def _neutralize(
    cur: psycopg.Cursor[Any],
    settings: NeutralizeSettings,
    report: NeutralizationReport,
    progress: Progress | None = None,
) -> None:
    cur.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    schema = Schema.load(cur)
    if not schema.has_table("ir_module_module") or not schema.has_table("ir_config_parameter"):
        raise RefusedError(
            f"Database '{report.database}' is not an Odoo database (no ir_module_module table).",
            hint="Check the database name: `odooplane db list` shows the databases.",
        )
    cur.execute("SELECT now() at time zone 'UTC'")
    fetched = cur.fetchone()
    now: datetime = fetched[0] if fetched else datetime.now(timezone.utc).replace(tzinfo=None)
    prior = load_record(cur)
    record = NeutralizationRecord(
        environment=settings.environment,
        neutralized_at=prior.neutralized_at
        if prior
        else now.replace(tzinfo=timezone.utc).isoformat(),
        updated_at=prior.updated_at if prior else now.replace(tzinfo=timezone.utc).isoformat(),
        catcher=settings.catcher,
        base_url=settings.base_url,
        production=copy.deepcopy(prior.production) if prior else {},
    )
    tracker = ChangeTracker(cur, schema)
    ctx = RuleContext(
        cur=cur,
        schema=schema,
        settings=settings,
        tracker=tracker,
        prior=prior,
        record=record,
    )
    capture_crons(ctx)
    capture_params(ctx)

    # 1. Odoo's own data/neutralize.sql of every installed module.
    search = addons_search_path(settings.odoo_source, settings.addons_paths)
    scripts = module_scripts(installed_modules(cur), search) if search else []
    order: list[tuple[str, str]] = []
    for number, script in enumerate(scripts):
        report_progress(progress, "Odoo's neutralize.sql files", number, len(scripts))
        ctx.rule = script.name
        order.append((script.name, f"Odoo's {script.source}"))
        report.skipped_statements += [
            f"{script.name}: {' '.join(s.split())}" for s in script.skipped
        ]
        before = tracker.before(script.tables)
        for statement in script.statements:
            try:
                cur.execute(statement)
            except psycopg.Error as exc:
                raise CheckFailedError(
                    f"{script.source} failed on '{report.database}': "
                    f"{str(exc).strip().splitlines()[0]}. Nothing was changed.",
                    hint="A module is probably half-installed: update it, "
                    "or fix the file if it is yours.",
                ) from None
        tracker.after(script.name, before)
    if settings.odoo_source is None:
        ctx.rule = "odoo"
        ctx.note("no Odoo source tree given: Odoo's own neutralize.sql files were not run")
        order.append(("odoo", "Odoo's own neutralize.sql files"))

    # 2. odooplane's rules, then the project's.
    for number, rule in enumerate(RULES):
        report_progress(progress, "odooplane's rules", number, len(RULES))
        ctx.rule = rule.name
        order.append((rule.name, rule.title))
        rule.apply(ctx)
    for number, project_rule in enumerate(settings.rules):
        report_progress(progress, "the project's rules", number, len(settings.rules))
        ctx.rule = f"project:{project_rule.name}"
        order.append((ctx.rule, f"Project rule '{project_rule.name}'"))
        apply_project_rule(ctx, project_rule)

    totals = tracker.totals()
    # 3. The record, written only when it says something new.
    changed_now = sum(totals.values()) > 0
    if prior is None or changed_now or not record.same_content(prior):
        record.updated_at = utcnow()
        write_param(cur, schema, RECORD_KEY, record.to_json())
        totals["record"] += 1
    order.append(("record", "The neutralization record (odooplane.neutralization)"))
    if totals.get("other"):
        order.append(("other", "Rows changed by cascades and triggers"))

    report.rules = [
        RuleResult(name, title, int(totals.get(name, 0)), tuple(ctx.notes.get(name, [])))
        for name, title in order
    ]
    report.reset_password = ctx.reset_password
