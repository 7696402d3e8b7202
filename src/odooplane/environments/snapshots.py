"""The snapshots a deploy takes and puts back, and how long they are kept.

A deploy that changes modules takes ``pre-<stamp>`` (a ``CREATE DATABASE ... TEMPLATE``
copy, which needs the database idle: the old build is stopped behind the maintenance
page first). Undoing it never drops the database it replaces: the snapshot is renamed
into place and the database it replaces is kept as the snapshot ``failed-<stamp>``
(:func:`odooplane.postgres.databases.swap_in_snapshot`, two renames, instant whatever
the size). The newest :data:`KEEP` of each kind are kept.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timezone

from odooplane.environments.context import EnvContext
from odooplane.errors import OdooplaneError
from odooplane.postgres import databases as dbs
from odooplane.postgres.server import DatabaseServer

KEEP = 3
PRE_DEPLOY = "pre-"
REPLACED = "failed-"


def stamp(prefix: str) -> str:
    return prefix + datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")


def exists(ctx: EnvContext, server: DatabaseServer, name: str) -> bool:
    return dbs.database_exists(server, dbs.snapshot_db_name(ctx.database, name))


def put_back(
    ctx: EnvContext, server: DatabaseServer, snapshot: str, *, keep_as: str | None = None
) -> str:
    """Put ``snapshot`` in place of the environment's database, keeping the database it
    replaces as snapshot ``keep_as`` (default ``failed-<stamp>``); returns that name.

    Done already (a recovery that died after the renames): nothing happens.
    """
    kept = keep_as or stamp(REPLACED)
    if not exists(ctx, server, snapshot) and exists(ctx, server, kept):
        return kept
    dbs.swap_in_snapshot(
        server,
        ctx.database,
        snapshot,
        keep_as=kept,
        filestore_root=ctx.filestore_root,
        terminate=True,
        # The environment's own journaled undo: production's included.
        force=True,
    )
    return kept


def drop(ctx: EnvContext, server: DatabaseServer, name: str) -> None:
    """Drop snapshot ``name`` (a half-made one, or one past its time); idempotent."""
    with contextlib.suppress(OdooplaneError):
        dbs.drop_database(
            server,
            dbs.snapshot_db_name(ctx.database, name),
            filestore_root=ctx.filestore_root,
            terminate=True,
            missing_ok=True,
            # The environment's own snapshots (production's included).
            force=True,
        )


def prune(ctx: EnvContext, server: DatabaseServer) -> None:
    """Keep the newest :data:`KEEP` pre-deploy snapshots and :data:`KEEP` replaced
    databases of the environment."""
    mine = dbs.list_snapshots(server, ctx.database)
    for prefix in (PRE_DEPLOY, REPLACED):
        of_kind = [s for s in mine if s.name.startswith(prefix)]
        for old in of_kind[:-KEEP]:
            drop(ctx, server, old.name)
