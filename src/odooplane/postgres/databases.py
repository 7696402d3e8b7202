"""Database operations: list, create, clone, snapshot, restore, swap, drop, import, export.

Every operation takes the :class:`~odooplane.postgres.server.DatabaseServer` and, when
the databases are Odoo's, ``filestore_root``: the folder holding one filestore subfolder
per database (``project.odoo_data_dir / "filestore"``), so the filestore travels with
the database. Names are validated and quoted (:mod:`odooplane.postgres.identifiers`)
before any SQL is sent.

Copies are made by PostgreSQL (``CREATE DATABASE ... TEMPLATE``), renames with ``ALTER
DATABASE ... RENAME`` inside one transaction, so a swap or a restore is never half done;
dumps are only used to move databases in and out of a server (import, export).
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from odooplane.errors import NotFoundError, RefusedError, UsageError
from odooplane.postgres import roles
from odooplane.postgres.filestore import (
    NO_FILESTORE,
    FilestoreCopy,
    copy_filestore,
    filestore_of,
    filestore_size,
    move_filestore,
    remove_filestore,
)
from odooplane.postgres.identifiers import (
    SYSTEM_DATABASES,
    database_name,
    db_ident,
    user_database_name,
)
from odooplane.postgres.protection import SNAPSHOT_SEPARATOR, Protection
from odooplane.postgres.server import DatabaseServer
from odooplane.progress import Progress, report
from odooplane.results import Result

_SNAPSHOT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Below this size WAL_LOG (PostgreSQL 15's default: copy block by block through the WAL)
# is faster; above it FILE_COPY (two checkpoints, then a file-level copy) wins. Measured
# with benchmarks/db_clone.py (docs/postgres.md): WAL_LOG 3x faster at 30 MB, parity
# around 250-300 MB, FILE_COPY 1.2-1.3x faster from 500 MB. At parity WAL_LOG is kept:
# FILE_COPY's checkpoints flush every dirty buffer of the cluster, slowing the other
# databases (environments) it serves.
FILE_COPY_MIN_BYTES = 256 * 1024 * 1024
STRATEGIES = ("wal_log", "file_copy")


# -- results ---------------------------------------------------------------------------


def _guard(
    server: DatabaseServer, action: str, database: str, *, force: bool, protected: bool = False
) -> None:
    """Refuse ``action`` on a database the server's protection (production's, for a
    project's server) or the caller (``protected``) names, unless ``force``."""
    protection = server.protection
    if protected and protection.owner(database) is None:
        protection = Protection({database: "production"})
    protection.check(action, database, force=force)


@dataclass(frozen=True)
class Session:
    """Another client connected to a database."""

    pid: int
    application: str
    user: str
    client: str | None
    state: str | None

    def describe(self) -> str:
        return f"{self.application or 'unnamed client'} (pid {self.pid}, user {self.user})"


@dataclass(frozen=True)
class SnapshotInfo(Result):
    database: str
    name: str
    snapshot_db: str
    created_at: str | None
    size: int | None
    filestore: dict[str, Any] | None = None


@dataclass(frozen=True)
class DatabaseInfo(Result):
    name: str
    size: int | None
    owner: str
    allow_connections: bool
    snapshot: SnapshotInfo | None = None
    filestore_files: int = 0
    filestore_bytes: int = 0

    @property
    def is_snapshot(self) -> bool:
        return self.snapshot is not None

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "is_snapshot": self.is_snapshot}


@dataclass(frozen=True)
class CloneResult:
    source: str
    target: str
    strategy: str
    size: int | None
    seconds: float
    filestore: FilestoreCopy = NO_FILESTORE
    terminated: list[Session] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "strategy": self.strategy,
            "size": self.size,
            "seconds": round(self.seconds, 3),
            "filestore": self.filestore.to_dict(),
            "terminated_sessions": [asdict(s) for s in self.terminated],
        }


# -- helpers ---------------------------------------------------------------------------


def _maintenance(server: DatabaseServer) -> psycopg.Connection[Any]:
    return server.connect(server.maintenance_db, autocommit=True)


def _exists(conn: psycopg.Connection[Any], name: str) -> bool:
    row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


