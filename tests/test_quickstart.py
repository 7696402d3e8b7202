"""quickstart: the README's main job, for real (PostgreSQL, git, Odoo)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures_odoo import minimal_project
from odooplane.errors import RefusedError, UsageError
from odooplane.odoo.manifest import read_manifest
from odooplane.odoo.process import http_get, initialize_database
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.series import for_series
from odooplane.odoo.source import OdooSource
from odooplane.postgres.cluster import EmbeddedCluster
from odooplane.postgres.server import DatabaseServer
from odooplane.quickstart import check_serving, create_project, prepare, write_sample_addon


def test_sample_addon_carries_the_series(tmp_path: Path) -> None:
    folder = write_sample_addon(tmp_path / "addons", "18.0")
    manifest = read_manifest(folder / "__manifest__.py")
    assert manifest["version"] == "18.0.1.0.0"
    assert (folder / "security" / "ir.model.access.csv").is_file()
    assert not list(folder.rglob("__pycache__"))


@pytest.mark.parametrize(
    ("series", "list_tag", "groups", "constraint"),
    [
        ("17.0", "<tree>", "groups_id", "_sql_constraints = ["),
        ("18.0", "<list>", "groups_id", "_sql_constraints = ["),
        ("19.0", "<list>", "group_ids", "_name_unique = models.Constraint("),
    ],
)
def test_sample_addon_is_written_for_its_series(
    tmp_path: Path, series: str, list_tag: str, groups: str, constraint: str
) -> None:
    folder = write_sample_addon(tmp_path / "addons", series)
    views = (folder / "views" / "greeting_views.xml").read_text()
    model = (folder / "models" / "greeting.py").read_text()
    assert list_tag in views and f'name="{groups}"' in views
    assert constraint in model
    compile(model, "greeting.py", "exec")
    assert "{" not in views


@pytest.mark.odoo
def test_sample_addon_installs_cleanly_on_the_series(
    tmp_path: Path,
    series_source: OdooSource,
    series_runtime: Runtime,
    pg_server: DatabaseServer,
    pg_dbname: str,
) -> None:
    """The addon quickstart writes installs on its series with nothing Odoo would warn
    about (a <tree> view on 18.0 fails; _sql_constraints on 19.0 is ignored)."""
    project = minimal_project(tmp_path / "project", series_source)
    write_sample_addon(project.root / "addons", series_source.series)
    log = tmp_path / "init.log"
    initialize_database(
        project,
        series_source,
        series_runtime,
        pg_server,
        pg_dbname,
        ["hello_odooplane"],
        demo=False,
        log_path=log,
    )
    warnings = [
        line
        for line in log.read_text().splitlines()
        if (" WARNING " in line or " ERROR " in line) and "hello" in line.lower()
    ]
    assert warnings == []
    with pg_server.connect(pg_dbname) as conn:
        constraint = conn.execute(
            "SELECT count(*) FROM pg_constraint WHERE conname = 'hello_greeting_name_unique'"
        ).fetchone()
        view = conn.execute(
            "SELECT type FROM ir_ui_view WHERE name = 'hello.greeting.list'"
        ).fetchone()
        groups = conn.execute(
            "SELECT count(*) FROM ir_act_window_group_rel r JOIN ir_model_data d "
            "ON d.res_id = r.act_id AND d.model = 'ir.actions.act_window' "
            "AND d.name = 'hello_greeting_action'"
        ).fetchone()
    assert constraint == (1,)
    assert view == (for_series(series_source.series).list_view,)
    assert groups == (1,)


def test_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(RefusedError, match="not empty"):
        create_project(target, "/nowhere")
    assert (target / "notes.txt").read_text() == "mine"


def test_git_source_needs_a_ref(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--odoo-ref"):
        create_project(tmp_path / "p", "https://example.com/odoo.git")


def test_new_project_needs_a_source(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--odoo-source"):
        prepare(tmp_path / "p", None)


def test_cli_errors_are_sentences(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "odooplane",
            "quickstart",
            str(tmp_path / "p"),
            "--odoo-source",
            str(tmp_path / "missing"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode in (1, 2)
    assert "Traceback" not in result.stderr
    assert str(tmp_path / "missing") in result.stderr


@pytest.mark.odoo
def test_quickstart_serves_the_sample_project(
    tmp_path: Path, odoo_source: OdooSource, odoo_runtime: object
) -> None:
    target = tmp_path / "acme"
    phases: list[str] = []
    result = prepare(
        target, str(odoo_source.path), progress=lambda event: phases.append(event.phase)
    )
    prepared = result.prepared
    cluster = EmbeddedCluster(prepared.project.state_dir)
    try:
        assert result.created_project and prepared.created_database
        steps = [s.name for s in result.steps]
        assert steps == [
            "project",
            "postgres",
            "odoo source",
            "runtime",
            "mail catcher",
            "database",
        ]
        assert [p for p in phases if p in steps] == steps  # announced in order
        log = subprocess.run(
            ["git", "log", "--format=%s"], cwd=target, capture_output=True, text=True, check=True
        ).stdout
        assert "quickstart" in log
        # The sample addon is installed because it is the project's (no `modules` list).
        assert "hello_odooplane" in prepared.modules
        with prepared.server.connect(prepared.database) as conn:
            row = conn.execute(
                "SELECT state FROM ir_module_module WHERE name = 'hello_odooplane'"
            ).fetchone()
            demo = conn.execute("SELECT demo FROM ir_module_module WHERE name='base'").fetchone()
        assert row == ("installed",)
        assert demo == (True,)
        url = check_serving(result)
        assert url.startswith("http://127.0.0.1:") and result.url == url
        # Running it again resumes: nothing is created twice.
        again = subprocess.run(
            [sys.executable, "-m", "odooplane", "quickstart", str(target), "--no-serve", "--json"],
            capture_output=True,
            text=True,
        )
        assert again.returncode == 0, again.stderr
        payload = json.loads(again.stdout)
        assert payload["created_project"] is False
        assert payload["created_database"] is False
        assert payload["url"].startswith("http://127.0.0.1:")
        # Serving is a dev session on the new project; Ctrl-C stops it cleanly.
        serving = subprocess.Popen(
            [sys.executable, "-m", "odooplane", "quickstart", str(target), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert serving.stdout is not None
            events = []
            for line in serving.stdout:
                events.append(json.loads(line))
                if events[-1]["event"] == "serving":
                    break
            assert events[0]["event"] == "prepared" and events[0]["created_database"] is False
            assert events[-1]["event"] == "serving", events
            assert http_get(events[-1]["url"] + "/hello") == (200, b"Hello from odooplane")
            # The environment state knows who serves it.
            listed = subprocess.run(
                [sys.executable, "-m", "odooplane", "-C", str(target), "env", "list", "--json"],
                capture_output=True,
                text=True,
            )
            assert listed.returncode == 0, listed.stderr
            rows = {r["environment"]: r for r in json.loads(listed.stdout)}
            development = next(r for r in rows.values() if r["kind"] == "development")
            assert development["status"] == "running"
            assert development["url"] == events[-1]["url"]
            serving.send_signal(signal.SIGINT)
            assert serving.wait(timeout=120) == 0
        finally:
            if serving.poll() is None:
                serving.kill()
    finally:
        # The cluster may live in /var/lib/odooplane (tmp_path is 0700): remove it too.
        cluster.destroy()
