"""Builds: what a deployment runs, made once and reused.

A build is (project commit, Odoo source revision, dependencies hash). ``build(ref)``
resolves the commit, exports it with its submodules to ``<state>/builds/<sha>/code``
(never the working tree, so uncommitted edits never reach an environment), ensures
the Python runtime for the dependencies the *exported* commit declares, and writes
``<state>/builds/<sha>/build.json``: SHA, branch, commit message, author, timestamps,
Odoo series and revision, dependencies hash, runtime and addons with their versions.
Building the same inputs again reuses all of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import filelock

from odooplane import gitrepo
from odooplane.environments.state import now_iso
from odooplane.errors import ConfigError, NotFoundError
from odooplane.fsutil import read_json, write_json_atomic
from odooplane.odoo.addons import addons_path, check_installable, project_addons
from odooplane.odoo.runtime import Runtime, ensure_runtime, load_runtime
from odooplane.odoo.source import OdooSource, resolve_source
from odooplane.progress import Progress
from odooplane.project import Project
from odooplane.results import Result

if TYPE_CHECKING:
    from odooplane.containers.images import BuildImage
    from odooplane.evidence.api import EvidenceStore


def builds_dir(project: Project) -> Path:
    return project.state_dir / "builds"


@dataclass
class Build(Result):
    sha: str
    ref: str
    branch: str | None
    subject: str
    message: str
    author_name: str
    author_email: str
    committed_at: str
    authored_at: str
    odoo_series: str
    odoo_revision: str
    odoo_path: str
    deps_hash: str
    runtime_path: str
    python: str
    code_dir: str
    project_subdir: str
    addons: dict[str, str] = field(default_factory=dict)
    submodules: list[str] = field(default_factory=list)
    built_at: str = field(default_factory=now_iso)
    build_seconds: float = 0.0
    reused: bool = False
    evidence_id: str | None = None

    @property
    def id(self) -> str:
        return self.sha

    @property
    def short(self) -> str:
        return self.sha[:12]

    @property
    def project_root(self) -> Path:
        """The exported commit's project folder (where its odooplane.yaml would be)."""
        return Path(self.code_dir) / self.project_subdir

    def inputs(self) -> tuple[str, str, str]:
        return (self.sha, self.odoo_revision, self.deps_hash)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Build:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def summary(self) -> dict[str, Any]:
        """The part of a build kept in environment state and deployment records."""
        return {
            "sha": self.sha,
            "branch": self.branch,
            "subject": self.subject,
            "author": f"{self.author_name} <{self.author_email}>",
            "committed_at": self.committed_at,
            "odoo_series": self.odoo_series,
            "odoo_revision": self.odoo_revision,
            "deps_hash": self.deps_hash,
        }


def build_project(project: Project, build: Build) -> Project:
    """The project as of the build's commit: its addons, its requirement files."""
    return Project(root=build.project_root, config=project.config)


def load_build(project: Project, sha: str) -> Build | None:
    data = read_json(builds_dir(project) / sha / "build.json")
    if not isinstance(data, dict):
        return None
    found = Build.from_dict(data)
    if not Path(found.code_dir).is_dir():
        return None
    return found


def require_build(project: Project, sha: str) -> Build:
    found = load_build(project, sha)
    if found is None:
        raise NotFoundError(
            f"Build {sha[:12]} is not in {builds_dir(project)}.",
            hint=f"Run `odooplane build {sha[:12]}` to make it again.",
        )
    return found


def list_builds(project: Project) -> list[Build]:
    base = builds_dir(project)
    if not base.is_dir():
        return []
    found = [b for p in base.iterdir() if p.is_dir() and (b := load_build(project, p.name))]
    return sorted(found, key=lambda b: b.built_at, reverse=True)


def _project_subdir(repo_root: Path) -> str:
    prefix = gitrepo.git(repo_root, "rev-parse", "--show-prefix")
    return prefix.rstrip("/")


def record_build(store: EvidenceStore, b: Build, *, image: BuildImage | None = None) -> str:
    """Record ``b`` in the evidence store (idempotent: same inputs, same id), with the
    image it runs from when it runs in a container."""
    row = store.record_build(
        git_sha=b.sha,
        branch=b.branch,
        commit_message=b.message,
        author=f"{b.author_name} <{b.author_email}>",
        committed_at=datetime.fromisoformat(b.committed_at),
        odoo_series=b.odoo_series,
        odoo_revision=b.odoo_revision,
        dependencies_hash=b.deps_hash,
    )
    if image is not None:
        store.record_build_image(
            row.id,
            git_sha=b.sha,
            image_id=image.image_id,
            tag=image.tag,
            base_image=image.base_image,
            base_image_id=image.base_image_id,
            layers={layer.role: layer.image_id for layer in image.layers},
            size_bytes=image.size_bytes,
        )
    return str(row.id)


