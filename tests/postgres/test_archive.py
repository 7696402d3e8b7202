"""Import of every supported dump format and the Odoo .zip export round trip."""

from __future__ import annotations

import gzip
import json
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
        pg_server, packed, target, progress=lambda e: progress.append((e.phase, e.done, e.total))
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
        pg_server, dump, target, progress=lambda e: progress.append((e.phase, e.done, e.total))
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


# -- untrusted archives (issue 10) ---------------------------------------------------------


def _zip_bomb() -> Path:
    """A 3 MB Odoo-looking zip whose filestore expands to 3 GB (built once, cached)."""
    from conftest import TEST_CACHE

    path = TEST_CACHE / "zip-bomb-3g.zip"
    if not path.is_file():
        partial = path.with_suffix(".partial")
        chunk = b"\0" * (64 << 20)
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
            zf.writestr("dump.sql", "CREATE TABLE t (id int);\n")
            with zf.open("filestore/ab/bomb", "w", force_zip64=True) as member:
                for _ in range(48):
                    member.write(chunk)
        partial.replace(path)
    return path


def test_zip_bomb_is_refused_before_extracting(
    pg_server: DatabaseServer, target: str, tmp_path: Path
) -> None:
    bomb = _zip_bomb()
    assert bomb.stat().st_size < 4 * 1024 * 1024
    store = tmp_path / "fs"
    with pytest.raises(UsageError, match=r"zip bomb") as info:
        dbops.import_database(pg_server, bomb, target, filestore_root=store)
    assert "3.0 GB" in info.value.message
    assert sum(f.stat().st_size for f in store.rglob("*") if f.is_file()) == 0
    assert not dbops.database_exists(pg_server, target)
    assert no_leftovers(pg_server)