def _size(conn: psycopg.Connection[Any], name: str) -> int | None:
    row = conn.execute(
        "SELECT CASE WHEN has_database_privilege(oid, 'CONNECT') "
        "THEN pg_database_size(oid) END FROM pg_database WHERE datname = %s",
        (name,),
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _sessions(conn: psycopg.Connection[Any], name: str) -> list[Session]:
    # Client sessions only: an autovacuum worker (no application name) is stopped by
    # PostgreSQL itself when a DROP or TEMPLATE copy needs the database, and is nobody's
    # session to report or terminate.
    rows = conn.execute(
        "SELECT pid, coalesce(application_name, ''), coalesce(usename, ''), "
        "client_addr::text, state FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid() "
        "AND backend_type = 'client backend' ORDER BY pid",
        (name,),
    ).fetchall()
    return [Session(int(r[0]), str(r[1]), str(r[2]), r[3], r[4]) for r in rows]


def _busy_error(busy: dict[str, list[Session]], action: str) -> RefusedError:
    parts = []
    for name, sessions in busy.items():
        who = ", ".join(s.describe() for s in sessions)
        parts.append(f"'{name}' has {len(sessions)} other session(s): {who}")
    return RefusedError(
        f"Cannot {action}: " + "; ".join(parts) + ".",
        hint="Stop Odoo and other clients of that database, or pass --terminate "
        "(terminate=True) to end those sessions.",
    )


def _require(conn: psycopg.Connection[Any], server: DatabaseServer, name: str) -> None:
    if not _exists(conn, name):
        raise NotFoundError(
            f"Database '{name}' does not exist on {server.describe()}.",
            hint="`odooplane db list` shows the databases of this server.",
        )


def _require_absent(conn: psycopg.Connection[Any], server: DatabaseServer, name: str) -> None:
    if _exists(conn, name):
        raise RefusedError(
            f"Database '{name}' already exists on {server.describe()}.",
            hint="Choose another name, or drop it first with `odooplane db drop`.",
        )


def _require_no_filestore(root: Path | None, name: str) -> None:
    path = filestore_of(root, name)
    if path is not None and path.exists():
        raise RefusedError(
            f"A filestore folder {path} exists although database '{name}' does not.",
            hint="It is left over from a database dropped outside odooplane: move it away "
            "or delete it, then try again.",
        )


def _exclusive(
    conn: psycopg.Connection[Any],
    names: Sequence[str],
    *,
    terminate: bool,
    action: str,
    statement: Callable[[], None],
) -> list[Session]:
    """Run ``statement`` (which needs ``names`` free of other sessions).

    Without ``terminate`` a busy database is an error naming its sessions. With it, the
    sessions are terminated and the statement retried until it wins the race against
    clients reconnecting (Odoo's workers do).
    """
    ended: list[Session] = []
    for _attempt in range(40):
        busy = {n: s for n in names if (s := _sessions(conn, n))}
        if busy and not terminate:
            raise _busy_error(busy, action)
        for sessions in busy.values():
            for session in sessions:
                try:
                    conn.execute("SELECT pg_terminate_backend(%s)", (session.pid,))
                except psycopg.errors.InsufficientPrivilege as exc:
                    raise RefusedError(
                        f"Cannot end session {session.describe()}: {exc.diag.message_primary}.",
                        hint="Connect as a role allowed to terminate it, or stop that client.",
                    ) from None
                ended.append(session)
        if busy:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and any(_sessions(conn, n) for n in busy):
                time.sleep(0.05)
        try:
            statement()
            return ended
        except psycopg.errors.ObjectInUse:
            time.sleep(0.1)
    busy = {n: s for n in names if (s := _sessions(conn, n))}
    raise _busy_error(busy or {n: [] for n in names}, action)


@contextlib.contextmanager
def _clone_progress(
    server: DatabaseServer, size: int | None, strategy: str | None, progress: Progress | None
) -> Iterator[None]:
    """Report a clone's progress while CREATE DATABASE runs.

    PostgreSQL has no progress view for CREATE DATABASE. With WAL_LOG it writes about one
    byte of WAL per byte copied, so the growth of the WAL position, watched from a second
    connection, is a fair estimate (held just below 100 % until the statement returns,
    since other sessions write WAL too). FILE_COPY writes little WAL: the progress is
    then shown without a total.
    """
    if progress is None:
        yield
        return
    total = (size or 0) if strategy == "wal_log" else 0
    stop = threading.Event()

    def watch() -> None:
        try:
            with server.connect(server.maintenance_db) as watcher:
                start = _wal_position(watcher)
                while not stop.wait(0.5):
                    done = _wal_position(watcher) - start
                    report(progress, "copying", min(done, int(total * 0.99)) if total else 0, total)
        except Exception:  # the estimate is best effort; the clone itself decides success
            return

    thread = threading.Thread(target=watch, name="clone-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
    report(progress, "copying", total, total)


def _wal_position(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint").fetchone()
    return int(row[0]) if row else 0


def _temp_name(kind: str) -> str:
    return f"_odooplane_{kind}_{secrets.token_hex(6)}"


def choose_strategy(server_version: int, size: int | None, requested: str | None) -> str | None:
    """The STRATEGY clause for CREATE DATABASE: None before PostgreSQL 15 (no choice
    there), the requested one, or by size (``FILE_COPY_MIN_BYTES``)."""
    if requested not in (None, "auto") and requested not in STRATEGIES:
        raise UsageError(
            f"'{requested}' is not a clone strategy.",
            hint="Use auto, wal_log or file_copy.",
        )
    if server_version < 150000:
        return None
    if requested in STRATEGIES:
        return requested
    return "file_copy" if (size or 0) >= FILE_COPY_MIN_BYTES else "wal_log"


# -- listing and creating ----------------------------------------------------------------


def _parse_snapshot(name: str, comment: str | None, size: int | None) -> SnapshotInfo | None:
    if SNAPSHOT_SEPARATOR not in name:
        return None
    database, _, snap = name.partition(SNAPSHOT_SEPARATOR)
    meta: dict[str, Any] = {}
    if comment:
        with contextlib.suppress(ValueError):
            loaded = json.loads(comment)
            if isinstance(loaded, dict) and loaded.get("odooplane") == "snapshot":
                meta = loaded
    return SnapshotInfo(
        database=str(meta.get("database", database)),
        name=str(meta.get("name", snap)),
        snapshot_db=name,
        created_at=meta.get("created_at"),
        size=size,
        filestore=meta.get("filestore"),
    )


def list_databases(
    server: DatabaseServer, *, filestore_root: Path | None = None
) -> list[DatabaseInfo]:
    """Every database but PostgreSQL's own, with sizes; snapshots are flagged."""
    with _maintenance(server) as conn:
        rows = conn.execute(
            "SELECT d.datname, CASE WHEN has_database_privilege(d.oid, 'CONNECT') "
            "THEN pg_database_size(d.oid) END, pg_get_userbyid(d.datdba), d.datallowconn, "
            "shobj_description(d.oid, 'pg_database') FROM pg_database d "
            "WHERE NOT (d.datname = ANY(%s)) ORDER BY d.datname",
            (sorted(SYSTEM_DATABASES),),
        ).fetchall()
    result = []
    for name, size, owner, allow, comment in rows:
        files, size_fs = filestore_size(filestore_of(filestore_root, name))
        result.append(
            DatabaseInfo(
                name=name,
                size=None if size is None else int(size),
                owner=owner,
                allow_connections=bool(allow),
                snapshot=_parse_snapshot(name, comment, None if size is None else int(size)),
                filestore_files=files,
                filestore_bytes=size_fs,
            )
        )
    return result


def database_exists(server: DatabaseServer, name: str) -> bool:
    database_name(name)
    with _maintenance(server) as conn:
        return _exists(conn, name)


def database_size(server: DatabaseServer, name: str) -> int | None:
    database_name(name)
    with _maintenance(server) as conn:
        _require(conn, server, name)
        return _size(conn, name)


def active_sessions(server: DatabaseServer, name: str) -> list[Session]:
    """Other clients connected to ``name``."""
    database_name(name)
    with _maintenance(server) as conn:
        return _sessions(conn, name)


def create_database(server: DatabaseServer, name: str, *, exist_ok: bool = False) -> bool:
    """Create an empty UTF-8 database the way Odoo does (template0, C collation).

    Returns False when it already existed and ``exist_ok`` is true.
    """
    user_database_name(name)
    with _maintenance(server) as conn:
        if _exists(conn, name):
            if exist_ok:
                return False
            _require_absent(conn, server, name)
        conn.execute(
            sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' LC_COLLATE 'C' TEMPLATE template0").format(
                db_ident(name)
            )
        )
    roles.create_extensions(server, name)
    roles.settle(server, name)
    return True


# -- clone -------------------------------------------------------------------------------


def _clone(
    conn: psycopg.Connection[Any],
    server: DatabaseServer,
    source: str,
    target: str,
    *,
    filestore_root: Path | None,
    terminate: bool,
    strategy: str | None,
    progress: Progress | None = None,
) -> CloneResult:
    _require(conn, server, source)
    _require_absent(conn, server, target)
    _require_no_filestore(filestore_root, target)
    size = _size(conn, source)
    chosen = choose_strategy(int(conn.info.server_version), size, strategy)
    statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(db_ident(target), db_ident(source))
    if chosen is not None:
        statement = sql.SQL("{} STRATEGY {}").format(statement, sql.SQL(chosen.upper()))
    started = time.monotonic()

    def create() -> None:
        with _clone_progress(server, size, chosen, progress):
            conn.execute(statement)

    ended = _exclusive(
        conn,
        [source],
        terminate=terminate,
        action=f"clone '{source}' (CREATE DATABASE ... TEMPLATE needs it idle)",
        statement=create,
    )
    try:
        copied = copy_filestore(
            filestore_of(filestore_root, source), filestore_of(filestore_root, target)
        )
        # A copy of another environment's database becomes this one's (or odooplane's).
        roles.settle(server, target)
    except BaseException:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(db_ident(target)))
        raise
    return CloneResult(
        source=source,
        target=target,
        strategy=chosen or "default",
        size=size,
        seconds=time.monotonic() - started,
        filestore=copied,
        terminated=ended,
    )


def clone_database(
    server: DatabaseServer,
    source: str,
    target: str,
    *,
    filestore_root: Path | None = None,
    terminate: bool = False,
    strategy: str | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> CloneResult:
    """Copy ``source`` to the new database ``target`` with ``CREATE DATABASE ... TEMPLATE``,
    and its filestore with hard links. A protected ``target`` (production's name) needs
    ``force``.

    PostgreSQL needs the source idle: other sessions on it are an error naming them,
    unless ``terminate`` is true. ``strategy`` is ``wal_log``, ``file_copy`` or
    None/``auto`` (chosen by size, PostgreSQL 15+). ``progress`` gets
    an estimate while PostgreSQL copies.
    """
    database_name(source, what="source database name")
    user_database_name(target, what="target database name")
    if source == target:
        raise UsageError(f"Cannot clone '{source}' onto itself.")
    _guard(server, "clone", target, force=force)
    with _maintenance(server) as conn:
        return _clone(
            conn,
            server,
            source,
            target,
            filestore_root=filestore_root,
            terminate=terminate,
            strategy=strategy,
            progress=progress,
        )


# -- rename, swap, drop ------------------------------------------------------------------


def _renames(
    conn: psycopg.Connection[Any],
    pairs: Sequence[tuple[str, str]],
    *,
    filestore_root: Path | None,
) -> None:
    """Rename databases in one transaction, then their filestores (undone on failure)."""
    with conn.transaction():
        for old, new in pairs:
            conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(db_ident(old), db_ident(new))
            )
    moved: list[tuple[Path, Path]] = []
    try:
        for old, new in pairs:
            src, dst = filestore_of(filestore_root, old), filestore_of(filestore_root, new)
            if move_filestore(src, dst):
                assert src is not None and dst is not None
                moved.append((src, dst))
    except BaseException:
        for src, dst in reversed(moved):
            dst.rename(src)
        with conn.transaction():
            for old, new in reversed(pairs):
                conn.execute(
                    sql.SQL("ALTER DATABASE {} RENAME TO {}").format(db_ident(new), db_ident(old))
                )
        raise


def rename_database(
    server: DatabaseServer,
    old: str,
    new: str,
    *,
    filestore_root: Path | None = None,
    terminate: bool = False,
    force: bool = False,
) -> list[Session]:
    """Rename a database and its filestore (a protected one, or onto a protected name,
    needs ``force``)."""
    user_database_name(old)
    user_database_name(new, what="new database name")
    _guard(server, "rename", old, force=force)
    _guard(server, "rename", new, force=force)
    with _maintenance(server) as conn:
        _require(conn, server, old)
        _require_absent(conn, server, new)
        _require_no_filestore(filestore_root, new)
        ended = _exclusive(
            conn,
            [old],
            terminate=terminate,
            action=f"rename '{old}'",
            statement=lambda: _renames(conn, [(old, new)], filestore_root=filestore_root),
        )
    roles.settle(server, new)
    return ended


def swap_databases(
    server: DatabaseServer,
    first: str,
    second: str,
    *,
    filestore_root: Path | None = None,
    terminate: bool = False,
    force: bool = False,
) -> list[Session]:
    """Exchange the names of two databases (and their filestores) atomically; a
    protected one needs ``force``."""
    user_database_name(first)
    user_database_name(second)
    if first == second:
        raise UsageError(f"Cannot swap '{first}' with itself.")
    _guard(server, "swap", first, force=force)
    _guard(server, "swap", second, force=force)
    temp = _temp_name("swap")
    with _maintenance(server) as conn:
        _require(conn, server, first)
        _require(conn, server, second)
        ended = _exclusive(
            conn,
            [first, second],
            terminate=terminate,
            action=f"swap '{first}' and '{second}'",
            statement=lambda: _renames(
                conn,
                [(first, temp), (second, first), (temp, second)],
                filestore_root=filestore_root,
            ),
        )
    # Each name keeps its owner: the role of an environment owns what it now names.
    roles.settle(server, first)
    roles.settle(server, second)
    return ended


def _drop(
    conn: psycopg.Connection[Any], name: str, filestore_root: Path | None, terminate: bool
) -> list[Session]:
    def drop() -> None:
        conn.execute(sql.SQL("DROP DATABASE {}").format(db_ident(name)))

    ended = _exclusive(conn, [name], terminate=terminate, action=f"drop '{name}'", statement=drop)
    remove_filestore(filestore_of(filestore_root, name))
    return ended


def drop_database(
    server: DatabaseServer,
    name: str,
    *,
    filestore_root: Path | None = None,
    protected: bool = False,
    force: bool = False,
    terminate: bool = False,
    missing_ok: bool = False,
) -> bool:
    """Drop a database and its filestore; False when it did not exist and ``missing_ok``.

    A protected database (production's or one of its snapshots, for a project's server;
    or marked ``protected`` by the caller) is only dropped with ``force``. Its snapshots
    are kept.
    """
    user_database_name(name)
    _guard(server, "drop", name, force=force, protected=protected)
    with _maintenance(server) as conn:
        if not _exists(conn, name):
            if missing_ok:
                remove_filestore(filestore_of(filestore_root, name))
                return False
            _require(conn, server, name)
        _drop(conn, name, filestore_root, terminate)
    return True


# -- snapshots ---------------------------------------------------------------------------


def snapshot_db_name(database: str, name: str) -> str:
    """The database holding snapshot ``name`` of ``database``."""
    valid = isinstance(name, str) and _SNAPSHOT_NAME_RE.fullmatch(name) is not None
    if not valid or SNAPSHOT_SEPARATOR in name:
        raise UsageError(
            f"{name!r} is not a valid snapshot name.",
            hint="Use letters, digits, '_', '-' and '.', starting with a letter or digit.",
        )
    full = f"{database}{SNAPSHOT_SEPARATOR}{name}"
    if len(full.encode()) > 63:
        raise UsageError(
            f"Snapshot database name '{full}' is longer than PostgreSQL's 63 bytes.",
            hint=f"Use a shorter snapshot name (at most {63 - len(database) - 8} characters).",
        )
    return database_name(full, what="snapshot database name")


def snapshot_database(
    server: DatabaseServer,
    database: str,
    *,
    name: str | None = None,
    filestore_root: Path | None = None,
    terminate: bool = False,
    strategy: str | None = None,
    progress: Progress | None = None,
) -> SnapshotInfo:
    """Point-in-time copy of ``database`` and its filestore, named or timestamped.

    The copy is the database ``<database>__snap__<name>``, described by a JSON comment
    and closed to connections (so Odoo's database list does not show it and nothing can
    change it).
    """
    user_database_name(database)
    now = datetime.now(timezone.utc)
    if name is not None and not name.strip():
        raise UsageError("A snapshot name cannot be empty.", hint="Leave it out for a timestamp.")
    name = name or now.strftime("%Y%m%d-%H%M%S")
    target = snapshot_db_name(database, name)
    with _maintenance(server) as conn:
        result = _clone(
            conn,
            server,
            database,
            target,
            filestore_root=filestore_root,
            terminate=terminate,
            strategy=strategy,
            progress=progress,
        )
        meta = {
            "odooplane": "snapshot",
            "database": database,
            "name": name,
            "created_at": now.isoformat(timespec="seconds"),
            "filestore": result.filestore.to_dict(),
        }
        with conn.transaction():
            conn.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    db_ident(target), sql.Literal(json.dumps(meta, sort_keys=True))
                )
            )
            conn.execute(
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(db_ident(target))
            )
    return SnapshotInfo(
        database=database,
        name=name,
        snapshot_db=target,
        created_at=str(meta["created_at"]),
        size=result.size,
        filestore=result.filestore.to_dict(),
    )


