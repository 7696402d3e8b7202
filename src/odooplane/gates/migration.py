"""The migration gate: the update of the changed addons, rehearsed on production's data.

1. A copy of production: its newest snapshot younger than
   ``gates.migration.max_age_hours`` (a ``CREATE DATABASE ... TEMPLATE`` of a database
   nobody uses), else its newest backup that young (checksum verified), else a dump of
   the running database (production is not stopped).
2. The copy is neutralized and verified before Odoo touches it: a migration script
   that sends mail or calls an API reaches the mail catcher, nothing else.
3. ``odoo-bin -u <changed addons> -i <new addons> --stop-after-init`` with the new build.
4. Per module: versions from and to, the migration scripts that ran (pre, post, end),
   the time it took. The gate fails on an error in the log, on a module left
   ``to upgrade`` or ``to install``, and on a warning when
   ``gates.migration.fail_on_warnings`` is on.
5. The copy is dropped.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar

from odooplane.errors import OdooplaneError
from odooplane.gates.base import GateContext
from odooplane.gates.model import Case, GateOutcome
from odooplane.gates.runner import production_environment
from odooplane.gates.tests_gate import gate_database_name
from odooplane.odoo.logs import parse_run


def _young_enough(created_at: str | None, max_age_hours: float) -> bool:
    if not created_at:
        return False
    try:
        moment = datetime.fromisoformat(created_at)
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc) - moment <= timedelta(hours=max_age_hours)


def copy_production(ctx: GateContext, source_db: str, target: str, data_root: Path) -> str:
    """Make ``target`` a copy of production's data; returns where it came from."""
    from odooplane.postgres import databases as dbs
    from odooplane.postgres.dumps import copy_live
    from odooplane.postgres.filestore import copy_filestore, filestore_of

    server = ctx.server()
    prod_filestores = ctx.project.odoo_data_dir / "filestore"
    max_age = ctx.settings.migration.max_age_hours
    snapshots = [
        s for s in dbs.list_snapshots(server, source_db) if _young_enough(s.created_at, max_age)
    ]
    if snapshots:
        newest = snapshots[-1]
        dbs.clone_database(server, newest.snapshot_db, target)
        copy_filestore(
            filestore_of(prod_filestores, newest.snapshot_db),
            filestore_of(data_root / "filestore", target),
        )
        return f"snapshot {newest.name} of {source_db} ({newest.created_at})"
    backup = _young_backup(ctx, max_age)
    if backup is not None:
        from odooplane.promotion.backups import check_checksum

        if check_checksum(backup):
            dbs.import_database(
                server, backup.archive, target, filestore_root=data_root / "filestore"
            )
            return f"backup {backup.name} of {source_db} ({backup.created_at})"
        ctx.log.line(f"backup {backup.name} does not match its checksum: not used")
    copy_live(server, source_db, target)
    copy_filestore(
        filestore_of(prod_filestores, source_db), filestore_of(data_root / "filestore", target)
    )
    return (
        f"a copy of {source_db} taken while it served (no snapshot or backup under {max_age:g} h)"
    )


def _young_backup(ctx: GateContext, max_age: float) -> Any:
    from odooplane.promotion.backups import list_backups

    env = production_environment(ctx.project)
    if env is None:
        return None
    young = [b for b in list_backups(ctx.project, env) if _young_enough(b.created_at, max_age)]
    return young[-1] if young else None


