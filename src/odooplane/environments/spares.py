"""Spare copies of a copy source, cloned ahead of time and claimed by a rename.

A preview of the preview base (a neutralized copy of staging) starts with a clone of the
base: ``CREATE DATABASE ... TEMPLATE``, 0.6-0.8 s of its start on the reference database.
A spare is that clone made before anyone asks: after the base is made, after a preview
claimed the spare, and by ``preview gc``. The next environment copied from the source
claims it with ``ALTER DATABASE ... RENAME`` (a millisecond) and a rename of its
filestore folder, then settles it to its own role like any clone, and is neutralized and
verified like any clone.

One spare per source: database ``<source database>__spare``, recorded in
``<state>/spares/<source>.json`` only once complete (database and filestore), with the
source's stamp (when it was made, its build, its neutralization status). A spare whose
source was made again since is dropped, never claimed. A crash while making one leaves a
database without a record: the next make drops it and starts over. Making and claiming
hold one lock per source, so a claim waits for a spare being made rather than cloning
beside it.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import filelock

from odooplane.environments.context import EnvContext
from odooplane.errors import OdooplaneError
from odooplane.fsutil import read_json, write_json_atomic
from odooplane.postgres import databases as dbs
from odooplane.postgres.filestore import filestore_of, remove_filestore
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project
from odooplane.results import Result

SUFFIX = "__spare"
# A claim waits this long for a spare being made (a clone takes about a second).
CLAIM_WAIT_SECONDS = 30.0


@dataclass
class Spare(Result):
    source: str
    database: str
    made_at: float
    seconds: float  # how long making it took
    reused: bool = False  # make: it was already there


def spare_database(source: EnvContext) -> str:
    return f"{source.database}{SUFFIX}"


def _folder(project: Project) -> Path:
    return project.state_dir / "spares"


def _record_path(project: Project, source: str) -> Path:
    return _folder(project) / f"{source}.json"


def log_path(project: Project, source: str) -> Path:
    return _folder(project) / f"{source}.log"


def _lock(project: Project, source: str, timeout: float) -> filelock.FileLock:
    _folder(project).mkdir(parents=True, exist_ok=True, mode=0o700)
    return filelock.FileLock(str(_folder(project) / f"{source}.lock"), timeout=timeout)


def source_stamp(source: EnvContext) -> str | None:
    """What the spare must match to be a copy of the source as it is now; None when the
    source is not there to copy."""
    state = source.store.load(source.name)
    if state is None or state.build is None:
        return None
    neutral = (state.neutralization or {}).get("status")
    return f"{state.created_at}|{state.build}|{neutral}"


def _valid(source: EnvContext, server: DatabaseServer) -> Spare | None:
    record = read_json(_record_path(source.project, source.name), default=None)
    if not isinstance(record, dict):
        return None
    stamp = source_stamp(source)
    if stamp is None or record.get("stamp") != stamp:
        return None
    name = spare_database(source)
    folder = filestore_of(source.filestore_root, name)
    if not dbs.database_exists(server, name) or (folder is not None and not folder.is_dir()):
        return None
    return Spare(
        source=source.name,
        database=name,
        made_at=float(record.get("made_at") or 0.0),
        seconds=float(record.get("seconds") or 0.0),
    )


def _discard(
    project: Project, source: str, database: str, root: Path, server: DatabaseServer
) -> None:
    _record_path(project, source).unlink(missing_ok=True)
    name = f"{database}{SUFFIX}"
    dbs.drop_database(server, name, filestore_root=root, terminate=True, missing_ok=True)
    remove_filestore(filestore_of(root, name))


def make(source: EnvContext, server: DatabaseServer) -> Spare | None:
    """Make the source's spare unless a current one is there (idempotent); None when
    the source does not exist. Raises what the clone raises (a busy source)."""
    with _lock(source.project, source.name, timeout=CLAIM_WAIT_SECONDS * 4):
        current = _valid(source, server)
        if current is not None:
            current.reused = True
            return current
        stamp = source_stamp(source)
        _discard(source.project, source.name, source.database, source.filestore_root, server)
        if stamp is None:
            return None
        started = time.monotonic()
        name = spare_database(source)
        dbs.clone_database(server, source.database, name, filestore_root=source.filestore_root)
        spare = Spare(
            source=source.name,
            database=name,
            made_at=time.time(),
            seconds=round(time.monotonic() - started, 2),
        )
        write_json_atomic(
            _record_path(source.project, source.name),
            {"stamp": stamp, "made_at": spare.made_at, "seconds": spare.seconds},
        )
        return spare


def claim(ctx: EnvContext, source: EnvContext, server: DatabaseServer) -> Spare | None:
    """Give ``ctx`` the source's spare as its database (renamed, filestore moved, settled
    to its role); None when there is no current spare, and the caller clones."""
    if not _record_path(source.project, source.name).exists() and not _making(source):
        return None
    try:
        lock = _lock(source.project, source.name, timeout=CLAIM_WAIT_SECONDS)
        lock.acquire()
    except filelock.Timeout:
        return None
    try:
        spare = _valid(source, server)
        if spare is None:
            return None
        dbs.rename_database(server, spare.database, ctx.database, filestore_root=ctx.filestore_root)
        _record_path(source.project, source.name).unlink(missing_ok=True)
        return spare
    finally:
        lock.release()


def _making(source: EnvContext) -> bool:
    """A make holds the lock right now (a spare is being cloned)."""
    if not (_folder(source.project) / f"{source.name}.lock").exists():
        return False
    probe = _lock(source.project, source.name, timeout=0)
    try:
        probe.acquire()
    except filelock.Timeout:
        return True
    probe.release()
    return False


def discard(
    project: Project, source: str, database: str, filestore_root: Path, server: DatabaseServer
) -> bool:
    """Drop the spare of environment ``source`` (whose database is ``database``), if any:
    before the source is made again or removed. True when there was one."""
    there = _record_path(project, source).exists() or dbs.database_exists(
        server, f"{database}{SUFFIX}"
    )
    if not there:
        return False
    with _lock(project, source, timeout=CLAIM_WAIT_SECONDS * 4):
        _discard(project, source, database, filestore_root, server)
    return True


def make_later(project: Project, source: str) -> None:
    """Make the spare in a process of its own, so the command that asked does not wait;
    it writes to :func:`log_path`."""
    log = log_path(project, source)
    log.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with log.open("ab") as out:
        subprocess.Popen(
            [sys.executable, "-m", "odooplane.environments.spares", str(project.root), source],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )


def main(argv: list[str] | None = None) -> int:
    from odooplane.project import load_project

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m odooplane.environments.spares PROJECT_ROOT SOURCE", flush=True)
        return 2
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    try:
        project = load_project(Path(args[0]))
        source = EnvContext(project, args[1])
        spare = make(source, source.server())
    except OdooplaneError as exc:
        print(f"{stamp} spare of {args[1]} not made: {exc}", flush=True)
        return 1
    if spare is None:
        print(f"{stamp} no spare: {args[1]} does not exist", flush=True)
    elif not spare.reused:
        print(f"{stamp} made {spare.database} in {spare.seconds:.2f} s", flush=True)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