def list_snapshots(server: DatabaseServer, database: str) -> list[SnapshotInfo]:
    """Snapshots of ``database``, oldest first."""
    user_database_name(database)
    prefix = f"{database}{SNAPSHOT_SEPARATOR}"
    with _maintenance(server) as conn:
        rows = conn.execute(
            "SELECT datname, CASE WHEN has_database_privilege(oid, 'CONNECT') "
            "THEN pg_database_size(oid) END, shobj_description(oid, 'pg_database') "
            "FROM pg_database WHERE left(datname, %s) = %s",
            (len(prefix), prefix),
        ).fetchall()
    found = [_parse_snapshot(r[0], r[2], None if r[1] is None else int(r[1])) for r in rows]
    snapshots = [s for s in found if s is not None]
    return sorted(snapshots, key=lambda s: (s.created_at or "", s.name))


def _snapshot_full_name(database: str, snapshot: str) -> str:
    """The snapshot database meant by ``snapshot`` (a snapshot name or a full name)."""
    prefix = f"{database}{SNAPSHOT_SEPARATOR}"
    if isinstance(snapshot, str) and snapshot.startswith(prefix):
        return database_name(snapshot, what="snapshot database name")
    return snapshot_db_name(database, snapshot)


def _resolve_snapshot(conn: psycopg.Connection[Any], database: str, snapshot: str) -> str:
    prefix = f"{database}{SNAPSHOT_SEPARATOR}"
    full = _snapshot_full_name(database, snapshot)
    if not _exists(conn, full):
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE left(datname, %s) = %s ORDER BY 1",
            (len(prefix), prefix),
        ).fetchall()
        known = ", ".join(r[0][len(prefix) :] for r in rows) or "none"
        raise NotFoundError(
            f"No snapshot '{snapshot}' of database '{database}'.",
            hint=f"Snapshots of '{database}': {known}.",
        )
    return full


