"""Template databases: cached copies of what changes rarely, cloned into new databases.

A template is a database named after the digest of everything that went into it
(:class:`TemplateKey`): ``odooplane_tpl_<layer>_<digest>``. It is built once, under a
lock, into a temporary database renamed into place when complete; then it is closed to
connections (``ALLOW_CONNECTIONS false``, ``IS_TEMPLATE true``), so nothing but
``CREATE DATABASE ... TEMPLATE`` ever reads it, and described by a JSON comment (its key,
when it was built and last used). Its filestore lives beside the other templates of the
same server in the user cache (:func:`template_data_dir`), and is copied with hard links
into every database cloned from it.

Concurrency: builders of one key take an exclusive PostgreSQL advisory lock on the
key's digest (held by a connection, so a crashed builder releases it); clones and drops
take the same lock, shared for clones, so a template is never dropped under a clone.

What a key holds and how a template is filled is the caller's business (Odoo's modules
in :mod:`odooplane.odoo.templates`); this module only stores, finds, clones and prunes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from odooplane.errors import OdooplaneError, UsageError
from odooplane.paths import cache_dir
from odooplane.postgres import databases as dbs
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
from odooplane.postgres.identifiers import db_ident, user_database_name
from odooplane.postgres.server import DatabaseServer
from odooplane.progress import Progress, report, warn
from odooplane.results import Result

TEMPLATE_PREFIX = "odooplane_tpl_"
BUILD_PREFIX = "_odooplane_tplbuild_"
# Bump when what a template holds changes meaning: every key, so every template, changes.
TEMPLATE_FORMAT = 1
# Advisory lock namespace (first key of the two-int form): "odtp".
_LOCK_NAMESPACE = 0x6F647470
KEEP_PER_LINEAGE = 3


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class TemplateKey:
    """Everything that went into a template.

    ``layer`` names what kind of content it is (``odoo``, ``project``); ``lineage`` groups
    the successive templates of one purpose (the same project's layer over time), so
    older ones can be pruned; ``parts`` is the JSON-able description whose digest names
    the template: change any part and the template is another one.
    """

    layer: str
    lineage: str
    parts: Mapping[str, Any]

    def __post_init__(self) -> None:
        if not self.layer.isalnum() or not self.layer.islower() or len(self.layer) > 12:
            raise UsageError(f"'{self.layer}' is not a template layer name (a-z, 0-9).")

    @property
    def digest(self) -> str:
        canonical = json.dumps(
            {"format": TEMPLATE_FORMAT, "layer": self.layer, "parts": self.parts},
            sort_keys=True,
            separators=(",", ":"),
            default=str,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:24]

    @property
    def database(self) -> str:
        return f"{TEMPLATE_PREFIX}{self.layer}_{self.digest}"


@dataclass(frozen=True)
class TemplateInfo(Result):
    """A template database found on a server."""

    database: str
    layer: str
    lineage: str
    digest: str
    key: dict[str, Any]
    created_at: str | None
    last_used_at: str | None
    build_seconds: float | None
    size: int | None
    filestore: Path | None
    filestore_files: int = 0
    filestore_bytes: int = 0
    parent: str | None = None
    complete: bool = True  # False: its comment or its filestore is missing


@dataclass(frozen=True)
class TemplateUse(Result):
    """How a template was obtained: ``hit`` (it existed), ``built``, or ``waited`` (another
    process was building it)."""

    template: TemplateInfo
    outcome: str
    seconds: float


@dataclass(frozen=True)
class TemplateClone(Result):
    """A database created from a template."""

    template: str
    database: str
    strategy: str
    seconds: float
    filestore: FilestoreCopy = NO_FILESTORE


@dataclass
class PruneResult(Result):
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    freed_bytes: int = 0


# -- where templates keep their filestores ---------------------------------------------


def server_id(server: DatabaseServer) -> str:
    """A short name for ``server`` that survives restarts: its cluster's system
    identifier when readable (a superuser's), else its address."""
    identity = server.describe()
    with contextlib.suppress(psycopg.Error), server.connect(server.maintenance_db) as conn:
        row = conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone()
        if row is not None:
            identity = f"sysid:{row[0]}"
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


def template_data_dir(server: DatabaseServer) -> Path:
    """Odoo's ``data_dir`` for building templates of ``server``: their filestores are in
    its ``filestore`` folder, in the user cache (shared by every project on the server)."""
    return cache_dir() / "db-templates" / server_id(server)


def template_filestore_root(server: DatabaseServer) -> Path:
    return template_data_dir(server) / "filestore"


def exports_dir() -> Path:
    """Where templates are kept independently of any server (a dump and a filestore per
    key), so a new server (the embedded cluster of another clone of the repository)
    restores a template in a second instead of building it again."""
    return cache_dir() / "db-templates" / "exports"


# -- reading templates -------------------------------------------------------------------


def _parse(
    name: str, comment: str | None, size: int | None, filestore_root: Path
) -> TemplateInfo | None:
    if not name.startswith(TEMPLATE_PREFIX):
        return None
    meta: dict[str, Any] = {}
    if comment:
        with contextlib.suppress(ValueError):
            loaded = json.loads(comment)
            if isinstance(loaded, dict) and loaded.get("odooplane") == "template":
                meta = loaded
    layer, _, digest = name[len(TEMPLATE_PREFIX) :].partition("_")
    folder = filestore_of(filestore_root, name)
    has_filestore = folder is not None and folder.is_dir()
    files, size_fs = filestore_size(folder) if has_filestore else (0, 0)
    complete = bool(meta) and (has_filestore or not meta.get("filestore"))
    return TemplateInfo(
        database=name,
        layer=str(meta.get("layer", layer)),
        lineage=str(meta.get("lineage", "")),
        digest=str(meta.get("digest", digest)),
        key=dict(meta.get("key") or {}),
        created_at=meta.get("created_at"),
        last_used_at=meta.get("last_used_at"),
        build_seconds=meta.get("build_seconds"),
        size=size,
        filestore=folder if has_filestore else None,
        filestore_files=files,
        filestore_bytes=size_fs,
        parent=meta.get("parent"),
        complete=complete,
    )


def _rows(conn: psycopg.Connection[Any], name: str | None = None) -> list[tuple[Any, ...]]:
    query = (
        "SELECT d.datname, pg_database_size(d.oid), shobj_description(d.oid, 'pg_database') "
        "FROM pg_database d WHERE left(d.datname, %s) = %s"
    )
    params: list[Any] = [len(TEMPLATE_PREFIX), TEMPLATE_PREFIX]
    if name is not None:
        query += " AND d.datname = %s"
        params.append(name)
    return conn.execute(query + " ORDER BY d.datname", params).fetchall()


def list_templates(server: DatabaseServer) -> list[TemplateInfo]:
    """Every template on ``server``, most recently used first."""
    root = template_filestore_root(server)
    with server.connect(server.maintenance_db) as conn:
        rows = _rows(conn)
    found = [t for r in rows if (t := _parse(r[0], r[2], _int(r[1]), root)) is not None]
    return sorted(found, key=lambda t: t.last_used_at or t.created_at or "", reverse=True)


def find_template(server: DatabaseServer, key: TemplateKey) -> TemplateInfo | None:
    """The complete template of ``key`` on ``server``, or None."""
    with server.connect(server.maintenance_db) as conn:
        rows = _rows(conn, key.database)
    if not rows:
        return None
    info = _parse(rows[0][0], rows[0][2], _int(rows[0][1]), template_filestore_root(server))
    return info if info is not None and info.complete else None


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


# -- the lock ------------------------------------------------------------------------------


def _lock_id(digest: str) -> int:
    # The second int4 of the two-key advisory lock form, from the digest.
    return int(digest[:8], 16) - (1 << 31)


@contextlib.contextmanager
def template_lock(
    server: DatabaseServer,
    digest: str,
    *,
    shared: bool = False,
    progress: Progress | None = None,
    what: str = "",
    timeout: float = 3600.0,
) -> Iterator[bool]:
    """Hold the advisory lock of template ``digest`` (on the maintenance database, where
    every odooplane process meets). Yields True when it had to wait for another holder."""
    function = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
    waited = False
    with server.connect(server.maintenance_db) as conn:
        deadline = time.monotonic() + timeout
        while True:
            row = conn.execute(
                sql.SQL("SELECT {}(%s, %s)").format(sql.Identifier(function)),
                (_LOCK_NAMESPACE, _lock_id(digest)),
            ).fetchone()
            if row is not None and row[0]:
                break
            if not waited:
                report(progress, f"waiting for another process building {what or digest}")
            waited = True
            if time.monotonic() > deadline:
                raise OdooplaneError(
                    f"Waited {timeout:.0f} s for another process building template "
                    f"{what or digest}.",
                    hint="See which odooplane command is still running; run again once it ended.",
                )
            time.sleep(0.5)
        try:
            yield waited
        finally:
            unlock = "pg_advisory_unlock_shared" if shared else "pg_advisory_unlock"
            with contextlib.suppress(psycopg.Error):
                conn.execute(
                    sql.SQL("SELECT {}(%s, %s)").format(sql.Identifier(unlock)),
                    (_LOCK_NAMESPACE, _lock_id(digest)),
                )


# -- building ------------------------------------------------------------------------------

Builder = Callable[[str, Path], None]
"""builder(database, data_dir): fill the new, empty-or-absent ``database``; Odoo's
``data_dir`` is ``data_dir`` (the filestore lands in ``data_dir/filestore/database``)."""


def _drop_quietly(server: DatabaseServer, name: str, filestore_root: Path) -> None:
    """Drop template or build ``name`` (ours: never a user's database) and its filestore."""
    with server.connect(server.maintenance_db) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            ident = db_ident(name)
            conn.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(ident))

            def drop() -> None:
                conn.execute(sql.SQL("DROP DATABASE {}").format(ident))

            dbs._exclusive(
                conn, [name], terminate=True, action=f"drop template '{name}'", statement=drop
            )
    remove_filestore(filestore_of(filestore_root, name))


def _stale_builds(server: DatabaseServer, digest: str) -> list[str]:
    prefix = f"{BUILD_PREFIX}{digest[:12]}_"
    with server.connect(server.maintenance_db) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE left(datname, %s) = %s",
            (len(prefix), prefix),
        ).fetchall()
    return [str(r[0]) for r in rows]


