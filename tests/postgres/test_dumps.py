"""pg_dump and pg_restore in the custom format, on the real test server: a copy of a
database that keeps serving, and failures that leave nothing half-made behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures_postgres import rows_of, seed, unique_name
from odooplane.errors import ExternalToolError, RefusedError
from odooplane.postgres.databases import database_exists, drop_database
from odooplane.postgres.dumps import copy_live, dump_custom, restore_custom
from odooplane.postgres.server import DatabaseServer


@pytest.fixture
def target(pg_server: DatabaseServer) -> Iterator[str]:
    name = unique_name("copy")
    yield name
    drop_database(pg_server, name, terminate=True, missing_ok=True)


def test_dump_and_restore_round_trip(
    pg_server: DatabaseServer, pg_dbname: str, target: str, tmp_path: Path
) -> None:
    seed(pg_server, pg_dbname, ["a", "b", "c"])
    path = tmp_path / "deep" / "backup.dump"
    size = dump_custom(pg_server, pg_dbname, path)
    assert size == path.stat().st_size > 0
    assert path.read_bytes()[:5] == b"PGDMP"  # the custom format's magic
    restore_custom(pg_server, path, target)
    assert rows_of(pg_server, target) == ["a", "b", "c"]


def test_copy_live_while_the_source_has_a_session_open(
    pg_server: DatabaseServer, pg_dbname: str, target: str
) -> None:
    seed(pg_server, pg_dbname, ["x"])
    with pg_server.connect(pg_dbname) as busy:
        busy.execute("SELECT 1")  # CREATE DATABASE ... TEMPLATE would refuse now
        copy_live(pg_server, pg_dbname, target)
    assert rows_of(pg_server, target) == ["x"]
    assert rows_of(pg_server, pg_dbname) == ["x"]


def test_dumping_a_missing_database_leaves_no_file(
    pg_server: DatabaseServer, tmp_path: Path
) -> None:
    path = tmp_path / "missing.dump"
    with pytest.raises(ExternalToolError) as info:
        dump_custom(pg_server, "no_such_db_here", path)
    assert str(info.value).startswith("Dumping 'no_such_db_here' failed (exit code 1):")
    assert "no_such_db_here" in str(info.value).splitlines()[-1]
    assert not path.exists()


def test_a_failed_restore_drops_the_half_loaded_database(
    pg_server: DatabaseServer, target: str, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.dump"
    broken.write_bytes(b"PGDMP this is not a dump")
    with pytest.raises(ExternalToolError, match=f"Restoring broken.dump into '{target}' failed"):
        restore_custom(pg_server, broken, target)
    assert not database_exists(pg_server, target)


def test_restoring_over_an_existing_database_is_refused(
    pg_server: DatabaseServer, pg_dbname: str, tmp_path: Path
) -> None:
    seed(pg_server, pg_dbname, ["keep"])
    path = tmp_path / "d.dump"
    dump_custom(pg_server, pg_dbname, path)
    with pytest.raises(RefusedError, match=f"Database '{pg_dbname}' already exists"):
        restore_custom(pg_server, path, pg_dbname)
    assert rows_of(pg_server, pg_dbname) == ["keep"]