@dataclass(frozen=True)
class RestoreResult:
    database: str
    snapshot_db: str
    seconds: float
    filestore: FilestoreCopy
    replaced_existing: bool
    terminated: list[Session] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "snapshot_db": self.snapshot_db,
            "seconds": round(self.seconds, 3),
            "filestore": self.filestore.to_dict(),
            "replaced_existing": self.replaced_existing,
            "terminated_sessions": [asdict(s) for s in self.terminated],
        }


def _replace_with(
    conn: psycopg.Connection[Any],
    database: str,
    incoming: str,
    *,
    filestore_root: Path | None,
    terminate: bool,
    action: str,
) -> tuple[bool, list[Session]]:
    """Put the complete database ``incoming`` in place of ``database``: the old one is
    renamed away and the new one renamed in within one transaction, then the old one is
    dropped. Returns (whether a database was replaced, terminated sessions)."""
    if not _exists(conn, database):
        _require_no_filestore(filestore_root, database)
        _renames(conn, [(incoming, database)], filestore_root=filestore_root)
        return False, []
    old = _temp_name("old")
    ended = _exclusive(
        conn,
        [database],
        terminate=terminate,
        action=action,
        statement=lambda: _renames(
            conn, [(database, old), (incoming, database)], filestore_root=filestore_root
        ),
    )
    _drop(conn, old, filestore_root, terminate=True)
    return True, ended