def _finish(
    server: DatabaseServer,
    key: TemplateKey,
    building: str,
    filestore_root: Path,
    *,
    seconds: float,
    parent: str | None,
    export: bool,
    progress: Progress | None,
) -> None:
    """Rename the complete ``building`` database into place and close it; with
    ``export``, also keep a dump of it in the user cache (:func:`exports_dir`)."""
    final = key.database
    folder = filestore_of(filestore_root, building)
    has_filestore = folder is not None and folder.is_dir()
    meta = {
        "odooplane": "template",
        "layer": key.layer,
        "lineage": key.lineage,
        "digest": key.digest,
        "key": dict(key.parts),
        "created_at": _now(),
        "last_used_at": _now(),
        "build_seconds": round(seconds, 2),
        "parent": parent,
        "filestore": has_filestore,
    }
    with server.connect(building) as conn:
        # Autovacuum would otherwise visit every freshly written table, and a clone
        # waits for its workers to leave the template; frozen rows never need it again.
        conn.execute("VACUUM (FREEZE, ANALYZE)")
    if export:
        try:
            _export(server, key, building, folder if has_filestore else None, meta)
        except (OdooplaneError, OSError) as exc:
            # The template itself is fine; only other servers lose the shortcut.
            warn(progress, f"could not export template {final}: {exc}")
    with server.connect(server.maintenance_db) as conn:
        # The filestore first: a template without its filestore is incomplete (rebuilt),
        # a filestore without its database is removed by the next build of the key.
        remove_filestore(filestore_of(filestore_root, final))
        move_filestore(folder, filestore_of(filestore_root, final))
        ident = db_ident(building)
        with conn.transaction():
            conn.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    ident, sql.Literal(json.dumps(meta, sort_keys=True))
                )
            )

        def rename() -> None:
            conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(ident, db_ident(final)))

        dbs._exclusive(
            conn, [building], terminate=True, action=f"close template '{final}'", statement=rename
        )
        conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(db_ident(final)))
        conn.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE true").format(db_ident(final)))