class MigrationGate:
    name: ClassVar[str] = "migration"
    title: ClassVar[str] = "Migration"

    def run(self, ctx: GateContext) -> GateOutcome:
        from odooplane.environments.builds import build_project, runtime_of, source_of
        from odooplane.environments.checksums import installed_modules
        from odooplane.mailcatcher import catcher_address
        from odooplane.neutralize import NeutralizationFailed, neutralize_database
        from odooplane.odoo.addons import project_addons
        from odooplane.odoo.process import odoo_options, write_conf
        from odooplane.odoo.series import for_series
        from odooplane.postgres import databases as dbs
        from odooplane.postgres import roles

        prod = production_environment(ctx.project)
        if prod is None:
            return GateOutcome("skipped", "no production environment is configured")
        server = ctx.server()
        source_db = ctx.project.config.database_name(prod)
        if not dbs.database_exists(server, source_db):
            return GateOutcome("skipped", f"production's database {source_db} does not exist yet")
        selected = ctx.changes.selected
        if not selected:
            return GateOutcome("skipped", "no addon changed: nothing to update")
        b = ctx.build
        source, runtime = source_of(b), runtime_of(b)
        project = build_project(ctx.project, b)
        addons = project_addons(project)
        wanted = set(ctx.project.environment(prod).modules) or {
            n for n, a in addons.items() if a.installable
        }
        copy = gate_database_name(ctx, "migration")
        data_root = ctx.work_dir / "data"
        details: dict[str, Any] = {"database": copy, "production": source_db}
        try:
            ctx.say(f"copying production's data into {copy}")
            details["source"] = copy_production(ctx, source_db, copy, data_root)
            ctx.log.line(f"copy of {details['source']}")
            ctx.say("neutralizing the copy before anything runs on it")
            try:
                report = neutralize_database(
                    server,
                    copy,
                    project=ctx.project,
                    environment=None,
                    odoo_source_path=source.path,
                    catcher=catcher_address(ctx.project.state_dir, "gate-migration"),
                )
            except NeutralizationFailed as exc:
                return GateOutcome(
                    "error",
                    f"the copy of production did not verify as neutralized; nothing ran on it "
                    f"({exc.message})",
                    details=details,
                )
            ctx.log.line(f"neutralized: {report.changed} change(s)")
            with server.connect(copy) as conn:
                before = installed_modules(conn)
            update = sorted(n for n in selected if n in before and before[n].state == "installed")
            install = sorted(n for n in selected if n in wanted and n not in update and n in addons)
            details.update({"update": update, "install": install})
            if not update and not install:
                return GateOutcome(
                    "skipped",
                    f"none of {', '.join(selected)} is installed in production or wanted there",
                    details=details,
                )
            # The build's code runs as a throw-away role owning the copy only.
            with roles.temporary_owner(server, copy) as login:
                options = odoo_options(
                    project,
                    source,
                    login,
                    database=copy,
                    extra={"data_dir": str(data_root), "log_level": "info"},
                )
                conf = write_conf(ctx.work_dir / "odoo.conf", source, options)
                ctx.say(
                    f"updating {', '.join(update) or '-'}; installing {', '.join(install) or '-'}"
                )
                started = datetime.now(timezone.utc)
                result = ctx.run(
                    for_series(b.odoo_series).update_argv(
                        runtime, source, conf, database=copy, install=install, update=update
                    ),
                    env=runtime.env(),
                    log_name="update.log",
                )
            with server.connect(copy) as conn:
                after = installed_modules(conn)
        except OdooplaneError as exc:
            return GateOutcome("error", exc.message, details=details)
        finally:
            try:
                dbs.drop_database(
                    server,
                    copy,
                    filestore_root=data_root / "filestore",
                    terminate=True,
                    missing_ok=True,
                )
            except OdooplaneError as exc:
                ctx.log.line(f"warning: could not drop {copy}: {exc.message}")
        return _verdict(
            ctx,
            parse_run(result.output),
            result.code,
            before,
            after,
            update,
            install,
            details,
            started,
        )


def _verdict(
    ctx: GateContext,
    run: Any,
    code: int,
    before: dict[str, Any],
    after: dict[str, Any],
    update: list[str],
    install: list[str],
    details: dict[str, Any],
    started: datetime,
) -> GateOutcome:
    fail_on_warnings = ctx.settings.migration.fail_on_warnings
    modules: list[dict[str, Any]] = []
    cases: list[Case] = []
    for name in [*update, *install]:
        old, new = before.get(name), after.get(name)
        load = run.load_of(name)
        state = new.state if new else "unknown"
        problems = []
        if state != "installed":
            problems.append(f"left '{state}'")
        if load is not None and load.errors:
            problems.append(load.errors[-1].splitlines()[0])
        if fail_on_warnings and load is not None and load.warnings:
            problems.append(f"warning: {load.warnings[-1]}")
        entry: dict[str, Any] = {
            "module": name,
            "from_version": old.latest_version if old and name in update else None,
            "to_version": new.latest_version if new else None,
            "scripts": list(load.scripts) if load else [],
            "seconds": load.seconds if load else None,
            "state": state,
            "status": "failed" if problems else "succeeded",
        }
        modules.append(entry)
        scripts = ", ".join(entry["scripts"]) or "no migration script"
        cases.append(
            Case(
                classname=f"migration.{name}",
                name=f"{entry['from_version'] or 'new'} -> {entry['to_version']}",
                status="failed" if problems else "passed",
                seconds=entry["seconds"] or 0.0,
                message="; ".join(problems) if problems else scripts,
                details="\n\n".join(load.errors) if load and load.errors else None,
            )
        )
        ctx.log.line(
            f"{name}: {entry['from_version'] or '(new)'} -> {entry['to_version']} "
            f"[{entry['status']}] scripts: {scripts}"
        )
    pending = sorted(n for n, r in after.items() if r.state in ("to upgrade", "to install"))
    if pending:
        cases.append(
            Case(
                "migration",
                "pending modules",
                "failed",
                message=f"modules left half done: {', '.join(pending)}",
            )
        )
    stray = [text for owner, text in run.errors if owner not in (*update, *install)]
    for text in stray:
        cases.append(
            Case(
                "migration",
                "error in the log",
                "failed",
                message=text.splitlines()[0],
                details=text,
            )
        )
    if fail_on_warnings:
        for owner, text in run.warnings:
            if owner not in (*update, *install):
                cases.append(
                    Case("migration", "warning in the log", "failed", message=text.splitlines()[0])
                )
    if code != 0 and not any(c.status == "failed" for c in cases):
        cases.append(Case("migration", "odoo-bin", "failed", message=f"exit code {code}"))
    details.update({"modules": modules, "started_at": started.isoformat(), "exit_code": code})
    failed = [c for c in cases if c.status == "failed"]
    ran = sum(len(m["scripts"]) for m in modules)
    if failed:
        return GateOutcome(
            "failed",
            "; ".join(f"{c.classname.removeprefix('migration.')}: {c.message}" for c in failed[:4]),
            cases,
            details,
        )
    return GateOutcome(
        "passed",
        f"{len(modules)} module(s) updated on a copy of production "
        f"({details.get('source', 'copy')}); {ran} migration script(s) ran",
        cases,
        details,
    )