def restore_snapshot(
    server: DatabaseServer,
    database: str,
    snapshot: str,
    *,
    filestore_root: Path | None = None,
    terminate: bool = False,
    strategy: str | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> RestoreResult:
    """Make ``database`` (and its filestore) what snapshot ``snapshot`` holds; a protected
    ``database`` (production's) needs ``force``.

    The snapshot is cloned to a temporary database first; only when that copy is complete
    are the names exchanged (one transaction), and the previous database dropped last.
    The snapshot itself is kept. ``snapshot`` is its name or its full database name.
    """
    user_database_name(database)
    _snapshot_full_name(database, snapshot)
    _guard(server, "restore", database, force=force)
    started = time.monotonic()
    with _maintenance(server) as conn:
        full = _resolve_snapshot(conn, database, snapshot)
        incoming = _temp_name("restore")
        copied = _clone(
            conn,
            server,
            full,
            incoming,
            filestore_root=filestore_root,
            terminate=False,
            strategy=strategy,
            progress=progress,
        )
        try:
            # Owned by the environment's role before it takes the name.
            roles.settle(server, incoming, roles.environment_role(conn, database))
            replaced, ended = _replace_with(
                conn,
                database,
                incoming,
                filestore_root=filestore_root,
                terminate=terminate,
                action=f"restore '{database}'",
            )
        except BaseException:
            _drop(conn, incoming, filestore_root, terminate=True)
            raise
    return RestoreResult(
        database=database,
        snapshot_db=full,
        seconds=time.monotonic() - started,
        filestore=copied.filestore,
        replaced_existing=replaced,
        terminated=ended,
    )


def swap_in_snapshot(
    server: DatabaseServer,
    database: str,
    snapshot: str,
    *,
    keep_as: str,
    filestore_root: Path | None = None,
    terminate: bool = False,
    force: bool = False,
) -> SnapshotInfo:
    """Put snapshot ``snapshot`` in place of ``database`` by renaming (no copy: instant
    whatever the size), keeping the database it replaces as the snapshot ``keep_as``.
    A protected ``database`` (production's) needs ``force``, as for a restore.

    Both renames happen in one transaction, then the filestores follow (undone on
    failure). The replaced database is closed to connections and described like any
    snapshot; nothing is dropped.
    """
    user_database_name(database)
    _guard(server, "restore", database, force=force)
    kept = snapshot_db_name(database, keep_as)
    now = datetime.now(timezone.utc)
    with _maintenance(server) as conn:
        full = _resolve_snapshot(conn, database, snapshot)
        _require(conn, server, database)
        _require_absent(conn, server, kept)
        _require_no_filestore(filestore_root, kept)
        ended = _exclusive(
            conn,
            [database],
            terminate=terminate,
            action=f"swap snapshot '{snapshot}' into '{database}'",
            statement=lambda: _renames(
                conn, [(database, kept), (full, database)], filestore_root=filestore_root
            ),
        )
        meta = {
            "odooplane": "snapshot",
            "database": database,
            "name": keep_as,
            "created_at": now.isoformat(timespec="seconds"),
            "replaced_by": full,
            "terminated_sessions": len(ended),
        }
        with conn.transaction():
            conn.execute(sql.SQL("COMMENT ON DATABASE {} IS NULL").format(db_ident(database)))
            conn.execute(
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(db_ident(database))
            )
            conn.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    db_ident(kept), sql.Literal(json.dumps(meta, sort_keys=True))
                )
            )
            conn.execute(
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(db_ident(kept))
            )
        size = _size(conn, kept)
    # The snapshot now serving belongs to the environment's role; the database set
    # aside, like every snapshot, to odooplane (the environment cannot reopen it).
    roles.settle(server, database)
    roles.settle(server, kept)
    return SnapshotInfo(
        database=database,
        name=keep_as,
        snapshot_db=kept,
        created_at=str(meta["created_at"]),
        size=size,
    )