def ensure_template(
    server: DatabaseServer,
    key: TemplateKey,
    builder: Builder,
    *,
    parent: str | None = None,
    progress: Progress | None = None,
    label: str = "",
) -> TemplateUse:
    """The template of ``key`` on ``server``: found (``hit``), restored from the export of
    the same key in the user cache (``restored``), or built by ``builder`` into a
    temporary database (``built``), then exported. All under the key's lock: a second
    process asking for the same key waits, then uses it (``waited``). A template left
    incomplete (comment or filestore missing) is built again; after a build, older
    templates of the same lineage beyond :data:`KEEP_PER_LINEAGE` are pruned."""
    started = time.monotonic()
    found = find_template(server, key)
    if found is not None:
        return TemplateUse(found, "hit", round(time.monotonic() - started, 3))
    what = label or key.database
    filestore_root = template_filestore_root(server)
    with template_lock(server, key.digest, progress=progress, what=what) as waited:
        found = find_template(server, key)
        if found is not None:
            return TemplateUse(
                found, "waited" if waited else "hit", round(time.monotonic() - started, 3)
            )
        # Nobody else holds the lock: whatever is left for this key is from a crash.
        for stale in [*_stale_builds(server, key.digest), key.database]:
            _drop_quietly(server, stale, filestore_root)
        building = f"{BUILD_PREFIX}{key.digest[:12]}_{secrets.token_hex(4)}"
        exported = _export_of(key)
        outcome = "restored" if exported is not None else "built"
        t0 = time.monotonic()
        try:
            if exported is not None:
                report(progress, f"restoring template {what} from {exported}")
                _restore(server, exported, building, filestore_root)
            else:
                report(progress, f"building template {what}")
                builder(building, template_data_dir(server))
            _finish(
                server,
                key,
                building,
                filestore_root,
                seconds=time.monotonic() - t0,
                parent=parent,
                export=exported is None,
                progress=progress,
            )
        except BaseException:
            with contextlib.suppress(OdooplaneError, psycopg.Error, OSError):
                _drop_quietly(server, building, filestore_root)
            raise
        built = find_template(server, key)
        if built is None:
            raise OdooplaneError(f"Template {key.database} vanished right after being built.")
    with contextlib.suppress(OdooplaneError, psycopg.Error, OSError):
        prune_templates(server, keep=KEEP_PER_LINEAGE, lineage=key.lineage)
    return TemplateUse(built, outcome, round(time.monotonic() - started, 3))


