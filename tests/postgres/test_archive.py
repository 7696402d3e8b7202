"""Import of every supported dump format and the Odoo .zip export round trip."""

from __future__ import annotations

import gzip
import json
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures_postgres import add_attachment, files_of, rows_of, seed, unique_name
from odooplane.errors import ExternalToolError, NotFoundError, RefusedError, UsageError
from odooplane.postgres import databases as dbops
from odooplane.postgres.archive import detect_format
from odooplane.postgres.server import DatabaseServer


def pg_dump(server: DatabaseServer, database: str, out: Path, *args: str) -> Path:
    subprocess.run(
        [str(server.tool("pg_dump")), "--no-owner", *args, "--file", str(out), database],
        env=server.tool_env(database),
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture
def small_db(pg_server: DatabaseServer, pg_dbname: str) -> str:
    seed(pg_server, pg_dbname, ["alpha", "beta", "gamma"])
    return pg_dbname


@pytest.fixture
def target(pg_server: DatabaseServer) -> Iterator[str]:
    name = unique_name("imported")
    yield name
    dbops.drop_database(pg_server, name, terminate=True, missing_ok=True)


def no_leftovers(server: DatabaseServer) -> bool:
    return not [d for d in dbops.list_databases(server) if d.name.startswith("_odooplane_")]


def test_import_plain_sql(
    pg_server: DatabaseServer, small_db: str, target: str, tmp_path: Path
) -> None:
    dump = pg_dump(pg_server, small_db, tmp_path / "small.sql")
    assert detect_format(dump) == "sql"
    result = dbops.import_database(pg_server, dump, target)
    assert result.format == "sql"
    assert rows_of(pg_server, target) == ["alpha", "beta", "gamma"]
    assert no_leftovers(pg_server)


def test_import_gzipped_sql(
    pg_server: DatabaseServer, small_db: str, target: str, tmp_path: Path
) -> None:
    plain = pg_dump(pg_server, small_db, tmp_path / "small.sql")
    packed = tmp_path / "small.sql.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    progress: list[tuple[str, int, int]] = []
    result = dbops.import_database(
        pg_server, packed, target, progress=lambda *step: progress.append(step)
    )
    assert result.format == "sql.gz"
    assert rows_of(pg_server, target) == ["alpha", "beta", "gamma"]
    assert progress and progress[-1][1] == progress[-1][2] == packed.stat().st_size


def test_import_custom_format(
    pg_server: DatabaseServer, small_db: str, target: str, tmp_path: Path
) -> None:
    dump = pg_dump(pg_server, small_db, tmp_path / "small.dump", "--format=custom")
    assert detect_format(dump) == "custom"
    progress: list[tuple[str, int, int]] = []
    result = dbops.import_database(
        pg_server, dump, target, progress=lambda *step: progress.append(step)
    )
    assert result.format == "custom"
    assert rows_of(pg_server, target) == ["alpha", "beta", "gamma"]
    assert progress and progress[-1][0] == "restoring" and progress[-1][2] >= 3


def test_import_tar_and_gzipped_custom_formats(
    pg_server: DatabaseServer, small_db: str, target: str, tmp_path: Path
) -> None:
    tar = pg_dump(pg_server, small_db, tmp_path / "small.tar", "--format=tar")
    assert detect_format(tar) == "tar"
    dbops.import_database(pg_server, tar, target)
    assert rows_of(pg_server, target) == ["alpha", "beta", "gamma"]
    custom = pg_dump(pg_server, small_db, tmp_path / "small.dump", "--format=custom")
    packed = tmp_path / "small.dump.gz"
    packed.write_bytes(gzip.compress(custom.read_bytes()))
    assert detect_format(packed) == "custom.gz"
    dbops.import_database(pg_server, packed, target, replace=True)
    assert rows_of(pg_server, target) == ["alpha", "beta", "gamma"]


def test_import_into_an_existing_database(
    pg_server: DatabaseServer, small_db: str, target: str, tmp_path: Path
) -> None:
    seed(pg_server, target, ["old content"])
    dump = pg_dump(pg_server, small_db, tmp_path / "small.sql")
    with pytest.raises(RefusedError, match="already exists"):
        dbops.import_database(pg_server, dump, target)
    assert rows_of(pg_server, target) == ["old content"]
    with pytest.raises(RefusedError, match="production"):
        dbops.import_database(pg_server, dump, target, replace=True, protected=True)
    assert rows_of(pg_server, target) == ["old content"]
    result = dbops.import_database(
        pg_server, dump, target, replace=True, protected=True, force=True
    )
    assert result.replaced_existing
    assert rows_of(pg_server, target) == ["alpha", "beta", "gamma"]
    assert no_leftovers(pg_server)


def test_failing_import_leaves_nothing_behind(
    pg_server: DatabaseServer, target: str, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.sql"
    broken.write_text("CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\nTHIS IS NOT SQL;\n")
    with pytest.raises(ExternalToolError, match=r"NOT SQL|syntax error"):
        dbops.import_database(pg_server, broken, target)
    assert not dbops.database_exists(pg_server, target)
    assert no_leftovers(pg_server)


def test_sql_that_switches_database_is_refused(
    pg_server: DatabaseServer, small_db: str, target: str, tmp_path: Path
) -> None:
    """pg_dump --create output would \\connect to the original database and load there."""
    dump = pg_dump(pg_server, small_db, tmp_path / "create.sql", "--create")
    with pytest.raises(UsageError, match="connect"):
        dbops.import_database(pg_server, dump, target)
    assert rows_of(pg_server, small_db) == ["alpha", "beta", "gamma"]
    assert not dbops.database_exists(pg_server, target)
    assert no_leftovers(pg_server)


def test_foreign_owner_gets_a_hint(pg_server: DatabaseServer, target: str, tmp_path: Path) -> None:
    dump = tmp_path / "owned.sql"
    dump.write_text("CREATE TABLE t (id int);\nALTER TABLE t OWNER TO odoo_prod_owner;\n")
    with pytest.raises(ExternalToolError) as info:
        dbops.import_database(pg_server, dump, target)
    assert "odoo_prod_owner" in info.value.message
    assert "--no-owner" in (info.value.hint or "")


def test_unrecognised_files(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        detect_format(tmp_path / "absent.sql")
    binary = tmp_path / "image.bin"
    binary.write_bytes(b"\x00\x01\x02garbage")
    with pytest.raises(UsageError, match="not a dump"):
        detect_format(binary)
    plain_zip = tmp_path / "notodoo.zip"
    with zipfile.ZipFile(plain_zip, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(UsageError, match=r"without dump\.sql"):
        detect_format(plain_zip)


def test_zip_with_escaping_paths_is_refused(
    pg_server: DatabaseServer, target: str, tmp_path: Path
) -> None:
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("dump.sql", "CREATE TABLE t (id int);\n")
        zf.writestr("filestore/../../../escaped.txt", "gotcha")
    with pytest.raises(UsageError, match="suspicious path"):
        dbops.import_database(pg_server, evil, target, filestore_root=tmp_path / "fs")
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not dbops.database_exists(pg_server, target)
    assert no_leftovers(pg_server)


def table_counts(server: DatabaseServer, database: str) -> dict[str, int]:
    with server.connect(database) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            ).fetchall()
        ]
        counts = {}
        for table in tables:
            row = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
            assert row is not None
            counts[table] = int(row[0])
    return counts


def test_export_import_round_trip_of_an_odoo_database(
    pg_server: DatabaseServer, prodlike_db: str, target: str, tmp_path: Path
) -> None:
    fs_root = tmp_path / "filestore"
    for content in (b"invoice 1", b"invoice 2", b"logo"):
        add_attachment(fs_root, prodlike_db, content)
    archive = tmp_path / "backup.zip"
    exported = dbops.export_database(pg_server, prodlike_db, archive, filestore_root=fs_root)
    assert exported.filestore_files == 3
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("manifest.json"))
    assert names[0] == "dump.sql"  # Odoo writes the dump first
    assert "manifest.json" in names
    assert sum(n.startswith("filestore/") for n in names) == 3
    assert manifest["odoo_dump"] == "1"
    assert manifest["db_name"] == prodlike_db
    assert manifest["version"] == manifest["major_version"] == "17.0"
    assert manifest["version_info"][:2] == [17, 0]
    assert manifest["pg_version"] == "15.0"
    assert len(manifest["modules"]) == 31 and "base" in manifest["modules"]

    result = dbops.import_database(pg_server, archive, target, filestore_root=fs_root)
    assert result.format == "zip"
    assert result.filestore.files == 3
    assert table_counts(pg_server, target) == table_counts(pg_server, prodlike_db)
    assert files_of(fs_root, target) == files_of(fs_root, prodlike_db)
    assert no_leftovers(pg_server)
    assert sorted(p.name for p in fs_root.iterdir()) == sorted([prodlike_db, target])

    with pytest.raises(RefusedError, match="already exists"):
        dbops.export_database(pg_server, prodlike_db, archive)


def test_export_of_a_snapshot(
    pg_server: DatabaseServer, small_db: str, target: str, tmp_path: Path
) -> None:
    """Snapshots refuse connections; exporting one goes through a temporary clone."""
    fs_root = tmp_path / "filestore"
    add_attachment(fs_root, small_db, b"snapshotted attachment")
    snap = dbops.snapshot_database(pg_server, small_db, name="s1", filestore_root=fs_root)
    archive = tmp_path / "snapshot.zip"
    result = dbops.export_database(pg_server, snap.snapshot_db, archive, filestore_root=fs_root)
    assert result.manifest["db_name"] == snap.snapshot_db
    assert result.filestore_files == 1
    assert no_leftovers(pg_server)
    dbops.import_database(pg_server, archive, target, filestore_root=fs_root)
    assert rows_of(pg_server, target) == ["alpha", "beta", "gamma"]
    assert files_of(fs_root, target) == files_of(fs_root, small_db)


def test_import_of_the_shared_fixture_in_its_own_format(
    pg_server: DatabaseServer, prodlike_template: str, target: str
) -> None:
    from fixtures_postgres import prodlike_dump

    assert detect_format(prodlike_dump()) == "sql.gz"
    # The session's template was loaded by import_database itself: check it is complete.
    dbops.clone_database(pg_server, prodlike_template, target)
    counts = table_counts(pg_server, target)
    assert counts["res_partner"] >= 7
    assert counts["ir_module_module"] > 31
    assert counts["ir_cron"] == 15
