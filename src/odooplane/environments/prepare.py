"""What an environment needs before Odoo can serve it, made sure of step by step.

:func:`prepare_environment` is the one start-up path of ``odooplane dev``,
``quickstart`` and ``env create`` (fresh and demo data): the database server, the Odoo
source, the Python runtime, the mail catcher, and the database, created from cached
templates (:mod:`odooplane.odoo.newdb`) with the modules
:func:`~odooplane.odoo.newdb.wanted_modules` decides, or completed with the modules it
lacks. Each step is timed and announced
through the progress protocol; running it again resumes where it stopped.

Serving the working tree (``dev``, ``quickstart``) records the environment in the state
folder as soon as its database exists, so ``env list``, ``env destroy`` and the others
know it (:mod:`odooplane.environments.sessions` records who serves it).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from odooplane.config import EnvironmentKind
from odooplane.environments.steps import StepTiming
from odooplane.errors import RefusedError, UsageError
from odooplane.odoo.addons import addons_path
from odooplane.odoo.newdb import NewDatabase, new_database, wanted_modules
from odooplane.odoo.process import initialize_database, installed_modules
from odooplane.postgres import roles
from odooplane.postgres.databases import database_exists
from odooplane.progress import Progress, report
from odooplane.results import jsonable

if TYPE_CHECKING:
    from odooplane.environments.builds import Build
    from odooplane.odoo.runtime import Runtime
    from odooplane.odoo.source import OdooSource
    from odooplane.postgres.server import DatabaseServer
    from odooplane.project import Project


@dataclass
class PreparedEnvironment:
    """An environment ready to be served: where its code, runtime and database are."""

    project: Project
    environment: str
    kind: str
    database: str
    code: Project  # whose addons are served: the working tree, or a build's export
    source: OdooSource
    runtime: Runtime
    server: DatabaseServer
    modules: list[str]
    demo: bool
    created_database: bool = False
    new_database: NewDatabase | None = None
    installed: list[str] = field(default_factory=list)  # into an existing database
    mail: tuple[str, int] | None = None
    mail_started: bool = False  # this call started the catcher
    steps: list[StepTiming] = field(default_factory=list)
    # The login its Odoo connects with: the environment's own role (odooplane's login
    # when the server cannot have roles per environment). Set by those who serve it.
    odoo_login: DatabaseServer | None = None

    @property
    def seconds(self) -> float:
        return round(sum(s.seconds for s in self.steps), 2)

    def to_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "kind": self.kind,
            "project_root": str(self.project.root),
            "database": self.database,
            "created_database": self.created_database,
            "modules": self.modules,
            "demo": self.demo,
            "installed": self.installed,
            "new_database": self.new_database.to_dict() if self.new_database else None,
            "source": self.source.to_dict(),
            "runtime": self.runtime.to_dict(),
            "mail": list(self.mail) if self.mail else None,
            "steps": jsonable(self.steps),
            "seconds": self.seconds,
        }


def development_environment(project: Project, requested: str | None = None) -> str:
    """``requested`` (never a production environment), or the project's first
    development environment: what ``dev`` and ``quickstart`` serve."""
    envs = project.config.environments
    if requested:
        if requested not in envs:
            raise UsageError(
                f"{project.config_path} has no environment named '{requested}'.",
                hint=f"Known environments: {', '.join(envs) or 'none'}.",
            )
        if envs[requested].kind is EnvironmentKind.production:
            raise RefusedError(
                f"'{requested}' is a production environment; `odooplane dev` only serves "
                "development databases.",
                hint="Name a development environment, or leave ENV out.",
            )
        return requested
    for name, env in envs.items():
        if env.kind is EnvironmentKind.development:
            return name
    raise UsageError(
        f"{project.config_path} defines no development environment.",
        hint="Add one under `environments:` with `kind: development`, or name one as ENV.",
    )


class _Steps:
    """Times named steps and announces each through ``progress``."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.done: list[StepTiming] = []

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[list[str]]:
        report(self.progress, name)
        started = time.monotonic()
        details: list[str] = []
        status = "succeeded"
        try:
            yield details
        except BaseException:
            status = "failed"
            raise
        finally:
            seconds = round(time.monotonic() - started, 2)
            self.done.append(StepTiming(name, seconds, status, "; ".join(details)))


