"""Template databases on a real PostgreSQL: built once under a lock, closed, cloned with
their filestore, rebuilt when incomplete, pruned."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from fixtures_postgres import add_attachment, files_of, rows_of
from odooplane.postgres import templates as tpl
from odooplane.postgres.databases import create_database, drop_database
from odooplane.postgres.server import DatabaseServer


def key(lineage: str, **parts: object) -> tpl.TemplateKey:
    return tpl.TemplateKey("odoo", lineage=lineage, parts={"modules": ["base"], **parts})


@pytest.fixture
def lineage(pg_server: DatabaseServer) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:8]}"
    yield name
    tpl.prune_templates(pg_server, lineage=name, everything=True)
    tpl.prune_exports(lineage=name, everything=True)


class Builder:
    """Fills a template with a ``note`` table and one attachment; counts its calls."""

    def __init__(self, server: DatabaseServer, body: str = "hello", pause: float = 0.0) -> None:
        self.server = server
        self.body = body
        self.pause = pause
        self.calls: list[str] = []

    def __call__(self, database: str, data_dir: Path) -> None:
        self.calls.append(database)
        create_database(self.server, database)
        with self.server.connect(database) as conn:
            conn.execute("CREATE TABLE note (id serial PRIMARY KEY, body text NOT NULL)")
            conn.execute("INSERT INTO note (body) VALUES (%s)", (self.body,))
        add_attachment(data_dir / "filestore", database, self.body.encode())
        time.sleep(self.pause)


def test_key_digest_changes_with_any_part() -> None:
    a = key("x", odoo_revision="abc", demo=True)
    assert a.digest == key("x", demo=True, odoo_revision="abc").digest  # order-free
    assert a.digest != key("x", odoo_revision="abd", demo=True).digest
    assert a.digest != key("x", odoo_revision="abc", demo=False).digest
    assert a.database.startswith("odooplane_tpl_odoo_") and len(a.database) <= 63
    with pytest.raises(Exception, match="layer"):
        tpl.TemplateKey("Bad Layer", lineage="x", parts={})


def test_built_once_closed_then_cloned_with_its_filestore(
    pg_server: DatabaseServer, lineage: str, pg_dbname: str, tmp_path: Path
) -> None:
    builder = Builder(pg_server, "first")
    k = key(lineage)
    use = tpl.ensure_template(pg_server, k, builder)
    assert use.outcome == "built" and len(builder.calls) == 1
    assert use.template.database == k.database and use.template.complete
    assert use.template.filestore is not None and use.template.filestore_files == 1
    # Closed: nobody connects to a template.
    with (
        pytest.raises(psycopg.OperationalError, match=r"not currently accepting connections"),
        psycopg.connect(pg_server.conninfo(k.database)),
    ):
        pass
    with pg_server.connect() as conn:
        row = conn.execute(
            "SELECT datistemplate, datallowconn FROM pg_database WHERE datname = %s",
            (k.database,),
        ).fetchone()
    assert row == (True, False)
    # No build database is left behind.
    with pg_server.connect() as conn:
        builds = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE '_odooplane_tplbuild_%'"
        ).fetchall()
    assert builds == []

    again = tpl.ensure_template(pg_server, k, builder)
    assert again.outcome == "hit" and len(builder.calls) == 1

    root = tmp_path / "filestore"
    clone = tpl.clone_template(pg_server, again.template, pg_dbname, filestore_root=root)
    assert clone.database == pg_dbname and clone.filestore.files == 1
    assert rows_of(pg_server, pg_dbname) == ["first"]
    assert list(files_of(root, pg_dbname).values()) == [b"first"]
    listed = {t.database: t for t in tpl.list_templates(pg_server)}
    assert listed[k.database].lineage == lineage
    assert listed[k.database].last_used_at is not None


def test_concurrent_creators_build_once(pg_server: DatabaseServer, lineage: str) -> None:
    builder = Builder(pg_server, "slow", pause=1.5)
    k = key(lineage, concurrent=True)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            outcomes.append(tpl.ensure_template(pg_server, k, builder).outcome)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(builder.calls) == 1
    assert sorted(outcomes) == ["built", "waited", "waited"]


def test_failed_build_leaves_nothing(pg_server: DatabaseServer, lineage: str) -> None:
    k = key(lineage, failing=True)

    def broken(database: str, data_dir: Path) -> None:
        Builder(pg_server, "half")(database, data_dir)
        raise RuntimeError("odoo-bin crashed")

    with pytest.raises(RuntimeError):
        tpl.ensure_template(pg_server, k, broken)
    assert tpl.find_template(pg_server, k) is None
    with pg_server.connect() as conn:
        left = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"%{k.digest[:12]}%",)
        ).fetchall()
    assert left == []
    assert not list((tpl.template_filestore_root(pg_server)).glob(f"*{k.digest[:12]}*"))


def test_incomplete_template_is_rebuilt(pg_server: DatabaseServer, lineage: str) -> None:
    builder = Builder(pg_server, "v1")
    k = key(lineage, incomplete=True)
    first = tpl.ensure_template(pg_server, k, builder).template
    assert first.filestore is not None
    # Its filestore vanished (a cleaned cache): the template cannot give complete copies.
    import shutil

    shutil.rmtree(first.filestore)
    assert tpl.find_template(pg_server, k) is None
    use = tpl.ensure_template(pg_server, k, Builder(pg_server, "v2"))
    assert use.outcome == "restored"  # from the export made with it
    assert use.template.filestore is not None and use.template.filestore_files == 1
    # Without the export either, it is built again.
    shutil.rmtree(use.template.filestore)
    tpl.prune_exports(lineage=lineage, everything=True)
    use = tpl.ensure_template(pg_server, k, Builder(pg_server, "v2"))
    assert use.outcome == "built" and use.template.filestore_files == 1


def test_prune_keeps_the_most_recent_per_lineage(
    pg_server: DatabaseServer, lineage: str, pg_dbname: str
) -> None:
    keys = [key(lineage, n=n) for n in range(3)]
    for k in keys:
        tpl.ensure_template(pg_server, k, Builder(pg_server, str(k.parts["n"])))
        time.sleep(1.1)  # last-used times are kept to the second
    result = tpl.prune_templates(pg_server, keep=1, lineage=lineage)
    assert sorted(result.removed) == sorted(k.database for k in keys[:2])
    assert result.kept == [keys[2].database]
    assert result.freed_bytes > 0
    assert tpl.find_template(pg_server, keys[0]) is None
    assert tpl.find_template(pg_server, keys[2]) is not None
    # Unused for a while: gone too.
    time.sleep(1.1)
    result = tpl.prune_templates(pg_server, unused_for=timedelta(seconds=1), lineage=lineage)
    assert result.removed == [keys[2].database]
    drop_database(pg_server, pg_dbname, missing_ok=True)


def test_a_build_left_by_a_crash_is_pruned(pg_server: DatabaseServer, lineage: str) -> None:
    k = key(lineage, crashed=True)
    leftover = f"{tpl.BUILD_PREFIX}{k.digest[:12]}_deadbeef"
    create_database(pg_server, leftover)
    result = tpl.prune_templates(pg_server)
    assert leftover in result.removed
    with pg_server.connect() as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (leftover,)).fetchone()
    assert row is None


def test_a_server_without_the_template_restores_its_export(
    pg_server: DatabaseServer, lineage: str, pg_dbname: str, tmp_path: Path
) -> None:
    """Another clone of the repository has its own embedded cluster: it restores the
    template from the user cache instead of building it again."""
    k = key(lineage, exported=True)
    first = tpl.ensure_template(pg_server, k, Builder(pg_server, "exported"))
    assert first.outcome == "built"
    export = tpl.exports_dir() / k.digest
    assert (export / "dump.pgc").is_file() and (export / "template.json").is_file()
    tpl.drop_template(pg_server, first.template)  # as on a server that never had it

    def must_not_build(database: str, data_dir: Path) -> None:
        raise AssertionError("the export should have been restored")

    use = tpl.ensure_template(pg_server, k, must_not_build)
    assert use.outcome == "restored"
    assert use.template.filestore_files == 1
    tpl.clone_template(pg_server, use.template, pg_dbname, filestore_root=tmp_path)
    assert rows_of(pg_server, pg_dbname) == ["exported"]
    assert list(files_of(tmp_path, pg_dbname).values()) == [b"exported"]
    assert [e.digest for e in tpl.list_exports() if e.lineage == lineage] == [k.digest]
    assert tpl.prune_exports(lineage=lineage, everything=True).removed == [k.digest]
    assert not export.exists()
