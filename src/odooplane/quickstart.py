"""The main job: from nothing to an Odoo serving a sample project, in one command.

``quickstart`` creates a git repository with a sample addon and writes its
odooplane.yaml (through ``init``); then the one start-up path of ``odooplane dev``
(:func:`~odooplane.dev.session.prepare_dev`) makes sure of the embedded PostgreSQL, the
runtime, the mail catcher and the development database (cloned from cached templates,
with the project's addons installed). Serving is a :class:`~odooplane.dev.session.DevSession`:
hot reload from the first minute. Every step is idempotent: running it again on the
same folder resumes where it stopped.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from odooplane.config import GitSource
from odooplane.dev.session import DevSession, prepare_dev
from odooplane.environments.health import require_healthy, wait_healthy
from odooplane.environments.prepare import PreparedEnvironment
from odooplane.environments.steps import StepTiming
from odooplane.errors import RefusedError, UsageError
from odooplane.gitrepo import git
from odooplane.odoo.process import log_tail
from odooplane.odoo.series import for_series
from odooplane.odoo.source import OdooSource, fetch_git_source, inspect_source
from odooplane.paths import CONFIG_FILENAME
from odooplane.progress import Progress, report
from odooplane.project import load_project
from odooplane.scaffold import init_project

SAMPLE_ADDON = "hello_odooplane"
_URL_RE = re.compile(r"^(https?|git|ssh|file)://|^[\w.-]+@[\w.-]+:")


@dataclass
class Quickstart:
    """What quickstart prepared; ``url`` is set once Odoo answered."""

    project_root: Path
    created_project: bool
    prepared: PreparedEnvironment
    url: str | None = None

    @property
    def database(self) -> str:
        return self.prepared.database

    @property
    def steps(self) -> list[StepTiming]:
        return self.prepared.steps

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.prepared.to_dict(),
            "project_root": str(self.project_root),
            "created_project": self.created_project,
            "url": self.url,
            "login": "admin",
            "password": "admin",
        }


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


def _source_for(odoo_source: str, odoo_ref: str | None, progress: Progress | None) -> OdooSource:
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
    target: Path,
    odoo_source: str,
    *,
    odoo_ref: str | None = None,
    progress: Progress | None = None,
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


def prepare(
    target: Path,
    odoo_source: str | None,
    *,
    odoo_ref: str | None = None,
    progress: Progress | None = None,
) -> Quickstart:
    """Create (or resume) the sample project and everything Odoo needs to serve it."""
    target = target.expanduser().resolve()
    report(progress, "project")
    started = time.monotonic()
    if odoo_source is None and not (target / CONFIG_FILENAME).is_file():
        raise UsageError(
            "quickstart needs --odoo-source to create a new project.",
            hint="Give an Odoo source folder (e.g. /opt/odoo-src/17.0) or a git URL "
            "with --odoo-ref.",
        )
    created = create_project(target, odoo_source or "", odoo_ref=odoo_ref, progress=progress)
    project = load_project(target)
    took = StepTiming("project", round(time.monotonic() - started, 2), "succeeded")
    prepared = prepare_dev(project, progress=progress)
    prepared.steps.insert(0, took)
    return Quickstart(project.root, created, prepared)


def check_serving(result: Quickstart, *, port: int | None = None, timeout: float = 180) -> str:
    """Serve the project as ``odooplane dev`` does, check that the login page answers,
    then stop (what ``quickstart --no-serve`` and CI do); returns the URL it answered on."""
    with DevSession(result.prepared, port=port) as session:
        session.start()
        url = session.url
        health = wait_healthy(url, timeout=timeout)
        require_healthy(health, log_tail(session.log_path))
    result.url = url
    return url