def prepare_environment(
    project: Project,
    name: str,
    *,
    build: Build | None = None,
    mail: bool | None = None,
    extra_addons: Sequence[Path] = (),
    extra_modules: Sequence[str] = (),
    progress: Progress | None = None,
) -> PreparedEnvironment:
    """Make sure of everything environment ``name`` needs to be served.

    Without ``build`` the working tree is served (``dev``, ``quickstart``): the source and
    runtime follow the project's configuration. With it (``env create``) they are the
    build's. ``mail`` starts the mail catcher (default: for every environment but
    production). ``extra_addons`` are folders of helper addons (the dev live reload) and
    ``extra_modules`` what a new database should hold of them.

    A missing database is created from templates with the environment's modules (its
    ``modules``, else every installable addon of the project) and demo data unless its
    ``data`` is ``fresh``; an existing one gets the modules it lacks installed.
    """
    from odooplane.environments.builds import build_project, runtime_of, source_of
    from odooplane.mailcatcher import catcher_status, ensure_catcher
    from odooplane.odoo.runtime import ensure_runtime
    from odooplane.odoo.source import resolve_source
    from odooplane.postgres.project_server import server_for

    env = project.environment(name)
    steps = _Steps(progress)
    with steps("postgres"):
        server = server_for(project, start=True)
    if build is None:
        with steps("odoo source"):
            source = resolve_source(project.config.odoo, project.root, progress=progress)
        with steps("runtime"):
            runtime = ensure_runtime(project, source, progress=progress)
        code = project
    else:
        source, runtime, code = source_of(build), runtime_of(build), build_project(project, build)
    prepared = PreparedEnvironment(
        project=project,
        environment=name,
        kind=env.kind.value,
        database=project.config.database_name(name),
        code=code,
        source=source,
        runtime=runtime,
        server=server,
        modules=list(dict.fromkeys([*wanted_modules(code, env.modules), *extra_modules])),
        demo=env.data != "fresh",
        steps=steps.done,
    )
    if mail if mail is not None else env.kind is not EnvironmentKind.production:
        with steps("mail catcher"):
            prepared.mail_started = not catcher_status(project.state_dir).running
            prepared.mail = ensure_catcher(project.state_dir, name)
    with steps("database") as details:
        _database(prepared, extra_addons, progress)
        if prepared.new_database is not None:
            made = prepared.new_database
            details.append(
                "cloned from cached templates"
                if made.hit
                else f"template layers {_outcomes(made)}, then cloned"
            )
        elif prepared.installed:
            details.append(f"installed {', '.join(prepared.installed)}")
    return prepared


def _outcomes(made: NewDatabase) -> str:
    return ", ".join(f"{u.template.layer} {u.outcome}" for u in made.layers)


def _database(
    prepared: PreparedEnvironment, extra_addons: Sequence[Path], progress: Progress | None
) -> None:
    project, server, database = prepared.project, prepared.server, prepared.database
    if not database_exists(server, database):
        prepared.new_database = new_database(
            prepared.code,
            prepared.source,
            prepared.runtime,
            server,
            database,
            modules=prepared.modules,
            demo=prepared.demo,
            filestore_root=project.odoo_data_dir / "filestore",
            extra_addons=extra_addons,
            progress=progress,
        )
        prepared.created_database = True
        return
    try:
        present = installed_modules(server, database, prepared.modules)
    except psycopg.Error:
        # A database without Odoo's tables (made by hand, or an interrupted run of an
        # older odooplane): Odoo initializes it in place; nothing in it is dropped.
        present = set()
    missing = [m for m in prepared.modules if m not in present]
    if not missing:
        return
    report(progress, f"installing {', '.join(missing)}")
    env = project.environment(prepared.environment)
    initialize_database(
        prepared.code,
        prepared.source,
        prepared.runtime,
        server,
        database,
        missing,
        demo=prepared.demo,
        extra_options=dict(env.odoo_options),
        addons_paths=addons_path(prepared.code, prepared.source, extra=extra_addons),
    )
    # Installed with odooplane's login: what it made becomes the environment role's.
    roles.settle(server, database)
    prepared.installed = missing
