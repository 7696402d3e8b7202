"""Backups: an environment's database and filestore, off the database server.

A backup is a folder ``<backups folder>/<project>/<environment>/<stamp>-<kind>/``
holding ``backup.zip`` (Odoo's own layout: ``dump.sql``, ``filestore/``,
``manifest.json``, restorable by Odoo's database manager too) and ``backup.json``
(what, when, from which build, the zip's SHA-256). ``backup.json`` is written last: a
folder without it is an unfinished backup, never listed and removed by ``prune``.

``verify`` checks the checksum, restores into a scratch database and checks that Odoo's
tables are there and ``base`` is installed. ``restore`` goes into any environment: a
non-production one is neutralized and verified before it starts again (as any copy of
production); production needs ``force`` and gets a snapshot first. Retention keeps the
newest backup of each of the last 7 days, 4 weeks and 3 months (configurable).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from odooplane.errors import (
    CheckFailedError,
    NotFoundError,
    OdooplaneError,
    RefusedError,
    UsageError,
)
from odooplane.fsutil import read_json, write_json_atomic
from odooplane.progress import Progress
from odooplane.progress import report as report_progress
from odooplane.project import Project

KINDS = ("manual", "update", "scheduled")
META = "backup.json"
ARCHIVE = "backup.zip"


@dataclass(frozen=True)
class Retention:
    daily: int = 7
    weekly: int = 4
    monthly: int = 3


@dataclass(frozen=True)
class BackupSettings:
    folder: Path
    retention: Retention = field(default_factory=Retention)


@dataclass
class BackupInfo:
    name: str
    environment: str
    database: str
    kind: str
    created_at: str
    path: str
    sha256: str
    bytes: int
    seconds: float
    git_sha: str | None = None
    odoo_version: str | None = None
    modules: int = 0
    filestore_files: int = 0

    @property
    def archive(self) -> Path:
        return Path(self.path) / ARCHIVE

    @property
    def created(self) -> datetime:
        return datetime.fromisoformat(self.created_at)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class VerifyResult:
    backup: str
    ok: bool
    checksum_ok: bool
    database: str
    seconds: float
    installed_modules: int = 0
    users: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RestoreResult:
    backup: str
    environment: str
    database: str
    seconds: float
    snapshot: str | None = None
    neutralized: bool = False
    restarted: bool = False
    source_environment: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PruneResult:
    environment: str
    kept: list[str]
    removed: list[str]
    unfinished_removed: list[str]
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def settings_for(project: Project) -> BackupSettings:
    """``backups:`` of odooplane.yaml: ``folder`` (default ``.odooplane/backups``; any
    mounted storage) and ``keep: {daily, weekly, monthly}``."""
    section = project.config.backups
    folder = Path(section.folder).expanduser() if section.folder else project.state_dir / "backups"
    if not folder.is_absolute():
        folder = project.root / folder
    keep = section.keep
    return BackupSettings(
        folder=folder,
        retention=Retention(daily=keep.daily, weekly=keep.weekly, monthly=keep.monthly),
    )


def environment_folder(project: Project, environment: str) -> Path:
    project.environment(environment)
    return settings_for(project).folder / project.config.project / environment


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _filestore_root(project: Project) -> Path:
    return project.odoo_data_dir / "filestore"


def _deployed_sha(project: Project, environment: str) -> str | None:
    from odooplane.environments.state import StateStore

    state = StateStore(project.state_dir).load(environment)
    return state.build if state is not None else None


def create_backup(
    project: Project,
    environment: str,
    *,
    kind: str = "manual",
    server: Any = None,
    progress: Progress | None = None,
) -> BackupInfo:
    """Back up ``environment`` while it keeps serving (pg_dump reads one consistent
    snapshot of the database)."""
    from odooplane.postgres import databases as dbs

    if kind not in KINDS:
        raise UsageError(f"'{kind}' is not a backup kind; use one of {', '.join(KINDS)}.")
    project.environment(environment)  # an unknown name is a sentence listing the known ones
    server = server or _server(project)
    database = project.config.database_name(environment)
    if not dbs.database_exists(server, database):
        raise NotFoundError(
            f"Environment '{environment}' has no database '{database}' to back up.",
            hint=f"Create it first: `odooplane env create {environment}`.",
        )
    now = datetime.now(timezone.utc)
    name = f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{kind}"
    folder = environment_folder(project, environment) / name
    folder.mkdir(parents=True, exist_ok=False)
    os.chmod(folder, 0o700)
    report_progress(progress, f"backing up {database} into {folder}")
    try:
        result = dbs.export_database(
            server, database, folder / ARCHIVE, filestore_root=_filestore_root(project)
        )
        info = BackupInfo(
            name=name,
            environment=environment,
            database=database,
            kind=kind,
            created_at=now.isoformat(),
            path=str(folder),
            sha256=_sha256(folder / ARCHIVE),
            bytes=result.bytes,
            seconds=round(result.seconds, 3),
            git_sha=_deployed_sha(project, environment),
            odoo_version=result.manifest.get("version"),
            modules=len(result.manifest.get("modules") or {}),
            filestore_files=result.filestore_files,
        )
        write_json_atomic(folder / META, info.to_dict())
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return info


def _server(project: Project) -> Any:
    from odooplane.postgres.project_server import server_for

    return server_for(project)


def _load(folder: Path) -> BackupInfo | None:
    data = read_json(folder / META) if (folder / META).is_file() else None
    if not isinstance(data, dict):
        return None
    known = set(BackupInfo.__dataclass_fields__)
    info = BackupInfo(**{k: v for k, v in data.items() if k in known})
    info.path = str(folder)  # the folder may have been moved with its storage
    return info


def list_backups(project: Project, environment: str) -> list[BackupInfo]:
    """Finished backups of ``environment``, oldest first."""
    base = environment_folder(project, environment)
    if not base.is_dir():
        return []
    found = [info for child in base.iterdir() if child.is_dir() and (info := _load(child))]
    return sorted(found, key=lambda b: b.created_at)


def find_backup(project: Project, environment: str, name: str | None) -> BackupInfo:
    """A backup by name (or unique prefix); the newest when ``name`` is None."""
    backups = list_backups(project, environment)
    if not backups:
        raise NotFoundError(
            f"Environment '{environment}' has no backup in "
            f"{environment_folder(project, environment)}.",
            hint=f"Take one with `odooplane backup create {environment}`.",
        )
    if name is None:
        return backups[-1]
    matches = [b for b in backups if b.name == name or b.name.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(b.name for b in backups[-5:])
    if not matches:
        raise NotFoundError(
            f"No backup named '{name}' for environment '{environment}'.",
            hint=f"Newest ones: {known} (`odooplane backup list {environment}`).",
        )
    raise UsageError(f"'{name}' matches {len(matches)} backups; give more of the name.")


def check_checksum(info: BackupInfo) -> bool:
    return info.archive.is_file() and _sha256(info.archive) == info.sha256


def verify_backup(
    project: Project,
    environment: str,
    name: str | None = None,
    *,
    server: Any = None,
    progress: Progress | None = None,
) -> VerifyResult:
    """Checksum, then a restore into a scratch database that must open as an Odoo
    database (``base`` installed, users present); the scratch database is dropped."""
    import time

    from odooplane.postgres import databases as dbs

    info = find_backup(project, environment, name)
    started = time.monotonic()
    scratch = f"verify_{uuid.uuid4().hex[:12]}"
    result = VerifyResult(
        backup=info.name, ok=False, checksum_ok=False, database=scratch, seconds=0.0
    )
    if not check_checksum(info):
        result.error = f"{info.archive} does not match its recorded SHA-256 (damaged or edited)"
        result.seconds = round(time.monotonic() - started, 3)
        return result
    result.checksum_ok = True
    server = server or _server(project)
    scratch_files = Path(info.path) / ".verify-filestore"
    report_progress(progress, f"restoring {info.name} into the scratch database {scratch}")
    try:
        dbs.import_database(server, info.archive, scratch, filestore_root=scratch_files)
        with server.connect(scratch) as conn:
            row = conn.execute(
                "SELECT count(*) FILTER (WHERE state = 'installed'), "
                "bool_or(name = 'base' AND state = 'installed') FROM ir_module_module"
            ).fetchone()
            users = conn.execute("SELECT count(*) FROM res_users").fetchone()
        result.installed_modules = int(row[0]) if row else 0
        result.users = int(users[0]) if users else 0
        if not (row and row[1]):
            result.error = "the restored database has no installed 'base' module"
        elif result.installed_modules != info.modules and info.modules:
            result.error = (
                f"{result.installed_modules} modules installed, the backup's manifest "
                f"lists {info.modules}"
            )
        else:
            result.ok = True
    except OdooplaneError as exc:
        result.error = exc.message
    except Exception as exc:  # a damaged dump shows up as a database error
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        try:
            dbs.drop_database(
                server, scratch, filestore_root=scratch_files, terminate=True, missing_ok=True
            )
        finally:
            shutil.rmtree(scratch_files, ignore_errors=True)
    result.seconds = round(time.monotonic() - started, 3)
    return result


def restore_backup(
    project: Project,
    environment: str,
    name: str | None = None,
    *,
    source_environment: str | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> RestoreResult:
    """Restore a backup (of ``source_environment``, default the same) into
    ``environment``.

    Production needs ``force`` and gets a snapshot first. A neutralized environment
    (staging, previews) is neutralized and verified before it starts again; if the
    verification fails it stays stopped. The environment is stopped during the restore
    and started again if it was running.
    """
    import time

    from odooplane.environments import api as lifecycle
    from odooplane.environments.context import EnvContext
    from odooplane.postgres import databases as dbs

    source_env = source_environment or environment
    info = find_backup(project, source_env, name)
    ctx = EnvContext(project, environment)
    if ctx.is_production and not force:
        raise RefusedError(
            f"'{environment}' is production: restoring {info.name} would replace its "
            "database and everything written since that backup.",
            hint="If that is what you want, pass --force (a snapshot is taken first).",
        )
    source_kind = project.environment(source_env).kind.value
    if source_kind == "production" and not ctx.is_production and not ctx.config.neutralized:
        raise RefusedError(
            f"'{environment}' is not neutralized (neutralize: false) and the backup comes "
            "from production: its mails, crons and payments would reach the outside.",
            hint="Restore into a neutralized environment such as staging.",
        )
    if not check_checksum(info):
        raise CheckFailedError(
            f"Backup {info.name} does not match its recorded SHA-256; it is not restored.",
            hint=f"Its file: {info.archive}. Pick another backup (`odooplane backup list`).",
        )
    started = time.monotonic()
    server = ctx.server()
    state = ctx.store.load(environment)
    was_running = state is not None and state.desired == "running"
    result = RestoreResult(
        backup=info.name,
        environment=environment,
        database=ctx.database,
        seconds=0.0,
        source_environment=source_env,
    )
    if state is not None:
        report_progress(progress, f"stopping {environment}")
        lifecycle.stop(project, environment)
    if ctx.is_production and dbs.database_exists(server, ctx.database):
        snap = dbs.snapshot_database(
            server,
            ctx.database,
            name="pre-restore-" + datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S"),
            filestore_root=ctx.filestore_root,
            terminate=True,
        )
        result.snapshot = snap.name
    report_progress(progress, f"restoring {info.name} into {ctx.database}")
    dbs.import_database(
        server,
        info.archive,
        ctx.database,
        filestore_root=ctx.filestore_root,
        replace=True,
        terminate=True,
        protected=ctx.is_production,
        force=force,
    )
    if ctx.config.neutralized:
        _neutralize_restored(project, ctx, state, progress)
        result.neutralized = True
    if was_running:
        report_progress(progress, f"starting {environment}")
        lifecycle.start(project, environment)
        result.restarted = True
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _neutralize_restored(project: Project, ctx: Any, state: Any, progress: Progress | None) -> None:
    from odooplane.environments.state import now_iso
    from odooplane.mailcatcher import catcher_address
    from odooplane.neutralize import NeutralizationFailed, neutralize_database
    from odooplane.odoo.source import configured_path

    report_progress(progress, f"neutralizing {ctx.database} and verifying it")
    source_path: Path | None
    try:
        source_path = configured_path(project.config.odoo, project.root)
    except OdooplaneError:
        source_path = None
    try:
        report = neutralize_database(
            ctx.server(),
            ctx.database,
            project=project,
            environment=ctx.name,
            odoo_source_path=source_path,
            catcher=catcher_address(project.state_dir, ctx.name),
        )
    except NeutralizationFailed as exc:
        if state is not None:
            state.neutralization = {"status": "failed", "at": now_iso(), "error": exc.message}
            state.desired = "stopped"
            ctx.store.save(state)
        raise
    if state is not None:
        verification = report.verification.summary() if report.verification else None
        state.neutralization = {
            "status": "verified",
            "at": now_iso(),
            "changed": report.changed,
            "checks": verification,
            "note": "neutralized after a backup restore",
        }
        ctx.store.save(state)


def _select(backups: Sequence[BackupInfo], retention: Retention) -> set[str]:
    """Names kept: the newest backup of each of the last ``daily`` days, ``weekly`` ISO
    weeks and ``monthly`` months that have one (and always the newest of all)."""
    newest_first = sorted(backups, key=lambda b: b.created_at, reverse=True)
    keep: set[str] = set()
    if newest_first:
        keep.add(newest_first[0].name)
    for count, period in (
        (retention.daily, lambda d: d.strftime("%Y-%m-%d")),
        (retention.weekly, lambda d: "{}-W{:02d}".format(*d.isocalendar()[:2])),
        (retention.monthly, lambda d: d.strftime("%Y-%m")),
    ):
        seen: list[str] = []
        for backup in newest_first:
            key = period(backup.created)
            if key in seen:
                continue
            if len(seen) >= count:
                break
            seen.append(key)
            keep.add(backup.name)
    return keep


def prune_backups(project: Project, environment: str, *, dry_run: bool = False) -> PruneResult:
    """Apply the retention policy; also removes unfinished backup folders older than a
    day (an interrupted ``create``)."""
    settings = settings_for(project)
    backups = list_backups(project, environment)
    keep = _select(backups, settings.retention)
    removed = [b.name for b in backups if b.name not in keep]
    unfinished: list[str] = []
    base = environment_folder(project, environment)
    if base.is_dir():
        now = datetime.now(timezone.utc).timestamp()
        for child in base.iterdir():
            stale = now - child.stat().st_mtime > 86400
            if child.is_dir() and not (child / META).is_file() and stale:
                unfinished.append(child.name)
    if not dry_run:
        for name in [*removed, *unfinished]:
            shutil.rmtree(base / name, ignore_errors=True)
    return PruneResult(
        environment=environment,
        kept=sorted(keep),
        removed=removed,
        unfinished_removed=unfinished,
        dry_run=dry_run,
    )
