"""`odooplane db ...`: exit codes, --json output, and the embedded server commands."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from cli_run import run, run_json
from fixtures_postgres import add_attachment, rows_of, seed, unique_name
from odooplane.postgres import databases as dbops
from odooplane.postgres.server import DatabaseServer


def write_config(root: Path, server: str, production_db: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "odooplane.yaml").write_text(
        "project: acme\n"
        "odoo:\n"
        "  series: '17.0'\n"
        "  source: /opt/odoo-src/17.0\n"
        "database:\n"
        f"  server: {server}\n"
        "environments:\n"
        "  production:\n"
        "    kind: production\n"
        f"    database: {production_db}\n"
        "  staging:\n"
        "    kind: staging\n"
        "    branches: [main]\n"
    )
    return root


@pytest.fixture
def names(pg_server: DatabaseServer) -> Iterator[dict[str, str]]:
    made = {key: unique_name(key) for key in ("db", "copy", "prod", "imported")}
    yield made
    for name in made.values():
        for snap in dbops.list_snapshots(pg_server, name):
            dbops.drop_database(pg_server, snap.snapshot_db, terminate=True, missing_ok=True)
        dbops.drop_database(pg_server, name, terminate=True, missing_ok=True)


@pytest.fixture
def project(pg_server: DatabaseServer, tmp_path: Path, names: dict[str, str]) -> Path:
    """A project whose database.server is the session's server, given as a URL."""
    return write_config(tmp_path / "acme", pg_server.url(redact=False), names["prod"])


def test_database_commands(
    capfd: pytest.CaptureFixture[str],
    pg_server: DatabaseServer,
    project: Path,
    names: dict[str, str],
    tmp_path: Path,
) -> None:
    db, copy, prod = names["db"], names["copy"], names["prod"]
    proj = ("-C", str(project))
    filestores = project / ".odooplane" / "odoo-data" / "filestore"

    assert run_json(capfd, *proj, "db", "create", db) == {"database": db, "created": True}
    with pg_server.connect(db) as conn:
        conn.execute("CREATE TABLE note (id serial PRIMARY KEY, body text)")
        conn.execute("INSERT INTO note (body) VALUES ('kept')")
    add_attachment(filestores, db, b"attachment")
    seed(pg_server, prod, ["production data"])

    listed = {d["name"]: d for d in run_json(capfd, *proj, "db", "list")}
    assert listed[db]["size"] > 0 and listed[db]["filestore_files"] == 1
    assert listed[prod]["production"] is True and listed[prod]["environment"] == "production"
    code, out, _ = run(capfd, *proj, "db", "list")
    assert code == 0 and "production" in out and "MB" in out

    cloned = run_json(capfd, *proj, "db", "clone", db, copy, "--strategy", "file_copy")
    assert cloned["strategy"] == "file_copy" and cloned["filestore"]["method"] == "hardlink"

    snap = run_json(capfd, *proj, "db", "snapshot", db, "--name", "s1")
    assert snap["snapshot_db"] == f"{db}__snap__s1"
    assert [s["name"] for s in run_json(capfd, *proj, "db", "snapshots", db)] == ["s1"]
    code, out, _ = run(capfd, *proj, "db", "snapshots", db)
    assert code == 0 and "s1" in out
    with pg_server.connect(db) as conn:
        conn.execute("DELETE FROM note")
    assert run_json(capfd, *proj, "db", "restore", db, "s1")["replaced_existing"] is True
    assert rows_of(pg_server, db) == ["kept"]

    assert run_json(capfd, *proj, "db", "swap", db, copy)["swapped"] == [db, copy]

    archive = tmp_path / "backup.zip"
    exported = run_json(capfd, *proj, "db", "export", copy, str(archive))
    assert exported["filestore_files"] == 1 and archive.is_file()
    code, _, err = run(capfd, *proj, "db", "export", copy, str(archive))
    assert code == 1 and "already exists" in err
    # An unwritable target exited 3 (issue 10): now a sentence, before any dumping.
    code, _, err = run(capfd, *proj, "db", "export", copy, "/proc/backup.zip")
    assert code == 2 and "cannot be written to /proc/backup.zip" in err
    imported = run_json(capfd, *proj, "db", "import", str(archive), names["imported"])
    assert imported["format"] == "zip" and imported["filestore"]["files"] == 1
    assert rows_of(pg_server, names["imported"]) == ["kept"]

    # A busy source: refused with the session's application, exit 1.
    with psycopg.connect(pg_server.conninfo(db), application_name="odoo-cron-thread"):
        code, _, err = run(capfd, *proj, "db", "clone", db, unique_name("busy"))
    assert code == 1 and "odoo-cron-thread" in err and "--terminate" in err

    # Production is refused without --force (exit 1) and kept.
    code, _, err = run(capfd, *proj, "db", "drop", prod)
    assert code == 1 and "production" in err and "--force" in err
    assert dbops.database_exists(pg_server, prod)
    assert run_json(capfd, *proj, "db", "drop", prod, "--force") == {
        "database": prod,
        "dropped": True,
    }
    assert not dbops.database_exists(pg_server, prod)

    # Bad names are usage errors (exit 2) and touch nothing; missing ones exit 1.
    before = {d.name for d in dbops.list_databases(pg_server)}
    code, _, err = run(capfd, *proj, "db", "drop", 'x"; DROP DATABASE y; --', "--force")
    assert code == 2 and "not a valid database name" in err
    code, _, err = run(capfd, *proj, "db", "clone", db, "bad name")
    assert code == 2
    assert {d.name for d in dbops.list_databases(pg_server)} == before
    code, _, err = run(capfd, *proj, "db", "drop", unique_name("missing"))
    assert code == 1 and "does not exist" in err
    code, _, err = run(capfd, *proj, "db", "clone", db, copy, "--strategy", "rsync")
    assert code == 2

    code, out, _ = run(capfd, *proj, "db", "psql", db, "-At", "-c", "SELECT count(*) FROM note")
    assert code == 0 and out.strip() == "1"
    code, _, _ = run(
        capfd, *proj, "db", "psql", db, "-v", "ON_ERROR_STOP=1", "-c", "SELECT * FROM nothing"
    )
    assert code != 0  # psql's own exit code is passed on