def test_zip_larger_than_the_free_disk_is_refused(
    pg_server: DatabaseServer, target: str, tmp_path: Path, small_disk: Any
) -> None:
    import os

    backup = tmp_path / "big.zip"
    with zipfile.ZipFile(backup, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("dump.sql", "CREATE TABLE t (id int);\n")
        zf.writestr("filestore/ab/photo.jpg", os.urandom(2 * 1024 * 1024))
    disk = small_disk("fs", "1m")
    with pytest.raises(UsageError, match=r"has .* free: refusing to fill it"):
        dbops.import_database(pg_server, backup, target, filestore_root=disk / "filestore")
    assert not dbops.database_exists(pg_server, target)


def test_zip_with_a_symbolic_link_is_refused(
    pg_server: DatabaseServer, target: str, tmp_path: Path
) -> None:
    """It ended as an unexpected error (exit 3) before."""
    import stat

    evil = tmp_path / "links.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("dump.sql", "CREATE TABLE t (id int);\n")
        link = zipfile.ZipInfo("filestore/ab/passwd")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr("filestore/ab/passwd/inner", "through the link")
    store = tmp_path / "fs"
    with pytest.raises(UsageError, match=r"symbolic link 'filestore/ab/passwd'"):
        dbops.import_database(pg_server, evil, target, filestore_root=store)
    assert not [p for p in store.rglob("*") if p.is_symlink() or p.is_file()]
    assert not dbops.database_exists(pg_server, target)
    assert no_leftovers(pg_server)


def test_zip_with_an_entry_twice_is_refused(
    pg_server: DatabaseServer, target: str, tmp_path: Path
) -> None:
    twice = tmp_path / "twice.zip"
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(twice, "w") as zf:
        zf.writestr("dump.sql", "CREATE TABLE t (id int);\n")
        zf.writestr("filestore/ab/f", "first")
        zf.writestr("filestore/ab/f", "second")
    with pytest.raises(UsageError, match="twice"):
        dbops.import_database(pg_server, twice, target, filestore_root=tmp_path / "fs")
    assert not dbops.database_exists(pg_server, target)


def test_truncated_dumps_say_so_and_load_nothing(
    pg_server: DatabaseServer, small_db: str, target: str, tmp_path: Path
) -> None:
    """A truncated .sql.gz ended as 'Aborted.' with exit 130; a truncated plain dump
    loaded the part before the cut without a word."""
    dump = pg_dump(pg_server, small_db, tmp_path / "full.sql").read_bytes()
    cut_plain = tmp_path / "cut.sql"
    cut_plain.write_bytes(dump[: dump.index(b"COPY public.note") + 40])
    noise = "".join(f"-- {i:08x} {i * 2654435761 % 4294967296:08x}\n" for i in range(40000))
    packed = gzip.compress(dump + noise.encode())
    cut_gz = tmp_path / "cut.sql.gz"
    cut_gz.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(UsageError, match=r"cut\.sql\.gz is truncated or corrupt"):
        dbops.import_database(pg_server, cut_gz, target)
    with pytest.raises(UsageError, match=r"the dump is truncated"):
        dbops.import_database(pg_server, cut_plain, target)
    assert not dbops.database_exists(pg_server, target)
    assert no_leftovers(pg_server)
    # Hand-written SQL (no pg_dump header) is not held to pg_dump's last line.
    handmade = tmp_path / "handmade.sql"
    handmade.write_text("CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n")
    assert dbops.import_database(pg_server, handmade, target).format == "sql"


# -- dumps are loaded by an unprivileged role (issue 10) ----------------------------------


def _role_exists(server: DatabaseServer, name: str) -> bool:
    with server.connect() as conn:
        return (
            conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
            is not None
        )


@pytest.mark.parametrize("packing", ["sql", "sql.gz", "zip"])
@pytest.mark.parametrize(
    ("statement", "says"),
    [
        ("COPY (SELECT 1) TO PROGRAM 'touch {marker}';", "run a program on the database server"),
        ("CREATE ROLE {role} SUPERUSER LOGIN PASSWORD 'backdoor';", "create or change a role"),
        ("ALTER ROLE CURRENT_USER SUPERUSER;", "create or change a role"),
        ("COPY victim FROM '/etc/hostname';", "read or write files of the database server"),
        (
            "CREATE FUNCTION evil() RETURNS int AS '/lib/x.so', 'evil' LANGUAGE c;",
            "untrusted language",
        ),
        ("CREATE EXTENSION file_fdw;", "superuser may create"),
    ],
)
def test_a_hostile_dump_runs_nothing_and_creates_no_role(
    pg_server: DatabaseServer,
    target: str,
    tmp_path: Path,
    packing: str,
    statement: str,
    says: str,
) -> None:
    """`db import` ran a dump's COPY ... TO PROGRAM as the cluster's system user and kept
    its CREATE ROLE ... SUPERUSER: a backdoor that outlived the import."""
    from odooplane.postgres import roles

    marker = Path("/tmp") / unique_name("odooplane-pwned")
    role = unique_name("backdoor")
    sql_text = (
        "--\n-- PostgreSQL database dump\n--\n"
        "CREATE TABLE victim (id int);\n"
        + statement.format(marker=marker, role=role)
        + "\nINSERT INTO victim VALUES (1);\n-- PostgreSQL database dump complete\n"
    )
    if packing == "sql":
        dump = tmp_path / "hostile.sql"
        dump.write_text(sql_text)
    elif packing == "sql.gz":
        dump = tmp_path / "hostile.sql.gz"
        dump.write_bytes(gzip.compress(sql_text.encode()))
    else:
        dump = tmp_path / "hostile.zip"
        with zipfile.ZipFile(dump, "w") as zf:
            zf.writestr("dump.sql", sql_text)
            zf.writestr("manifest.json", "{}")
    with pytest.raises(RefusedError) as info:
        dbops.import_database(pg_server, dump, target, filestore_root=tmp_path / "fs")
    assert says in info.value.message and "nothing was loaded" in info.value.message
    assert not marker.exists()
    assert not _role_exists(pg_server, role)
    with pg_server.connect() as conn:
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    assert not dbops.database_exists(pg_server, target)
    assert no_leftovers(pg_server)
    assert roles.stray_temporary_roles(pg_server) == []


def test_an_imported_dump_belongs_to_its_environment_role(
    pg_server: DatabaseServer, small_db: str, target: str, tmp_path: Path
) -> None:
    """A pg_dump with COMMENT ON EXTENSION (pg_trgm, created beforehand by odooplane)
    loads as the unprivileged loader; the result is the target environment's role's."""
    from odooplane.postgres import roles

    with pg_server.connect(small_db) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        conn.execute("CREATE INDEX note_trgm ON note USING gin (body gin_trgm_ops)")
    roles.ensure_role(pg_server, target, "target-password-0123456789")
    try:
        for fmt, name in (("--format=plain", "d.sql"), ("--format=custom", "d.dump")):
            dump = pg_dump(pg_server, small_db, tmp_path / name, fmt)
            assert b"COMMENT ON EXTENSION" in dump.read_bytes() or fmt.endswith("custom")
            dbops.import_database(pg_server, dump, target, replace=True, terminate=True)
            assert rows_of(pg_server, target) == ["alpha", "beta", "gamma"]
            assert roles.objects_owned_by_others(pg_server, target, target) == 0
        assert roles.stray_temporary_roles(pg_server) == []
    finally:
        dbops.drop_database(pg_server, target, terminate=True, missing_ok=True)
        roles.retire_role(pg_server, target)


def test_a_device_or_a_folder_is_not_a_dump(tmp_path: Path) -> None:
    """/dev/zero was 'a dump file that does not exist'."""
    for path in (Path("/dev/zero"), tmp_path):
        with pytest.raises(UsageError, match="is not a regular file"):
            detect_format(path)
