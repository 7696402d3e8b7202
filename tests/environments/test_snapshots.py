"""The snapshots a deploy takes and puts back, on the real test server: putting one
back keeps the database it replaces, a second try after a crash does nothing, and only
the newest few of each kind are kept."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fixtures_postgres import rows_of
from odooplane.environments import snapshots
from odooplane.environments.context import EnvContext
from odooplane.postgres import databases as dbs
from odooplane.postgres.server import DatabaseServer

from .conftest import rules_project


@pytest.fixture
def ctx(make_git_repo: Callable[..., Path], pg_server: DatabaseServer) -> Iterator[EnvContext]:
    repo = make_git_repo(f"snap{uuid.uuid4().hex[:6]}")
    context = EnvContext(rules_project(repo, pg_server), "staging")
    yield context
    for snap in dbs.list_snapshots(pg_server, context.database):
        dbs.drop_database(pg_server, snap.snapshot_db, terminate=True, missing_ok=True, force=True)
    dbs.drop_database(pg_server, context.database, terminate=True, missing_ok=True, force=True)


def _fill(server: DatabaseServer, database: str, body: str) -> None:
    with server.connect(database) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS note (id serial PRIMARY KEY, body text)")
        conn.execute("DELETE FROM note")
        conn.execute("INSERT INTO note (body) VALUES (%s)", (body,))


def test_stamp() -> None:
    assert re.fullmatch(r"pre-\d{14}", snapshots.stamp(snapshots.PRE_DEPLOY))
    assert snapshots.stamp(snapshots.REPLACED).startswith("failed-")


def test_put_back_keeps_the_replaced_database_and_is_idempotent(
    ctx: EnvContext, pg_server: DatabaseServer
) -> None:
    dbs.create_database(pg_server, ctx.database)
    _fill(pg_server, ctx.database, "before deploy")
    dbs.snapshot_database(pg_server, ctx.database, name="pre-1", filestore_root=ctx.filestore_root)
    assert snapshots.exists(ctx, pg_server, "pre-1")
    _fill(pg_server, ctx.database, "half-migrated")

    kept = snapshots.put_back(ctx, pg_server, "pre-1", keep_as="failed-1")
    assert kept == "failed-1"
    assert rows_of(pg_server, ctx.database) == ["before deploy"]
    assert not snapshots.exists(ctx, pg_server, "pre-1")
    assert snapshots.exists(ctx, pg_server, "failed-1")
    # The recovery runs again after dying past the renames: nothing more happens.
    assert snapshots.put_back(ctx, pg_server, "pre-1", keep_as="failed-1") == "failed-1"
    assert rows_of(pg_server, ctx.database) == ["before deploy"]


def test_prune_keeps_the_newest_of_each_kind(ctx: EnvContext, pg_server: DatabaseServer) -> None:
    dbs.create_database(pg_server, ctx.database)
    names = [f"pre-2026010100000{i}" for i in range(5)] + ["failed-20260101000000", "manual"]
    for name in names:
        dbs.snapshot_database(pg_server, ctx.database, name=name)
    snapshots.prune(ctx, pg_server)
    left = sorted(s.name for s in dbs.list_snapshots(pg_server, ctx.database))
    assert left == [
        "failed-20260101000000",
        "manual",
        "pre-20260101000002",
        "pre-20260101000003",
        "pre-20260101000004",
    ]
    snapshots.drop(ctx, pg_server, "manual")
    snapshots.drop(ctx, pg_server, "manual")  # idempotent
    assert not snapshots.exists(ctx, pg_server, "manual")
