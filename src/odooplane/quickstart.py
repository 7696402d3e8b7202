"""The main job: from nothing to an Odoo serving a sample project, in one command.

``quickstart`` creates a git repository with a sample addon, writes its odooplane.yaml
(through ``init``), starts the embedded PostgreSQL, builds the Python runtime, creates
the development database with demo data and starts Odoo on it. Every step is
idempotent: running it again on the same folder resumes where it stopped.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import psycopg

from odooplane.config import EnvironmentKind, GitSource
from odooplane.environments.health import require_healthy, wait_healthy
from odooplane.errors import RefusedError, UsageError
from odooplane.gitrepo import git
from odooplane.odoo.process import OdooProcess, start_server
from odooplane.odoo.runtime import Runtime, ensure_runtime
from odooplane.odoo.series import for_series
from odooplane.odoo.source import OdooSource, fetch_git_source, inspect_source, resolve_source
from odooplane.paths import CONFIG_FILENAME
from odooplane.ports import free_port, is_port_free
from odooplane.postgres.databases import database_exists
from odooplane.postgres.project_server import server_for
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project, load_project
from odooplane.scaffold import init_project

SAMPLE_ADDON = "hello_odooplane"
BASE_MODULES = ["base", "web"]
DEFAULT_PORT = 8069
_URL_RE = re.compile(r"^(https?|git|ssh|file)://|^[\w.-]+@[\w.-]+:")

# (step name, "start" | "done", seconds so far, detail)
StepCallback = Callable[[str, str, float, str], None]


@dataclass
class QuickstartResult:
    """What quickstart prepared; ``url`` is where Odoo answers once started."""

    project_root: Path
    created_project: bool
    database: str
    created_database: bool
    source: dict[str, str]
    runtime: dict[str, object]
    steps: dict[str, float] = field(default_factory=dict)
    url: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "project_root": str(self.project_root),
            "created_project": self.created_project,
            "database": self.database,
            "created_database": self.created_database,
            "source": self.source,
            "runtime": self.runtime,
            "steps": self.steps,
            "url": self.url,
            "login": "admin",
            "password": "admin",
        }


@dataclass
class Prepared:
    """Everything needed to start Odoo for the development environment."""

    project: Project
    source: OdooSource
    runtime: Runtime
    server: DatabaseServer
    database: str
    result: QuickstartResult


def _is_git_url(value: str) -> bool:
    return bool(_URL_RE.match(value))


def _git(cwd: Path, *args: str) -> None:
    # A machine with no git identity must still be able to make the first commit.
    has_identity = bool(git(cwd, "config", "user.email", check=False))
    identity = () if has_identity else ("user.name=odooplane", "user.email=odooplane@localhost")
    git(cwd, *args, config=identity)


def write_sample_addon(addons_dir: Path, series: str) -> Path:
    """Copy the sample addon shipped with odooplane, written for ``series``: its version,
    and the spellings the series uses (list views, groups, SQL constraints)."""
    profile = for_series(series)
    values = {
        "{series}": series,
        "{list_view}": profile.list_view,
        "{groups_field}": profile.groups_field,
        "{constraints}": profile.unique_constraint(
            "name_unique", ["name"], "A greeting with this name already exists."
        ).rstrip("\n"),
    }
    target = addons_dir / SAMPLE_ADDON
    template = resources.files("odooplane") / "templates" / "sample_addon"
    with resources.as_file(template) as folder:
        for path in sorted(Path(folder).rglob("*")):
            if "__pycache__" in path.parts or path.is_dir():
                continue
            rel = path.relative_to(folder)
            dest = target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            text = path.read_text(encoding="utf-8")
            for placeholder, value in values.items():
                text = text.replace(placeholder, value)
            dest.write_text(text, encoding="utf-8")
    return target


def _source_for(odoo_source: str, odoo_ref: str | None, progress: bool) -> OdooSource:
    if _is_git_url(odoo_source):
        if not odoo_ref:
            raise UsageError(
                f"--odoo-source {odoo_source} is a git URL; say which branch or tag to use.",
                hint="Add --odoo-ref 17.0 (or the series you want).",
            )
        path = fetch_git_source(GitSource(git=odoo_source, ref=odoo_ref), progress=progress)
        return inspect_source(path, where="--odoo-source")
    return inspect_source(Path(odoo_source).expanduser().resolve(), where="--odoo-source")


def create_project(
    target: Path, odoo_source: str, *, odoo_ref: str | None = None, progress: bool = True
) -> bool:
    """Make ``target`` a sample project; False when it already was one (resume)."""
    if (target / CONFIG_FILENAME).is_file():
        return False
    if target.exists() and any(target.iterdir()):
        raise RefusedError(
            f"{target} exists and is not empty; quickstart only creates new projects.",
            hint=f"Use an empty folder, or run `odooplane init` inside {target} for an "
            "existing repository.",
        )
    source = _source_for(odoo_source, odoo_ref, progress)
    target.mkdir(parents=True, exist_ok=True)
    _git(target, "init", "-q", "-b", "main")
    write_sample_addon(target / "addons", source.series)
    value = odoo_source if _is_git_url(odoo_source) else str(source.path)
    init_project(target, odoo_source=value)
    if odoo_ref and _is_git_url(odoo_source) and odoo_ref != source.series:
        # init writes the series as the ref; keep the ref the user asked for.
        config = target / CONFIG_FILENAME
        text = config.read_text(encoding="utf-8")
        config.write_text(
            re.sub(r"(?m)^(\s*ref:\s*).*$", lambda m: f"{m.group(1)}'{odoo_ref}'", text, count=1),
            encoding="utf-8",
        )
    _git(target, "add", "-A")
    _git(target, "commit", "-q", "-m", "Start the project with odooplane quickstart")
    return True


def development_environment(project: Project) -> str:
    for name, env in project.config.environments.items():
        if env.kind is EnvironmentKind.development:
            return name
    raise UsageError(
        f"{project.config_path} defines no development environment for quickstart to use.",
        hint="Add one under `environments:` with `kind: development`.",
    )


@contextmanager
def _timed(name: str, steps: dict[str, float], on_step: StepCallback | None) -> Iterator[None]:
    started = time.monotonic()
    if on_step:
        on_step(name, "start", 0.0, "")
    yield
    steps[name] = round(time.monotonic() - started, 2)
    if on_step:
        on_step(name, "done", steps[name], "")


def prepare(
    target: Path,
    odoo_source: str | None,
    *,
    odoo_ref: str | None = None,
    progress: bool = True,
    on_step: StepCallback | None = None,
) -> Prepared:
    """Create (or resume) the sample project and everything Odoo needs to serve it."""
    from odooplane.odoo.process import initialize_database

    target = target.expanduser().resolve()
    steps: dict[str, float] = {}
    with _timed("project", steps, on_step):
        if odoo_source is None and not (target / CONFIG_FILENAME).is_file():
            raise UsageError(
                "quickstart needs --odoo-source to create a new project.",
                hint="Give an Odoo source folder (e.g. /opt/odoo-src/17.0) or a git URL "
                "with --odoo-ref.",
            )
        created = create_project(target, odoo_source or "", odoo_ref=odoo_ref, progress=progress)
        project = load_project(target)
    with _timed("postgres", steps, on_step):
        server = server_for(project, start=True)
    with _timed("odoo source", steps, on_step):
        source = resolve_source(project.config.odoo, project.root, progress=progress)
    with _timed("runtime", steps, on_step):
        runtime = ensure_runtime(project, source, progress=progress)
    env_name = development_environment(project)
    database = project.config.database_name(env_name)
    env = project.config.environments[env_name]
    modules = list(dict.fromkeys([*BASE_MODULES, *env.modules, SAMPLE_ADDON]))
    created_db = False
    with _timed("database", steps, on_step):
        if not database_exists(server, database) or not _initialized(server, database, modules):
            initialize_database(
                project, source, runtime, server, database, modules, demo=env.data != "fresh"
            )
            created_db = True
    result = QuickstartResult(
        project_root=project.root,
        created_project=created,
        database=database,
        created_database=created_db,
        source=source.as_dict(),
        runtime=runtime.as_dict(),
        steps=steps,
    )
    return Prepared(project, source, runtime, server, database, result)


def _initialized(server: DatabaseServer, database: str, modules: list[str]) -> bool:
    from odooplane.odoo.process import installed_modules

    try:
        return installed_modules(server, database, modules) == set(modules)
    except psycopg.Error:
        # A database without Odoo's tables (an interrupted first run) is not initialized.
        return False


def start(
    prepared: Prepared, *, port: int | None = None, on_step: StepCallback | None = None
) -> OdooProcess:
    """Start Odoo on the development database and wait until it serves the login page."""
    chosen = port or (DEFAULT_PORT if is_port_free(DEFAULT_PORT, "127.0.0.1") else free_port())
    if port is not None and not is_port_free(port, "127.0.0.1"):
        raise RefusedError(
            f"Port {port} is already taken on 127.0.0.1.",
            hint="Pick another with --port, or leave it out to use a free one.",
        )
    with _timed("start odoo", prepared.result.steps, on_step):
        process = start_server(
            prepared.project,
            prepared.source,
            prepared.runtime,
            prepared.server,
            prepared.database,
            http_port=chosen,
            dev=["xml", "qweb"],
        )
        try:
            health = wait_healthy(
                process.url,
                timeout=180,
                still_running=lambda: (
                    None if process.alive() else f"Odoo exited with code {process.popen.returncode}"
                ),
            )
            require_healthy(health, process.log_tail())
        except BaseException:
            process.stop()
            raise
    prepared.result.url = process.url
    return process