def test_server_commands_refuse_an_external_server(
    capfd: pytest.CaptureFixture[str], project: Path
) -> None:
    code, _, err = run(capfd, "-C", str(project), "db", "server", "start")
    assert code == 2 and "external server" in err
    status = run_json(capfd, "-C", str(project), "db", "server", "status")
    assert status["kind"] == "external" and status["reachable"] is True
    assert "***" in status["server"]


def test_missing_project_is_a_usage_error(
    capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capfd, "-C", str(tmp_path), "db", "list")
    assert code == 2 and "odooplane.yaml" in err


def test_embedded_server_commands(capfd: pytest.CaptureFixture[str]) -> None:
    base = Path(tempfile.mkdtemp(prefix="odooplane-test-cli-"))
    os.chmod(base, 0o711)
    project = write_config(base / "acme", "embedded", "acme_production")
    proj = ("-C", str(project))
    try:
        code, out, _ = run(capfd, *proj, "db", "server", "status", "--json")
        assert code == 1 and json.loads(out)["state"] == "uninitialized"

        # Started by a separate process, the server outlives it.
        started = subprocess.run(
            [sys.executable, "-m", "odooplane", *proj, "db", "server", "start", "--json"],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert started.returncode == 0, started.stderr
        first = json.loads(started.stdout)
        assert first["state"] == "running"

        status = run_json(capfd, *proj, "db", "server", "status")
        assert status["state"] == "running" and status["pid"] == first["pid"]
        code, out, _ = run(capfd, *proj, "db", "server", "status")
        assert code == 0 and "running" in out and str(first["port"]) in out

        again = run_json(capfd, *proj, "db", "server", "start")
        assert again["pid"] == first["pid"]
        assert "The server was already running." in again["notes"]

        listed = run_json(capfd, *proj, "db", "list")
        assert listed == []

        stopped = run_json(capfd, *proj, "db", "server", "stop")
        assert stopped["state"] == "stopped"
        code, out, _ = run(capfd, *proj, "db", "server", "status", "--json")
        assert code == 1 and json.loads(out)["state"] == "stopped"

        code, _, err = run(capfd, *proj, "db", "server", "destroy")
        assert code == 2 and "--force" in err
        code, _, _ = run(capfd, *proj, "db", "server", "destroy", "--force")
        assert code == 0
        assert not (project / ".odooplane" / "pg").exists()
    finally:
        from odooplane.postgres.cluster import EmbeddedCluster

        EmbeddedCluster(project / ".odooplane").destroy()
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize(
    "command",
    [
        ["db"],
        ["db", "server"],
        ["db", "server", "start"],
        ["db", "list"],
        ["db", "clone"],
        ["db", "snapshot"],
        ["db", "restore"],
        ["db", "drop"],
        ["db", "import"],
        ["db", "export"],
        ["db", "psql"],
    ],
)
def test_help(capfd: pytest.CaptureFixture[str], command: list[str]) -> None:
    code, out, _ = run(capfd, *command, "--help")
    assert code == 0 and "Usage:" in out and len(out.splitlines()) > 4
