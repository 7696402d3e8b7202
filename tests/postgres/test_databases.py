"""Database operations against the real session cluster, filestores included."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from fixtures_postgres import add_attachment, files_of, rows_of, seed, unique_name
from odooplane.errors import NotFoundError, RefusedError, UsageError
from odooplane.postgres import databases as dbops
from odooplane.postgres.server import DatabaseServer


@pytest.fixture
def source_db(pg_server: DatabaseServer, pg_dbname: str, tmp_path: Path) -> str:
    seed(pg_server, pg_dbname, ["first", "second"])
    add_attachment(tmp_path / "filestore", pg_dbname, b"%PDF invoice")
    add_attachment(tmp_path / "filestore", pg_dbname, b"\x89PNG logo")
    return pg_dbname


@pytest.fixture
def fs_root(tmp_path: Path) -> Path:
    return tmp_path / "filestore"


@pytest.fixture
def other_name(pg_server: DatabaseServer) -> Iterator[str]:
    name = unique_name("other")
    yield name
    dbops.drop_database(pg_server, name, terminate=True, missing_ok=True)


def test_create_exists_list_and_sizes(pg_server: DatabaseServer, pg_dbname: str) -> None:
    assert not dbops.database_exists(pg_server, pg_dbname)
    assert dbops.create_database(pg_server, pg_dbname)
    assert dbops.database_exists(pg_server, pg_dbname)
    assert dbops.create_database(pg_server, pg_dbname, exist_ok=True) is False
    with pytest.raises(RefusedError, match="already exists"):
        dbops.create_database(pg_server, pg_dbname)
    listed = {d.name: d for d in dbops.list_databases(pg_server)}
    assert pg_dbname in listed
    assert listed[pg_dbname].size and listed[pg_dbname].size > 1_000_000
    assert listed[pg_dbname].owner == pg_server.user
    assert "postgres" not in listed and "template1" not in listed
    with pg_server.connect(pg_dbname) as conn:
        encoding = conn.execute("SHOW server_encoding").fetchone()
        collation = conn.execute(
            "SELECT datcollate FROM pg_database WHERE datname = current_database()"
        ).fetchone()
    assert encoding == ("UTF8",)
    assert collation == ("C",)


def test_clone_copies_data_and_hard_links_the_filestore(
    pg_server: DatabaseServer, source_db: str, other_name: str, fs_root: Path
) -> None:
    result = dbops.clone_database(pg_server, source_db, other_name, filestore_root=fs_root)
    assert rows_of(pg_server, other_name) == ["first", "second"]
    assert result.filestore.method == "hardlink"
    assert result.filestore.files == 2
    assert files_of(fs_root, other_name) == files_of(fs_root, source_db)
    for relative in files_of(fs_root, source_db):
        assert (fs_root / source_db / relative).stat().st_ino == (
            fs_root / other_name / relative
        ).stat().st_ino
    # Independent afterwards: a write to the clone does not reach the source.
    with pg_server.connect(other_name) as conn:
        conn.execute("INSERT INTO note (body) VALUES ('only in clone')")
    assert rows_of(pg_server, source_db) == ["first", "second"]
    listed = {d.name: d for d in dbops.list_databases(pg_server, filestore_root=fs_root)}
    assert listed[other_name].filestore_files == 2


@pytest.mark.parametrize("strategy", ["wal_log", "file_copy"])
def test_both_clone_strategies(
    pg_server: DatabaseServer, source_db: str, other_name: str, strategy: str
) -> None:
    result = dbops.clone_database(pg_server, source_db, other_name, strategy=strategy)
    assert result.strategy == strategy
    assert rows_of(pg_server, other_name) == ["first", "second"]


def test_clone_reports_progress(
    pg_server: DatabaseServer, prodlike_db: str, other_name: str
) -> None:
    steps: list[tuple[str, int, int]] = []
    result = dbops.clone_database(
        pg_server,
        prodlike_db,
        other_name,
        strategy="wal_log",
        progress=lambda e: steps.append((e.phase, e.done, e.total)),
    )
    assert steps[-1] == ("copying", result.size, result.size)
    done = [step[1] for step in steps]
    assert done == sorted(done) and all(d <= (result.size or 0) for d in done)
    dbops.drop_database(pg_server, other_name)
    steps.clear()
    dbops.clone_database(
        pg_server,
        prodlike_db,
        other_name,
        strategy="file_copy",
        progress=lambda e: steps.append((e.phase, e.done, e.total)),
    )
    assert steps[-1] == ("copying", 0, 0)  # no estimate for FILE_COPY: shown without total


def test_strategy_choice() -> None:
    big = dbops.FILE_COPY_MIN_BYTES
    assert dbops.choose_strategy(150004, 10_000_000, None) == "wal_log"
    assert dbops.choose_strategy(150004, big, "auto") == "file_copy"
    assert dbops.choose_strategy(160001, 1, "file_copy") == "file_copy"
    assert dbops.choose_strategy(140010, big, None) is None  # no STRATEGY before 15
    with pytest.raises(UsageError, match="not a clone strategy"):
        dbops.choose_strategy(150004, 1, "rsync")


def test_clone_refuses_a_busy_source_and_names_its_sessions(
    pg_server: DatabaseServer, source_db: str, other_name: str, fs_root: Path
) -> None:
    busy = psycopg.connect(pg_server.conninfo(source_db), application_name="odoo-worker-7")
    try:
        with pytest.raises(RefusedError) as info:
            dbops.clone_database(pg_server, source_db, other_name, filestore_root=fs_root)
        assert "odoo-worker-7" in info.value.message
        assert "--terminate" in (info.value.hint or "")
        assert not dbops.database_exists(pg_server, other_name)
        assert not (fs_root / other_name).exists()

        result = dbops.clone_database(
            pg_server, source_db, other_name, filestore_root=fs_root, terminate=True
        )
        assert [s.application for s in result.terminated] == ["odoo-worker-7"]
        assert rows_of(pg_server, other_name) == ["first", "second"]
        with pytest.raises(psycopg.OperationalError):
            busy.execute("SELECT 1")
    finally:
        busy.close()


def test_clone_errors(pg_server: DatabaseServer, source_db: str, fs_root: Path) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        dbops.clone_database(pg_server, unique_name("missing"), unique_name())
    with pytest.raises(UsageError, match="onto itself"):
        dbops.clone_database(pg_server, source_db, source_db)
    stray = unique_name("stray")
    (fs_root / stray).mkdir(parents=True)
    with pytest.raises(RefusedError, match="left over"):
        dbops.clone_database(pg_server, source_db, stray, filestore_root=fs_root)
    assert not dbops.database_exists(pg_server, stray)
    with pytest.raises(UsageError, match="PostgreSQL's own"):
        dbops.clone_database(pg_server, source_db, "template1")


def test_snapshots_named_and_timestamped(
    pg_server: DatabaseServer, source_db: str, fs_root: Path
) -> None:
    named = dbops.snapshot_database(
        pg_server, source_db, name="before-upgrade", filestore_root=fs_root
    )
    stamped = dbops.snapshot_database(pg_server, source_db, filestore_root=fs_root)
    # An empty name given on purpose was silently a timestamp.
    with pytest.raises(UsageError, match="cannot be empty"):
        dbops.snapshot_database(pg_server, source_db, name=" ", filestore_root=fs_root)
    assert named.snapshot_db == f"{source_db}__snap__before-upgrade"
    assert stamped.name[:8].isdigit() and stamped.name[8] == "-"
    listed = dbops.list_snapshots(pg_server, source_db)
    assert {s.name for s in listed} == {"before-upgrade", stamped.name}
    for snap in listed:
        assert snap.database == source_db
        assert snap.created_at is not None
        assert snap.size and snap.size > 0
        assert snap.filestore == {"method": "hardlink", "files": 2, "bytes": 21}
        assert files_of(fs_root, snap.snapshot_db) == files_of(fs_root, source_db)
    # Snapshots cannot be connected to, so nothing changes them and Odoo does not list them.
    databases = {d.name: d for d in dbops.list_databases(pg_server)}
    assert databases[named.snapshot_db].is_snapshot
    assert databases[named.snapshot_db].allow_connections is False
    assert not databases[source_db].is_snapshot
    with pytest.raises(RefusedError, match="already exists"):
        dbops.snapshot_database(pg_server, source_db, name="before-upgrade")
    with pytest.raises(UsageError, match="not a valid snapshot name"):
        dbops.snapshot_database(pg_server, source_db, name="a__snap__b")
    with pytest.raises(UsageError, match="63 bytes"):
        dbops.snapshot_database(pg_server, source_db, name="x" * 60)


def test_restore_puts_back_data_and_filestore(
    pg_server: DatabaseServer, source_db: str, fs_root: Path
) -> None:
    original_files = files_of(fs_root, source_db)
    dbops.snapshot_database(pg_server, source_db, name="s1", filestore_root=fs_root)
    with pg_server.connect(source_db) as conn:
        conn.execute("DELETE FROM note")
        conn.execute("INSERT INTO note (body) VALUES ('after the snapshot')")
    add_attachment(fs_root, source_db, b"new attachment")
    first = next(iter(original_files))
    (fs_root / source_db / first).unlink()

    result = dbops.restore_snapshot(pg_server, source_db, "s1", filestore_root=fs_root)
    assert result.replaced_existing
    assert rows_of(pg_server, source_db) == ["first", "second"]
    assert files_of(fs_root, source_db) == original_files
    # The snapshot stays, nothing temporary is left behind.
    assert [s.name for s in dbops.list_snapshots(pg_server, source_db)] == ["s1"]
    names = {d.name for d in dbops.list_databases(pg_server)}
    assert not [n for n in names if n.startswith("_odooplane_")]
    assert not [p for p in fs_root.iterdir() if p.name.startswith(("_odooplane_", "."))]
    # Restoring twice works (the snapshot is only ever cloned).
    dbops.restore_snapshot(pg_server, source_db, f"{source_db}__snap__s1", filestore_root=fs_root)
    assert rows_of(pg_server, source_db) == ["first", "second"]


def test_swap_in_snapshot_renames_and_keeps_the_replaced_database(
    pg_server: DatabaseServer, source_db: str, fs_root: Path
) -> None:
    original_files = files_of(fs_root, source_db)
    dbops.snapshot_database(pg_server, source_db, name="pre-1", filestore_root=fs_root)
    with pg_server.connect(source_db) as conn:
        conn.execute("INSERT INTO note (body) VALUES ('written after')")
    add_attachment(fs_root, source_db, b"attachment after")
    after_files = files_of(fs_root, source_db)
    busy = psycopg.connect(pg_server.conninfo(source_db), application_name="odoo-http")
    try:
        with pytest.raises(RefusedError, match="odoo-http"):
            dbops.swap_in_snapshot(
                pg_server, source_db, "pre-1", keep_as="replaced-1", filestore_root=fs_root
            )
        kept = dbops.swap_in_snapshot(
            pg_server,
            source_db,
            "pre-1",
            keep_as="replaced-1",
            filestore_root=fs_root,
            terminate=True,
        )
    finally:
        busy.close()
    assert rows_of(pg_server, source_db) == ["first", "second"]
    assert files_of(fs_root, source_db) == original_files
    snapshots = {s.name: s for s in dbops.list_snapshots(pg_server, source_db)}
    assert set(snapshots) == {"replaced-1"} and kept.snapshot_db == f"{source_db}__snap__replaced-1"
    assert snapshots["replaced-1"].created_at is not None
    assert files_of(fs_root, kept.snapshot_db) == after_files
    # The kept database is a snapshot like any other: it can be restored.
    dbops.restore_snapshot(pg_server, source_db, "replaced-1", filestore_root=fs_root)
    assert rows_of(pg_server, source_db) == ["first", "second", "written after"]


def test_restore_refuses_while_in_use_unless_terminating(
    pg_server: DatabaseServer, source_db: str, fs_root: Path
) -> None:
    dbops.snapshot_database(pg_server, source_db, name="s1", filestore_root=fs_root)
    with pg_server.connect(source_db) as conn:
        conn.execute("INSERT INTO note (body) VALUES ('third')")
    busy = psycopg.connect(pg_server.conninfo(source_db), application_name="odoo-http")
    try:
        with pytest.raises(RefusedError, match="odoo-http"):
            dbops.restore_snapshot(pg_server, source_db, "s1", filestore_root=fs_root)
        # Refused means untouched, and the temporary copy is gone again.
        assert rows_of(pg_server, source_db) == ["first", "second", "third"]
        assert not [d for d in dbops.list_databases(pg_server) if d.name.startswith("_odooplane_")]
        result = dbops.restore_snapshot(
            pg_server, source_db, "s1", filestore_root=fs_root, terminate=True
        )
        assert [s.application for s in result.terminated] == ["odoo-http"]
        assert rows_of(pg_server, source_db) == ["first", "second"]
    finally:
        busy.close()


def test_restore_of_unknown_snapshot_lists_the_known_ones(
    pg_server: DatabaseServer, source_db: str
) -> None:
    dbops.snapshot_database(pg_server, source_db, name="known")
    with pytest.raises(NotFoundError) as info:
        dbops.restore_snapshot(pg_server, source_db, "unknown")
    assert "known" in (info.value.hint or "")


def test_restore_after_the_database_was_dropped(
    pg_server: DatabaseServer, source_db: str, fs_root: Path
) -> None:
    dbops.snapshot_database(pg_server, source_db, name="s1", filestore_root=fs_root)
    dbops.drop_database(pg_server, source_db, filestore_root=fs_root)
    assert not (fs_root / source_db).exists()
    result = dbops.restore_snapshot(pg_server, source_db, "s1", filestore_root=fs_root)
    assert not result.replaced_existing
    assert rows_of(pg_server, source_db) == ["first", "second"]
    assert len(files_of(fs_root, source_db)) == 2


def test_swap_exchanges_databases_and_filestores(
    pg_server: DatabaseServer, source_db: str, other_name: str, fs_root: Path
) -> None:
    seed(pg_server, other_name, ["other"])
    add_attachment(fs_root, other_name, b"other attachment")
    files_a, files_b = files_of(fs_root, source_db), files_of(fs_root, other_name)
    dbops.swap_databases(pg_server, source_db, other_name, filestore_root=fs_root)
    assert rows_of(pg_server, source_db) == ["other"]
    assert rows_of(pg_server, other_name) == ["first", "second"]
    assert files_of(fs_root, source_db) == files_b
    assert files_of(fs_root, other_name) == files_a
    with pytest.raises(UsageError, match="itself"):
        dbops.swap_databases(pg_server, source_db, source_db)


def test_swap_refuses_a_busy_database(
    pg_server: DatabaseServer, source_db: str, other_name: str
) -> None:
    seed(pg_server, other_name, ["other"])
    with psycopg.connect(pg_server.conninfo(other_name), application_name="psql-by-hand"):
        with pytest.raises(RefusedError, match="psql-by-hand"):
            dbops.swap_databases(pg_server, source_db, other_name)
        assert rows_of(pg_server, source_db) == ["first", "second"]


def test_rename_moves_the_filestore(
    pg_server: DatabaseServer, source_db: str, other_name: str, fs_root: Path
) -> None:
    files = files_of(fs_root, source_db)
    dbops.rename_database(pg_server, source_db, other_name, filestore_root=fs_root)
    assert not dbops.database_exists(pg_server, source_db)
    assert files_of(fs_root, other_name) == files
    assert not (fs_root / source_db).exists()


def test_drop_refuses_production_without_force(
    pg_server: DatabaseServer, source_db: str, fs_root: Path
) -> None:
    with pytest.raises(RefusedError, match="production") as info:
        dbops.drop_database(pg_server, source_db, filestore_root=fs_root, protected=True)
    assert "--force" in (info.value.hint or "")
    assert dbops.database_exists(pg_server, source_db)
    assert (fs_root / source_db).is_dir()
    assert dbops.drop_database(
        pg_server, source_db, filestore_root=fs_root, protected=True, force=True
    )
    assert not dbops.database_exists(pg_server, source_db)
    assert not (fs_root / source_db).exists()


def test_drop_missing_and_busy(pg_server: DatabaseServer, source_db: str) -> None:
    missing = unique_name("missing")
    with pytest.raises(NotFoundError):
        dbops.drop_database(pg_server, missing)
    assert dbops.drop_database(pg_server, missing, missing_ok=True) is False
    with pytest.raises(UsageError):
        dbops.drop_database(pg_server, "postgres", force=True)
    busy = psycopg.connect(pg_server.conninfo(source_db), application_name="cron-worker")
    try:
        with pytest.raises(RefusedError, match="cron-worker"):
            dbops.drop_database(pg_server, source_db)
        assert dbops.drop_database(pg_server, source_db, terminate=True)
    finally:
        busy.close()
    assert dbops.active_sessions(pg_server, source_db) == []


def test_prodlike_clone_is_a_real_odoo_database(
    pg_server: DatabaseServer, prodlike_db: str
) -> None:
    with pg_server.connect(prodlike_db) as conn:
        installed = conn.execute(
            "SELECT count(*) FROM ir_module_module WHERE state = 'installed'"
        ).fetchone()
    assert installed == (31,)
