"""The real-Odoo tier: `odooplane odoo setup`, a database initialized with base,web through
the library, Odoo started on a free port answering 200 on /web/health, and the failures
around it (unknown module, a server that dies, no answer)."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from fixtures_odoo import minimal_project
from odooplane.cli import main
from odooplane.errors import CheckFailedError, NotFoundError
from odooplane.odoo.process import (
    http_get,
    initialize_database,
    installed_modules,
    odoo_options,
    run_odoo,
    start_server,
    wait_healthy,
    write_conf,
)
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.series import for_series
from odooplane.odoo.source import OdooSource
from odooplane.ports import free_port
from odooplane.postgres.databases import drop_database
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project

pytestmark = pytest.mark.odoo


@pytest.fixture(scope="module")
def module_project(series_source: OdooSource, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return minimal_project(tmp_path_factory.mktemp("odoo-process") / "project", series_source)


@pytest.fixture(scope="module")
def base_web_db(
    module_project: Project,
    series_source: OdooSource,
    series_runtime: Runtime,
    pg_server: DatabaseServer,
) -> Iterator[str]:
    """One database with base and web installed (no demo), shared by this module."""
    name = f"odoo_{uuid.uuid4().hex[:10]}"
    initialize_database(
        module_project, series_source, series_runtime, pg_server, name, ["base", "web"], demo=False
    )
    yield name
    drop_database(pg_server, name, force=True, missing_ok=True)


def test_odoo_setup_command_reuses_the_shared_runtime(
    series_source: OdooSource,
    series_runtime: Runtime,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    project = minimal_project(tmp_path / "project", series_source)
    capfd.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["-C", str(project.root), "odoo", "setup", "--json", "--quiet"])
    out, err = capfd.readouterr()
    assert exit_info.value.code == 0, err
    result = json.loads(out)
    assert result["runtime"]["path"] == str(series_runtime.path)
    assert result["runtime"]["state"] == "reused"
    assert result["source"]["series"] == series_source.series
    assert result["source"]["revision"] == series_source.revision


def test_runtime_runs_odoo_bin(series_source: OdooSource, series_runtime: Runtime) -> None:
    # Every requirement of the series installs here (18.0's cbor2 sdist needs the
    # pkg_resources-era setuptools for its build; libldap2-dev is installed by .ci/run).
    assert series_runtime.skipped == ()
    # The gevent (websocket) worker imports these first thing (gevent < 23 needs
    # pkg_resources, which recent setuptools removed).
    subprocess.run(
        [str(series_runtime.python), "-c", "import gevent.events, gevent.monkey, psycopg2"],
        env=series_runtime.env(),
        check=True,
        capture_output=True,
    )
    version = subprocess.run(
        [str(series_runtime.python), str(series_source.odoo_bin), "--version"],
        env=series_runtime.env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"Odoo Server {series_source.series}" in version
    # The in-process launcher a warm interpreter uses does the same.
    launched = subprocess.run(
        [
            str(series_runtime.python),
            "-c",
            for_series(series_source.series).launcher_code(),
            "--version",
        ],
        cwd=series_source.path,
        env=series_runtime.env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert launched == version


def test_initialize_then_serve_health(
    module_project: Project,
    series_source: OdooSource,
    series_runtime: Runtime,
    pg_server: DatabaseServer,
    base_web_db: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Odoo 19 reads these over odoo.conf: a calling shell's values must not reach it.
    monkeypatch.setenv("PGHOST", "/nonexistent")
    monkeypatch.setenv("PGDATABASE", "not_this_one")
    monkeypatch.setenv("ODOO_DEV", "werkzeug")
    assert installed_modules(pg_server, base_web_db, ["base", "web", "mail"]) == {"base", "web"}
    with pg_server.connect(base_web_db) as conn:
        demo = conn.execute("SELECT demo FROM ir_module_module WHERE name = 'base'").fetchone()
    assert demo == (False,)
    assert (module_project.odoo_data_dir / "filestore" / base_web_db).is_dir()

    port = free_port()
    with start_server(
        module_project, series_source, series_runtime, pg_server, base_web_db, http_port=port
    ) as odoo:
        assert odoo.url == f"http://127.0.0.1:{port}"
        odoo.wait_healthy(timeout=180)
        status, body = http_get(odoo.url + "/web/health")
        assert status == 200 and json.loads(body) == {"status": "pass"}
        status, body = http_get(odoo.url + "/web/login")
        assert status == 200 and b"oe_login_form" in body
        conf = odoo.conf_path.read_text()
        assert odoo.conf_path.stat().st_mode & 0o077 == 0  # holds the database password
        assert f"db_name = {base_web_db}" in conf and "list_db = False" in conf
        pid = odoo.pid
        children = psutil.Process(pid).children(recursive=True)
    assert not odoo.alive()
    assert not odoo.conf_path.exists()
    for proc in children:
        assert not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert "GET /web/health" in odoo.log_path.read_text()


def test_odoo_neutralize_command_line_runs(
    module_project: Project,
    series_source: OdooSource,
    series_runtime: Runtime,
    pg_server: DatabaseServer,
    base_web_db: str,
    tmp_path: Path,
) -> None:
    options = odoo_options(module_project, series_source, pg_server, database=base_web_db)
    conf = write_conf(tmp_path / "odoo.conf", series_source, options)
    argv = for_series(series_source.series).neutralize_argv(
        series_runtime, series_source, conf, database=base_web_db, stdout=True
    )
    result = subprocess.run(
        argv, env=series_runtime.env(), capture_output=True, text=True, check=True, timeout=300
    )
    assert result.stdout.startswith("BEGIN;") and result.stdout.rstrip().endswith("COMMIT;")


def test_unknown_module_is_refused_before_odoo_runs(
    module_project: Project,
    series_source: OdooSource,
    series_runtime: Runtime,
    pg_server: DatabaseServer,
    pg_dbname: str,
) -> None:
    with pytest.raises(NotFoundError, match="No addon named no_such_module"):
        initialize_database(
            module_project,
            series_source,
            series_runtime,
            pg_server,
            pg_dbname,
            ["base", "no_such_module"],
            demo=False,
        )
    with pg_server.connect() as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (pg_dbname,))
        assert exists.fetchone() is None


def test_a_server_that_dies_is_reported_with_its_log(
    module_project: Project,
    series_source: OdooSource,
    series_runtime: Runtime,
    pg_server: DatabaseServer,
    base_web_db: str,
) -> None:
    odoo = start_server(
        module_project,
        series_source,
        series_runtime,
        pg_server,
        base_web_db,
        extra=["--no-such-option"],
    )
    try:
        with pytest.raises(CheckFailedError, match="Odoo exited with code 2") as info:
            odoo.wait_healthy(timeout=120)
        assert info.value.hint is not None and "no such option" in info.value.hint
    finally:
        odoo.stop()


def test_failed_odoo_command_carries_the_log(
    module_project: Project, series_source: OdooSource, series_runtime: Runtime, tmp_path: Path
) -> None:
    log = tmp_path / "bad.log"
    argv = [str(series_runtime.python), str(series_source.odoo_bin), "--no-such-option"]
    with pytest.raises(Exception) as info:
        run_odoo(argv, series_runtime, log_path=log, what="to test failures")
    assert "Odoo failed to test failures (exit code 2)" in str(info.value)
    assert "no such option" in str(info.value)


def test_no_answer_within_timeout() -> None:
    port = free_port()
    with pytest.raises(CheckFailedError, match=rf"127\.0\.0\.1:{port}/web/health did not answer"):
        wait_healthy(f"http://127.0.0.1:{port}", timeout=1.0)