# -- import and export -------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    database: str
    format: str
    seconds: float
    size: int | None
    filestore: FilestoreCopy
    replaced_existing: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "format": self.format,
            "seconds": round(self.seconds, 3),
            "size": self.size,
            "filestore": self.filestore.to_dict(),
            "replaced_existing": self.replaced_existing,
        }


def import_database(
    server: DatabaseServer,
    path: Path,
    target: str,
    *,
    filestore_root: Path | None = None,
    replace: bool = False,
    terminate: bool = False,
    protected: bool = False,
    force: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Load a dump into the new database ``target``.

    Formats are recognised by content: plain SQL (``.sql``), gzip-compressed SQL
    (``.sql.gz``), pg_dump's custom or tar format, and Odoo's backup ``.zip``
    (``dump.sql`` + ``filestore/``, whose filestore lands in ``filestore_root/target``).
    The dump goes into a temporary database renamed to ``target`` when complete; an
    existing ``target`` is refused unless ``replace`` is true, and a protected
    (production's, or marked ``protected``) one also needs ``force``.

    A dump is untrusted: it is loaded by a throw-away role that owns the temporary
    database and nothing else (:func:`odooplane.postgres.roles.temporary_owner`), so
    statements needing more (``COPY ... TO PROGRAM``, ``CREATE ROLE``, ``ALTER SYSTEM``,
    an untrusted language) fail and nothing is loaded. Odoo's extensions are created
    beforehand by odooplane. The result belongs to ``target``'s environment role.
    """
    from odooplane.postgres import archive

    user_database_name(target, what="target database name")
    source = Path(path)
    kind = archive.detect_format(source)
    started = time.monotonic()
    with _maintenance(server) as conn:
        if _exists(conn, target) and not replace:
            _require_absent(conn, server, target)
        if _exists(conn, target):
            _guard(server, "import", target, force=force, protected=protected)
        if not _exists(conn, target):
            _require_no_filestore(filestore_root, target)
    incoming = _temp_name("import")
    create_database(server, incoming)
    try:
        with contextlib.ExitStack() as stack:
            staged = stack.enter_context(_staging(filestore_root))
            loader = stack.enter_context(roles.temporary_owner(server, incoming))
            archive.load(loader, source, kind, incoming, filestore_dir=staged, progress=progress)
            copied = NO_FILESTORE
            if staged is not None and staged.is_dir():
                files, size = filestore_size(staged)
                assert filestore_root is not None
                move_filestore(staged, filestore_root / incoming)
                copied = FilestoreCopy("extract", files, size)
        with _maintenance(server) as conn:
            roles.settle(server, incoming, roles.environment_role(conn, target))
            replaced, _ended = _replace_with(
                conn,
                target,
                incoming,
                filestore_root=filestore_root,
                terminate=terminate,
                action=f"replace '{target}'",
            )
            final_size = _size(conn, target)
    except BaseException:
        with _maintenance(server) as conn:
            if _exists(conn, incoming):
                _drop(conn, incoming, filestore_root, terminate=True)
        raise
    return ImportResult(
        database=target,
        format=kind,
        seconds=time.monotonic() - started,
        size=final_size,
        filestore=copied,
        replaced_existing=replaced,
    )


@contextlib.contextmanager
def _staging(filestore_root: Path | None) -> Iterator[Path | None]:
    """A scratch folder beside the filestores (same filesystem, so moving is a rename)."""
    if filestore_root is None:
        yield None
        return
    filestore_root.mkdir(parents=True, exist_ok=True)
    folder = filestore_root / f".{_temp_name('staging')}"
    try:
        yield folder
    finally:
        remove_filestore(folder)


@dataclass(frozen=True)
class ExportResult:
    database: str
    path: Path
    bytes: int
    seconds: float
    filestore_files: int
    manifest: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "path": str(self.path),
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "filestore_files": self.filestore_files,
            "manifest": self.manifest,
        }


def export_database(
    server: DatabaseServer,
    database: str,
    path: Path,
    *,
    filestore_root: Path | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> ExportResult:
    """Write ``database`` as an Odoo backup ``.zip``: ``dump.sql`` (plain pg_dump,
    no owners), ``filestore/`` and ``manifest.json``, the layout Odoo's database manager
    produces and restores."""
    from odooplane.fsutil import writable_output
    from odooplane.postgres import archive

    database_name(database)
    target = Path(path)
    if target.exists() and not overwrite:
        raise RefusedError(
            f"{target} already exists.", hint="Choose another file name or pass --overwrite."
        )
    writable_output(target, f"The export of '{database}'")
    started = time.monotonic()
    with _maintenance(server) as conn:
        _require(conn, server, database)
        size = _size(conn, database)
        row = conn.execute(
            "SELECT datallowconn FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        readable = database
        if row is not None and not row[0]:
            # A snapshot (closed to connections): dump a temporary clone of it instead.
            readable = _temp_name("export")
            _clone(
                conn,
                server,
                database,
                readable,
                filestore_root=None,
                terminate=False,
                strategy=None,
            )
    try:
        manifest, files = archive.write_odoo_zip(
            server,
            readable,
            target,
            filestore_dir=filestore_of(filestore_root, database),
            expected_bytes=size or 0,
            progress=progress,
            db_name=database,
        )
    finally:
        if readable != database:
            with _maintenance(server) as conn:
                _drop(conn, readable, None, terminate=True)
    return ExportResult(
        database=database,
        path=target,
        bytes=target.stat().st_size,
        seconds=time.monotonic() - started,
        filestore_files=files,
        manifest=manifest,
    )