def build(
    project: Project,
    ref: str,
    *,
    progress: Progress | None = None,
    source: OdooSource | None = None,
    record: bool = True,
) -> Build:
    """Build ``ref`` of the project (or reuse the build of the same inputs) and record
    it in the evidence store."""
    result = _build(project, ref, progress=progress, source=source)
    if record:
        record_in_evidence(project, result)
    return result


def record_in_evidence(project: Project, b: Build, *, image: BuildImage | None = None) -> str:
    """Record ``b`` (and its image) in the project's evidence store; returns its id."""
    from odooplane.evidence.api import EvidenceStore

    with EvidenceStore.open(project) as store:
        b.evidence_id = record_build(store, b, image=image)
    return b.evidence_id


def _build(
    project: Project,
    ref: str,
    *,
    progress: Progress | None,
    source: OdooSource | None,
) -> Build:
    import time

    started = time.monotonic()
    gitrepo.require_repository(project.root)
    sha = gitrepo.resolve_ref(project.root, ref)
    info = gitrepo.commit_info(project.root, sha)
    branch = gitrepo.branch_of(project.root, ref, sha)
    subdir = _project_subdir(project.root)
    folder = builds_dir(project) / sha
    folder.mkdir(parents=True, exist_ok=True)
    code = folder / "code"
    with filelock.FileLock(str(folder / ".build.lock"), timeout=3600):
        submodules = gitrepo.export_commit(
            project.root, sha, code, submodule_cache=builds_dir(project) / ".submodules"
        )
        previous = read_json(folder / "build.json")
        if not submodules and isinstance(previous, dict):
            submodules = list(previous.get("submodules", []))
        exported = Project(root=code / subdir, config=project.config)
        if not exported.root.is_dir():
            raise ConfigError(
                f"Commit {sha[:12]} has no folder '{subdir}' (where odooplane.yaml is now).",
                hint="Build a commit made after the project was set up in this folder.",
            )
        odoo_source = source or resolve_source(project.config.odoo, project.root, progress=progress)
        runtime: Runtime = ensure_runtime(exported, odoo_source, progress=progress)
        addons = project_addons(exported)
        # Odoo would only log a warning for these and install nothing: say it now, before
        # an environment is stopped for them.
        check_installable(
            addons, [n for n, a in addons.items() if a.installable], odoo_source.series
        )
        result = Build(
            sha=sha,
            ref=ref,
            branch=branch,
            subject=info.subject,
            message=info.message,
            author_name=info.author_name,
            author_email=info.author_email,
            committed_at=info.timestamp,
            authored_at=info.author_timestamp,
            odoo_series=odoo_source.series,
            odoo_revision=odoo_source.revision,
            odoo_path=str(odoo_source.path),
            deps_hash=runtime.deps_hash,
            runtime_path=str(runtime.path),
            python=str(runtime.python),
            code_dir=str(code),
            project_subdir=subdir,
            addons={name: addon.version for name, addon in sorted(addons.items())},
            submodules=submodules,
        )
        if isinstance(previous, dict):
            before = Build.from_dict(previous)
            if before.inputs() == result.inputs():
                before.reused = True
                # The branch a commit is built from can change (a merge): keep it current.
                before.branch = branch or before.branch
                before.ref = ref
                write_json_atomic(folder / "build.json", before.to_dict())
                return before
        result.build_seconds = round(time.monotonic() - started, 2)
        write_json_atomic(folder / "build.json", result.to_dict())
        return result


def runtime_of(build_: Build) -> Runtime:
    runtime = load_runtime(build_.deps_hash)
    if runtime is None:
        raise NotFoundError(
            f"The Python runtime {build_.deps_hash} of build {build_.short} is gone.",
            hint=f"Run `odooplane build {build_.short}` to make it again.",
        )
    return runtime


def source_of(build_: Build) -> OdooSource:
    path = Path(build_.odoo_path)
    if not (path / "odoo-bin").is_file():
        raise NotFoundError(
            f"The Odoo source {path} of build {build_.short} is gone.",
            hint=f"Run `odooplane build {build_.short}` to make it again.",
        )
    return OdooSource(path=path, series=build_.odoo_series, revision=build_.odoo_revision)


def build_addons_path(project: Project, build_: Build) -> list[Path]:
    return addons_path(build_project(project, build_), source_of(build_))
