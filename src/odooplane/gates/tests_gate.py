"""The tests gate: Odoo's own test runner on a fresh database with demo data.

Two Odoo runs on a new database: first the dependencies of the changed addons are
installed (with demo data, no tests), then the changed addons and their reverse
dependencies are installed with ``--test-enable --test-tags /addon,...`` so that only
their tests run, at install and post-install. When every dependency is one of Odoo's
own modules, the first run is a clone of the template cache's Odoo layer instead
(:mod:`odooplane.odoo.newdb`: built once, from Odoo's source alone, with odooplane's
login, which never runs the build's own code). The log is parsed into one case per test
method; an addon that does not install is a failed case naming it and the error. The
database is dropped afterwards.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any, ClassVar

from odooplane.errors import OdooplaneError
from odooplane.gates.base import GateContext
from odooplane.gates.model import Case, GateOutcome
from odooplane.odoo.logs import OdooRun, parse_run


def gate_database_name(ctx: GateContext, purpose: str) -> str:
    project = ctx.project.config.project.replace("-", "_")[:24]
    return f"gate_{project}_{purpose}_{ctx.build.sha[:8]}_{uuid.uuid4().hex[:6]}"


def _last_line(text: str) -> str:
    return next((line.strip() for line in reversed(text.splitlines()) if line.strip()), text)


def install_failures(run: OdooRun, modules: list[str], states: dict[str, str]) -> list[Case]:
    """A failed case for each of ``modules`` not installed, with the error that stopped
    it (the error logged while loading it, else the last error of the run)."""
    cases = []
    for module in modules:
        state = states.get(module, "unknown")
        if state == "installed":
            continue
        own = [text for owner, text in run.errors if owner == module]
        error = own[-1] if own else (run.errors[-1][1] if run.errors else "")
        if module in run.not_loaded:
            reason = "Odoo did not load it (missing dependency or manifest)"
        elif error:
            reason = _last_line(error)
        else:
            reason = f"its state is '{state}' after the run"
        cases.append(
            Case(
                classname=f"install.{module}",
                name=f"install {module}",
                status="failed",
                message=f"module {module} failed to install: {reason}",
                details=error or None,
            )
        )
    return cases


def module_states(ctx: GateContext, database: str) -> dict[str, str]:
    with ctx.server().connect(database) as conn:
        rows = conn.execute("SELECT name, state FROM ir_module_module").fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


class TestsGate:
    __test__ = False  # not a pytest class
    name: ClassVar[str] = "tests"
    title: ClassVar[str] = "Tests"

    def run(self, ctx: GateContext) -> GateOutcome:
        from odooplane.environments.builds import build_project, runtime_of, source_of
        from odooplane.odoo.addons import all_addons, dependency_closure
        from odooplane.odoo.newdb import new_database, plan_layers
        from odooplane.odoo.process import odoo_options, write_conf
        from odooplane.odoo.series import for_series
        from odooplane.postgres import databases as dbs
        from odooplane.postgres import roles

        targets = ctx.changes.selected
        if not targets:
            return GateOutcome("skipped", "no addon changed: no test to run")
        b = ctx.build
        source, runtime = source_of(b), runtime_of(b)
        project = build_project(ctx.project, b)
        known = all_addons(project, source)
        try:
            deps = sorted(dependency_closure(known, targets) - set(targets))
        except OdooplaneError as exc:
            case = Case("install", "dependencies", "failed", message=exc.message)
            return GateOutcome("failed", exc.message, [case])
        server = ctx.server()
        database = gate_database_name(ctx, "tests")
        installed = deps or ["base"]
        layers = plan_layers(project, source, runtime, installed, demo=True)
        details: dict[str, Any] = {"database": database, "addons": targets, "dependencies": deps}
        cloned = bool(layers) and all(layer.name == "odoo" for layer in layers)
        if cloned:
            # Odoo's own modules only: the template of them, with demo data.
            ctx.say(f"cloning {len(installed)} dependencies with demo data from the template")
            made = new_database(
                project,
                source,
                runtime,
                server,
                database,
                modules=installed,
                demo=True,
                filestore_root=ctx.work_dir / "data" / "filestore",
                progress=ctx.progress,
            )
            details["template"] = made.to_dict()
            ctx.log.line(
                f"{database}: a clone of the template of {', '.join(made.modules)} with demo "
                f"data ({made.seconds:.2f} s)"
            )
        else:
            dbs.create_database(server, database, exist_ok=True)
        # The build's code runs as a throw-away role owning this database only, never
        # as odooplane's login (docs/security.md).
        owner = contextlib.ExitStack()
        login = owner.enter_context(roles.temporary_owner(server, database))
        options = odoo_options(
            project,
            source,
            login,
            database=database,
            extra={"demo": True, "data_dir": str(ctx.work_dir / "data"), "log_level": "info"},
        )
        conf = write_conf(ctx.work_dir / "odoo.conf", source, options)
        series = for_series(b.odoo_series)
        env = runtime.env()
        try:
            if not cloned:
                ctx.say(f"installing {len(installed)} dependencies with demo data into {database}")
                first = ctx.run(
                    series.init_argv(
                        runtime, source, conf, database=database, modules=installed, demo=True
                    ),
                    env=env,
                    log_name="install-dependencies.log",
                )
            if not cloned and first.code != 0:
                run = parse_run(first.output)
                states = (
                    module_states(ctx, database) if dbs.database_exists(server, database) else {}
                )
                cases = install_failures(run, installed, states) or [
                    Case(
                        "install",
                        "dependencies",
                        "failed",
                        message=f"odoo-bin exited with code {first.code}",
                        details=_last_line(first.output),
                    )
                ]
                return GateOutcome(
                    "failed",
                    "the dependencies of the changed addons did not install: "
                    + "; ".join(c.message or c.name for c in cases),
                    cases,
                    details,
                )
            ctx.say(f"installing and testing {', '.join(targets)}")
            tags = ",".join(f"/{name}" for name in targets)
            second = ctx.run(
                series.test_argv(
                    runtime,
                    source,
                    conf,
                    database=database,
                    modules=targets,
                    tags=tags,
                    install=True,
                ),
                env=env,
                log_name="tests.log",
            )
            run = parse_run(second.output)
            states = module_states(ctx, database)
        finally:
            owner.close()
            try:
                dbs.drop_database(server, database, terminate=True, missing_ok=True)
            except OdooplaneError as exc:
                ctx.log.line(f"warning: could not drop {database}: {exc.message}")
        cases = [
            Case(
                classname=f"{t.module}.{t.classname}",
                name=t.name,
                status=t.status,  # type: ignore[arg-type]
                seconds=t.seconds,
                message=t.message,
                details=t.details,
            )
            for t in run.tests
            if t.module in targets
        ]
        cases += install_failures(run, targets, states)
        foreign = sorted({t.module for t in run.tests if t.module not in targets})
        if foreign:
            ctx.log.line(f"note: tests of {', '.join(foreign)} ran and are not counted")
        failing = [c for c in cases if c.status in ("failed", "error")]
        ran = sum(1 for c in cases if not c.classname.startswith("install."))
        details.update({"tests": ran, "exit_code": second.code})
        if not failing and second.code != 0:
            error = run.errors[-1][1] if run.errors else _last_line(second.output)
            failing.append(
                Case(
                    "odoo",
                    "run",
                    "error",
                    message=f"odoo-bin exited with code {second.code}",
                    details=error,
                )
            )
            cases.append(failing[-1])
        if failing:
            names = ", ".join(f"{c.classname}.{c.name}" for c in failing[:5])
            more = f" and {len(failing) - 5} more" if len(failing) > 5 else ""
            return GateOutcome(
                "failed", f"{len(failing)} of {len(cases)} failed: {names}{more}", cases, details
            )
        if ran == 0:
            return GateOutcome(
                "passed", f"{', '.join(targets)} installed; they have no tests", cases, details
            )
        return GateOutcome(
            "passed", f"{ran} test(s) of {', '.join(targets)} passed", cases, details
        )