# -- exports: templates kept outside any server ------------------------------------------


def _export_of(key: TemplateKey) -> Path | None:
    folder = exports_dir() / key.digest
    return folder if (folder / "template.json").is_file() else None


def _export(
    server: DatabaseServer,
    key: TemplateKey,
    database: str,
    filestore: Path | None,
    meta: Mapping[str, Any],
) -> Path:
    """Dump ``database`` (the complete template, still open) and copy its filestore to
    the export folder of ``key``; a folder already there (same key, same content) stays."""
    from odooplane.postgres.archive import dump_custom

    target = exports_dir() / key.digest
    if (target / "template.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    building = target.parent / f".{key.digest}.{secrets.token_hex(4)}"
    try:
        building.mkdir()
        dump_custom(server, database, building / "dump.pgc")
        copy_filestore(filestore, building / "filestore")
        (building / "template.json").write_text(json.dumps(dict(meta), sort_keys=True, indent=1))
        try:
            building.rename(target)
        except OSError:
            if not (target / "template.json").is_file():
                raise
            # Another server exported the same key meanwhile: keep theirs.
    finally:
        if building.exists():
            remove_filestore(building)
    return target


def _export_meta(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / "template.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _restore(server: DatabaseServer, export: Path, database: str, filestore_root: Path) -> None:
    from odooplane.postgres.archive import load

    os.utime(export)  # pruning keeps the exports in use
    dbs.create_database(server, database)
    load(server, export / "dump.pgc", "custom", database, filestore_dir=None)
    copy_filestore(export / "filestore", filestore_of(filestore_root, database))


@dataclass(frozen=True)
class ExportInfo(Result):
    """A template kept in the user cache, restorable on any server."""

    digest: str
    layer: str
    lineage: str
    path: Path
    bytes: int
    created_at: str | None
    last_used_at: str


def list_exports() -> list[ExportInfo]:
    """Every exported template, most recently used (written or restored) first."""
    root = exports_dir()
    found: list[ExportInfo] = []
    if not root.is_dir():
        return found
    for folder in root.iterdir():
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        meta = _export_meta(folder)
        _files, size = filestore_size(folder)
        used = datetime.fromtimestamp(folder.stat().st_mtime, timezone.utc)
        found.append(
            ExportInfo(
                digest=folder.name,
                layer=str(meta.get("layer", "?")),
                lineage=str(meta.get("lineage", "")),
                path=folder,
                bytes=size,
                created_at=meta.get("created_at"),
                last_used_at=used.isoformat(timespec="seconds"),
            )
        )
    return sorted(found, key=lambda e: e.last_used_at, reverse=True)


def prune_exports(
    *,
    keep: int | None = None,
    unused_for: timedelta | None = None,
    lineage: str | None = None,
    everything: bool = False,
) -> PruneResult:
    """Remove exported templates by the rules of :func:`prune_templates`; exports left
    half-written by a crash (over an hour old) always go."""
    result = PruneResult()
    now = datetime.now(timezone.utc)
    seen: dict[str, int] = {}
    for export in list_exports():
        if lineage is not None and export.lineage != lineage:
            continue
        seen[export.lineage] = seen.get(export.lineage, 0) + 1
        used = _parse_time(export.last_used_at)
        doomed = (
            everything
            or (unused_for is not None and (used is None or now - used > unused_for))
            or (keep is not None and seen[export.lineage] > keep)
        )
        if not doomed:
            result.kept.append(export.digest)
            continue
        remove_filestore(export.path)
        result.removed.append(export.digest)
        result.freed_bytes += export.bytes
    root = exports_dir()
    if root.is_dir():
        for folder in root.iterdir():
            if folder.name.startswith(".") and time.time() - folder.stat().st_mtime > 3600:
                remove_filestore(folder)
    return result


@dataclass(frozen=True)
class CacheListing(Result):
    """``db cache list``: the templates of a server and the exports of the user cache."""

    server: str
    templates: list[TemplateInfo]
    exports: list[ExportInfo]


def cache_listing(server: DatabaseServer) -> CacheListing:
    return CacheListing(server.describe(), list_templates(server), list_exports())


@dataclass(frozen=True)
class CachePrune(Result):
    """``db cache prune``: what went from the server and from the user cache."""

    templates: PruneResult
    exports: PruneResult


def prune_cache(
    server: DatabaseServer,
    *,
    keep: int | None = KEEP_PER_LINEAGE,
    unused_for: timedelta | None = None,
    everything: bool = False,
) -> CachePrune:
    """Prune the server's templates and the exported ones alike (see
    :func:`prune_templates`)."""
    return CachePrune(
        prune_templates(server, keep=keep, unused_for=unused_for, everything=everything),
        prune_exports(keep=keep, unused_for=unused_for, everything=everything),
    )


# -- cloning -------------------------------------------------------------------------------


def clone_template(
    server: DatabaseServer,
    template: TemplateInfo,
    target: str,
    *,
    filestore_root: Path | None,
    progress: Progress | None = None,
) -> TemplateClone:
    """Create the new database ``target`` by ``CREATE DATABASE ... TEMPLATE`` and copy the
    template's filestore into ``filestore_root/target`` (hard links)."""
    user_database_name(target, what="target database name")
    started = time.monotonic()
    report(progress, f"cloning {template.database}")
    with (
        template_lock(server, template.digest, shared=True, progress=progress),
        server.connect(server.maintenance_db) as conn,
    ):
        dbs._require_absent(conn, server, target)
        dbs._require_no_filestore(filestore_root, target)
        chosen = dbs.choose_strategy(int(conn.info.server_version), template.size, None)
        statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            db_ident(target), db_ident(template.database)
        )
        if chosen is not None:
            statement = sql.SQL("{} STRATEGY {}").format(statement, sql.SQL(chosen.upper()))
        conn.execute(statement)
        try:
            copied = copy_filestore(template.filestore, filestore_of(filestore_root, target))
        except BaseException:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(db_ident(target)))
            raise
        _touch(conn, template.database)
    # The clone becomes its environment's (its role owns it, PUBLIC cannot connect).
    roles.settle(server, target)
    return TemplateClone(
        template=template.database,
        database=target,
        strategy=chosen or "default",
        seconds=round(time.monotonic() - started, 3),
        filestore=copied,
    )


