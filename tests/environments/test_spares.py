"""Spare copies on the real test server: made once, claimed by a rename with their
filestore, never claimed when the source was made again since, remade after a crash
left a database without a record, made in the background, dropped with the source."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fixtures_postgres import add_attachment, files_of, rows_of, seed
from odooplane.environments import spares
from odooplane.environments.context import EnvContext
from odooplane.environments.state import EnvState, now_iso
from odooplane.postgres import databases as dbs
from odooplane.postgres.server import DatabaseServer

from .conftest import rules_project


@pytest.fixture
def pair(
    make_git_repo: Callable[..., Path], pg_server: DatabaseServer
) -> Iterator[tuple[EnvContext, EnvContext]]:
    """(staging, qa): staging has a database, a filestore and a state; qa copies it."""
    repo = make_git_repo(f"spare{uuid.uuid4().hex[:6]}")
    project = rules_project(
        repo,
        pg_server,
        "  qa:\n    kind: development\n"
        f"    database: {repo.name}_qa\n"
        "    data: {copy: staging}\n",
    )
    source, target = EnvContext(project, "staging"), EnvContext(project, "qa")
    seed(pg_server, source.database, ["from staging"])
    add_attachment(source.filestore_root, source.database, b"an attachment")
    _made(source)
    yield source, target
    for db in (source.database, target.database, spares.spare_database(source)):
        dbs.drop_database(pg_server, db, terminate=True, missing_ok=True, force=True)


def _made(source: EnvContext) -> None:
    """(Re)write the source's state as a create does: a new stamp."""
    source.store.save(
        EnvState(
            name=source.name,
            kind="staging",
            database=source.database,
            created_at=now_iso() + uuid.uuid4().hex[:4],
            build="abc1234",
        )
    )


def test_made_once_then_claimed_by_rename_with_its_filestore(
    pair: tuple[EnvContext, EnvContext], pg_server: DatabaseServer
) -> None:
    source, target = pair
    assert spares.claim(target, source, pg_server) is None  # none made yet

    made = spares.make(source, pg_server)
    assert made is not None and not made.reused
    spare = spares.spare_database(source)
    assert made.database == spare and rows_of(pg_server, spare) == ["from staging"]
    again = spares.make(source, pg_server)
    assert again is not None and again.reused and again.made_at == made.made_at

    claimed = spares.claim(target, source, pg_server)
    assert claimed is not None and claimed.database == spare
    assert rows_of(pg_server, target.database) == ["from staging"]
    assert not dbs.database_exists(pg_server, spare)
    root = target.filestore_root
    assert files_of(root, target.database) == files_of(root, source.database) != {}
    assert not (root / spare).exists()
    assert spares.claim(target, source, pg_server) is None  # a spare is claimed once


def test_a_spare_of_an_older_source_is_never_claimed(
    pair: tuple[EnvContext, EnvContext], pg_server: DatabaseServer
) -> None:
    source, target = pair
    assert spares.make(source, pg_server) is not None
    # The source is made again (a refreshed preview base): new content, new stamp.
    dbs.drop_database(pg_server, source.database, terminate=True, force=True)
    seed(pg_server, source.database, ["made again"])
    _made(source)
    assert spares.claim(target, source, pg_server) is None
    assert not dbs.database_exists(pg_server, target.database)
    remade = spares.make(source, pg_server)
    assert remade is not None and not remade.reused
    assert rows_of(pg_server, spares.spare_database(source)) == ["made again"]


def test_a_crash_while_making_is_recovered_by_making_again(
    pair: tuple[EnvContext, EnvContext], pg_server: DatabaseServer
) -> None:
    source, target = pair
    spare = spares.spare_database(source)
    # What a make killed after its clone leaves: a database, no record.
    dbs.create_database(pg_server, spare)
    assert spares.claim(target, source, pg_server) is None
    made = spares.make(source, pg_server)
    assert made is not None and not made.reused
    assert rows_of(pg_server, spare) == ["from staging"]


def test_made_in_the_background_then_dropped_with_its_source(
    pair: tuple[EnvContext, EnvContext], pg_server: DatabaseServer
) -> None:
    source, target = pair
    spares.make_later(source.project, source.name)
    record = source.project.state_dir / "spares" / "staging.json"
    deadline = time.monotonic() + 120
    while not record.exists():
        log = spares.log_path(source.project, source.name)
        assert time.monotonic() < deadline, log.read_text() if log.exists() else "no log"
        time.sleep(0.1)
    assert "made " in spares.log_path(source.project, source.name).read_text()
    spare = spares.spare_database(source)
    assert dbs.database_exists(pg_server, spare)

    args = (source.project, source.name, source.database, source.filestore_root, pg_server)
    assert spares.discard(*args) is True
    assert not dbs.database_exists(pg_server, spare) and not record.exists()
    assert not (source.filestore_root / spare).exists()
    assert spares.discard(*args) is False
    assert spares.claim(target, source, pg_server) is None