def _touch(conn: psycopg.Connection[Any], name: str) -> None:
    """Record that template ``name`` was just used (pruning keeps the recently used)."""
    row = conn.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
        (name,),
    ).fetchone()
    if row is None or not row[0]:
        return
    try:
        meta = json.loads(row[0])
    except ValueError:
        return
    meta["last_used_at"] = _now()
    conn.execute(
        sql.SQL("COMMENT ON DATABASE {} IS {}").format(
            db_ident(name), sql.Literal(json.dumps(meta, sort_keys=True))
        )
    )


# -- pruning ---------------------------------------------------------------------------------


def drop_template(server: DatabaseServer, template: TemplateInfo) -> int:
    """Drop one template and its filestore (waiting for clones of it to finish); returns
    the bytes freed."""
    freed = (template.size or 0) + template.filestore_bytes
    with template_lock(server, template.digest, what=template.database):
        _drop_quietly(server, template.database, template_filestore_root(server))
    return freed


def prune_templates(
    server: DatabaseServer,
    *,
    keep: int | None = None,
    unused_for: timedelta | None = None,
    lineage: str | None = None,
    everything: bool = False,
) -> PruneResult:
    """Drop templates: all of them (``everything``), those not used for ``unused_for``,
    and, per lineage, all but the ``keep`` most recently used. Incomplete templates and
    builds left by a crash (not locked by a builder) always go. ``lineage`` limits the
    pruning to one lineage."""
    if keep is not None and keep < 0:
        raise UsageError(f"--keep must be 0 or more, not {keep}.")
    result = PruneResult()
    templates = [t for t in list_templates(server) if lineage is None or t.lineage == lineage]
    now = datetime.now(timezone.utc)
    seen: dict[str, int] = {}
    for template in templates:  # most recently used first
        seen[template.lineage] = seen.get(template.lineage, 0) + 1
        used = _parse_time(template.last_used_at or template.created_at)
        reasons = []
        if everything:
            reasons.append("all")
        if not template.complete:
            reasons.append("incomplete")
        if unused_for is not None and (used is None or now - used > unused_for):
            reasons.append("unused")
        if keep is not None and seen[template.lineage] > keep:
            reasons.append("superseded")
        if not reasons:
            result.kept.append(template.database)
            continue
        try:
            freed = drop_template(server, template)
        except (OdooplaneError, psycopg.Error) as exc:
            result.skipped[template.database] = str(exc).splitlines()[0]
            continue
        result.removed.append(template.database)
        result.freed_bytes += freed
    if lineage is None:
        _prune_stale_builds(server, result)
    return result


def _prune_stale_builds(server: DatabaseServer, result: PruneResult) -> None:
    with server.connect(server.maintenance_db) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE left(datname, %s) = %s",
            (len(BUILD_PREFIX), BUILD_PREFIX),
        ).fetchall()
    for (name,) in rows:
        digest = str(name)[len(BUILD_PREFIX) :].split("_")[0]
        with server.connect(server.maintenance_db) as conn:
            row = conn.execute(
                "SELECT pg_try_advisory_lock(%s, %s)",
                (_LOCK_NAMESPACE, int(digest[:8], 16) - (1 << 31)),
            ).fetchone()
            if not (row and row[0]):
                result.kept.append(str(name))  # a builder is at work on it
                continue
            try:
                _drop_quietly(server, str(name), template_filestore_root(server))
                result.removed.append(str(name))
            finally:
                conn.execute(
                    "SELECT pg_advisory_unlock(%s, %s)",
                    (_LOCK_NAMESPACE, int(digest[:8], 16) - (1 << 31)),
                )


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
