"""The whole lifecycle with a real Odoo, real PostgreSQL, real supervisord and git, once
per series present (17.0, 18.0, 19.0).

One project (two small addons in a real git repository) and its environments are
shared by the ordered steps of this module: initializing Odoo takes a while, so each
step builds on the previous one, as an operator's day would. The steps about odooplane's
own logic rather than Odoo's (env diff, recovery after SIGKILL, refusals, messages) run
on the primary series only (docs/testing.md).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import psutil
import pytest

from conftest import TEST_CACHE, run_git, write_addon
from fixtures_odoo import primary_only
from odooplane.backends.supervisor import SupervisorBackend
from odooplane.config import load_config
from odooplane.environments import api as envs
from odooplane.environments.health import check_once
from odooplane.environments.locks import environment_lock
from odooplane.environments.state import Operation, StateStore
from odooplane.errors import LockedError, NotFoundError
from odooplane.evidence.api import EvidenceStore
from odooplane.mailcatcher import stop_catcher
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.source import OdooSource
from odooplane.postgres import databases as dbs
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project

pytestmark = [pytest.mark.odoo, pytest.mark.slow]

CRON_XML = """<?xml version="1.0" encoding="utf-8"?>
<odoo>
    <record id="cron_mark" model="ir.cron">
        <field name="name">Addon B: mark</field>
        <field name="model_id" ref="base.model_ir_config_parameter"/>
        <field name="state">code</field>
        <field name="code">model.set_param('addon_b.cron_ran', 'yes')</field>
        <field name="interval_number">1</field>
        <field name="interval_type">days</field>
        <field name="active" eval="False"/>
    </record>
    <record id="cron_fail" model="ir.cron">
        <field name="name">Addon B: fail</field>
        <field name="model_id" ref="base.model_ir_config_parameter"/>
        <field name="state">code</field>
        <field name="code">raise UserError('cron exploded')</field>
        <field name="interval_number">1</field>
        <field name="interval_type">days</field>
        <field name="active" eval="False"/>
    </record>
</odoo>
"""
FIELD_PY = """from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    addon_a_note = fields.Char()
"""


@dataclass
class Scenario:
    project: Project
    repo: Path
    server: DatabaseServer
    source: OdooSource
    shas: dict[str, str] = field(default_factory=dict)

    @property
    def series(self) -> str:
        return self.source.series

    def commit(self, label: str, message: str) -> str:
        run_git(self.repo, "add", "-A")
        run_git(self.repo, "commit", "-q", "-m", message)
        self.shas[label] = run_git(self.repo, "rev-parse", "HEAD")
        return self.shas[label]

    def cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "odooplane", "-C", str(self.repo), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def rows(self, database: str, query: str) -> list[tuple[object, ...]]:
        with self.server.connect(database) as conn:
            return list(conn.execute(query).fetchall())


@pytest.fixture(scope="module")
def scenario(
    tmp_path_factory: pytest.TempPathFactory,
    pg_server: DatabaseServer,
    series_source: OdooSource,
    series_runtime: Runtime,
) -> Iterator[Scenario]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ODOOPLANE_CACHE_DIR", str(TEST_CACHE))
        patch.setenv("ODOOPLANE_LOCK_TIMEOUT", "120")
        repo = tmp_path_factory.mktemp("lifecycle") / "project"
        repo.mkdir()
        run_git(repo, "init", "-q", "-b", "main")
        name = f"envt{uuid.uuid4().hex[:6]}"
        (repo / "odooplane.yaml").write_text(
            f"project: {name}\n"
            "odoo:\n"
            f"  series: '{series_source.series}'\n"
            f"  source: '{series_source.path}'\n"
            "database:\n"
            f"  server: '{pg_server.url(redact=False)}'\n"
            "environments:\n"
            "  production:\n"
            "    kind: production\n"
            "    workers: 2\n"
            "    env_file: production.env\n"
            "  staging:\n"
            "    kind: staging\n"
            "    env_file: staging.env\n"
            "    data:\n"
            "      copy: production\n"
            "  dev:\n"
            "    kind: development\n"
            "    data: demo\n"
        )
        (repo / "production.env").write_text("PAYMENT_KEY=live-1234567890\nSHARED=one\n")
        (repo / "staging.env").write_text("PAYMENT_KEY=test-0000000000\n")
        (repo / ".gitignore").write_text(".odooplane/\nweb/\n*.env\n")
        write_addon(repo / "addons", "addon_a")
        write_addon(repo / "addons", "addon_b", extra={"data/cron.xml": CRON_XML})
        manifest = repo / "addons" / "addon_b" / "__manifest__.py"
        manifest.write_text(
            manifest.read_text().replace(
                "'installable': True,", "'installable': True,\n    'data': ['data/cron.xml'],"
            )
        )
        project = Project(root=repo, config=load_config(repo / "odooplane.yaml"))
        sc = Scenario(project=project, repo=repo, server=pg_server, source=series_source)
        sc.commit("initial", "Two addons")
        try:
            yield sc
        finally:
            for env in ("dev", "staging", "production"):
                try:
                    envs.destroy(project, env, force=True)
                except Exception as exc:  # teardown must go on
                    print(f"teardown of {env}: {exc}")
            SupervisorBackend(project.state_dir).shutdown()
            stop_catcher(project.state_dir)


def _db(sc: Scenario, env: str) -> str:
    return sc.project.config.database_name(env)


def test_create_production_fresh(scenario: Scenario) -> None:
    outcome = envs.create(scenario.project, "production")
    assert outcome.status == "running"
    assert outcome.build and outcome.build["sha"] == scenario.shas["initial"]
    assert [s.name for s in outcome.steps] == ["initialize database", "start", "health check"]
    info = envs.status(scenario.project, "production")
    assert info.status == "running"
    assert info.health.checks == {"/web/health": 200, "/web/login": 200}
    db = _db(scenario, "production")
    installed = dict(
        scenario.rows(
            db,
            "SELECT name, state FROM ir_module_module WHERE name IN ('addon_a', 'addon_b', 'web')",
        )
    )
    assert installed == {"addon_a": "installed", "addon_b": "installed", "web": "installed"}
    # No demo data in a fresh production database.
    demo = scenario.rows(db, "SELECT count(*) FROM ir_module_module WHERE demo")
    assert demo[0][0] == 0
    # The env file reaches the process, not odoo.conf.
    conf = (scenario.project.state_dir / "environments/production/odoo.conf").read_text()
    assert "live-1234567890" not in conf
    assert info.slot == "blue"
    launcher = (scenario.project.state_dir / "supervisor/launchers/production.blue.sh").read_text()
    assert "PAYMENT_KEY=live-1234567890" in launcher


def test_production_runs_workers_and_a_gevent_port(scenario: Scenario) -> None:
    info = envs.status(scenario.project, "production")
    conf = (scenario.project.state_dir / "environments/production/odoo.conf").read_text()
    gevent = info.slots[info.slot]["gevent"]
    assert "workers = 2" in conf and f"gevent_port = {gevent}" in conf
    # A prefork master: HTTP and cron workers are its children.
    master = psutil.Process(info.process.pid)
    assert len(master.children()) >= 2
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", gevent)) == 0:
                return
        time.sleep(0.5)
    log = (scenario.project.state_dir / "environments/production/odoo-blue.log").read_text()
    raise AssertionError(f"nothing listens on the gevent port {gevent}; log:\n{log[-3000:]}")


def test_odoo_runs_unprivileged_on_loopback(scenario: Scenario) -> None:
    """Odoo ran as root and listened on every interface (issue 10)."""
    from odooplane.odoo.sysuser import ODOO_USER, odoo_user

    info = envs.status(scenario.project, "production")
    assert info.process is not None and info.process.pid is not None
    master = psutil.Process(info.process.pid)
    expected = odoo_user()
    uid = expected.uid if expected is not None else os.geteuid()
    assert uid != 0 or expected is None
    processes = [master, *master.children(recursive=True)]
    assert {p.uids().real for p in processes} == {uid}
    assert {p.uids().effective for p in processes} == {uid}
    assert info.slots is not None and info.slot is not None
    ports = {info.slots[info.slot]["http"], info.slots[info.slot]["gevent"]}
    listening = {
        (c.laddr.ip, c.laddr.port)
        for p in processes
        for c in p.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    }
    assert {ip for ip, port in listening if port in ports} == {"127.0.0.1"}
    from odooplane.odoo.sysuser import conf_of

    conf = conf_of(master.cmdline())
    assert conf is not None
    if expected is not None:
        assert conf.stat().st_uid == expected.uid and expected.name == ODOO_USER
        filestore = scenario.project.odoo_data_dir / "filestore" / _db(scenario, "production")
        assert filestore.stat().st_uid == expected.uid
    assert conf.stat().st_mode & 0o777 == 0o600


def test_development_with_demo_data_stops_starts_and_reports(scenario: Scenario) -> None:
    outcome = envs.create(scenario.project, "dev")
    assert outcome.status == "running"
    db = _db(scenario, "dev")
    # Demo data, however the series spells it (--without-demo up to 18.0, --with-demo on).
    assert scenario.rows(db, "SELECT demo FROM ir_module_module WHERE name = 'base'") == [(True,)]
    assert (
        scenario.rows(db, "SELECT count(*) FROM res_partner WHERE name = 'Azure Interior'")[0][0]
        >= 1
    )
    stopped = envs.stop(scenario.project, "dev")
    assert stopped.status == "stopped"
    assert envs.status(scenario.project, "dev").status == "stopped"
    started = envs.start(scenario.project, "dev")
    assert started.status == "running"
    info = envs.status(scenario.project, "dev")
    assert info.health.checks == {"/web/health": 200, "/web/login": 200}
    assert info.build["odoo_series"] == scenario.series
    assert envs.destroy(scenario.project, "dev", force=True).status == "destroyed"


def test_deploy_updates_only_the_changed_addon(scenario: Scenario) -> None:
    addon_a = scenario.repo / "addons" / "addon_a"
    (addon_a / "models").mkdir()
    (addon_a / "models" / "__init__.py").write_text("from . import partner\n")
    (addon_a / "models" / "partner.py").write_text(FIELD_PY)
    (addon_a / "__init__.py").write_text("from . import models\n")
    sha = scenario.commit("field", "addon_a: a note on partners")
    db = _db(scenario, "production")
    before = dict(
        scenario.rows(
            db, "SELECT name, write_date FROM ir_module_module WHERE name IN ('addon_a', 'addon_b')"
        )
    )

    outcome = envs.deploy(scenario.project, "production", "main")

    assert outcome.status == "deployed"
    assert outcome.build and outcome.build["sha"] == sha
    assert outcome.plan is not None
    assert outcome.plan.update == ["addon_a"] and outcome.plan.install == []
    assert outcome.plan.unchanged == ["addon_b"]
    assert outcome.snapshot and outcome.snapshot.startswith("pre-")
    assert [s.name for s in outcome.steps] == [
        "maintenance page",
        "stop",
        "snapshot",
        "update modules",
        "start",
        "health check",
        "switch",
    ]
    after = dict(
        scenario.rows(
            db, "SELECT name, write_date FROM ir_module_module WHERE name IN ('addon_a', 'addon_b')"
        )
    )
    assert after["addon_b"] == before["addon_b"]
    assert after["addon_a"] != before["addon_a"]
    columns = scenario.rows(
        db,
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = 'res_partner' AND column_name = 'addon_a_note'",
    )
    assert columns == [("addon_a_note",)]
    port = envs.status(scenario.project, "production").http_port
    assert check_once(f"http://127.0.0.1:{port}").ok
    # Every step is timed in the evidence store.
    with EvidenceStore.open(scenario.project) as store:
        detail = store.deployment(outcome.deployment_id or "")
    assert detail.summary.outcome == "succeeded"
    assert [s.name for s in detail.steps] == [s.name for s in outcome.steps]
    assert all(s.duration_ms is not None for s in detail.steps)
    assert [m.module for m in detail.migrations] == ["addon_a"]


def test_a_deploy_that_breaks_start_up_rolls_back(scenario: Scenario) -> None:
    good = scenario.shas["field"]
    (scenario.repo / "addons" / "addon_b" / "__init__.py").write_text(
        "import this_module_does_not_exist\n"
    )
    bad = scenario.commit("broken", "addon_b: import a module that is not there")

    with pytest.raises(envs.DeploymentFailed) as failure:
        envs.deploy(scenario.project, "production", bad)

    result = failure.value.result
    assert result["status"] == "rolled_back"
    assert "this_module_does_not_exist" in (failure.value.hint or "")
    assert "ModuleNotFoundError" in (result["log_excerpt"] or "")
    assert "rolled back to " + good[:12] in failure.value.message
    info = envs.status(scenario.project, "production")
    assert info.status == "running"
    assert info.build["sha"] == good
    assert info.health.checks == {"/web/health": 200, "/web/login": 200}
    # The snapshot was put back: the failed update left nothing half done.
    states = scenario.rows(
        _db(scenario, "production"), "SELECT state FROM ir_module_module WHERE state LIKE 'to %'"
    )
    assert states == []
    with EvidenceStore.open(scenario.project) as store:
        detail = store.deployment(result["deployment_id"])
    assert detail.summary.outcome == "rolled_back"
    assert detail.result["rollback"]["restored_sha"] == good
    assert detail.result["rollback"]["snapshot"] == result["snapshot"]
    # Put the code right again for the next steps.
    run_git(scenario.repo, "revert", "--no-edit", bad)


def test_staging_is_a_neutralized_copy(scenario: Scenario) -> None:
    outcome = envs.create(scenario.project, "staging")
    assert outcome.status == "running"
    assert outcome.build and outcome.build["sha"] == scenario.shas["field"]
    assert outcome.neutralization and outcome.neutralization["status"] == "verified"
    names = [s.name for s in outcome.steps]
    assert names[:3] == ["clone database", "copy filestore", "neutralize"]
    db = _db(scenario, "staging")
    active_crons = scenario.rows(db, "SELECT cron_name FROM ir_cron WHERE active")
    assert [r[0] for r in active_crons] == ["Base: Auto-vacuum internal data"]
    conf = (scenario.project.state_dir / "environments/staging/odoo.conf").read_text()
    assert "max_cron_threads = 0" in conf
    assert "smtp_server = 127.0.0.1" in conf
    info = envs.status(scenario.project, "staging")
    assert info.health.checks == {"/web/health": 200, "/web/login": 200}
    assert info.http_port != envs.status(scenario.project, "production").http_port


def _conf_login(sc: Scenario, env: str) -> DatabaseServer:
    """The server as environment ``env``'s odoo.conf logs in to it."""
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    parser.read(sc.project.state_dir / "environments" / env / "odoo.conf")
    options = parser["options"]
    return replace(sc.server, user=options["db_user"], password=options["db_password"])


def test_each_environment_logs_in_with_its_own_role(scenario: Scenario) -> None:
    """Every environment connected as the same superuser (issue 10): staging's odoo.conf
    opened production's database with full rights."""
    from odooplane.errors import ExternalToolError
    from odooplane.postgres import roles

    prod_db, staging_db = _db(scenario, "production"), _db(scenario, "staging")
    as_staging = _conf_login(scenario, "staging")
    as_prod = _conf_login(scenario, "production")
    assert as_staging.user == staging_db and as_prod.user == prod_db
    for env in ("production", "staging"):
        conf = (scenario.project.state_dir / "environments" / env / "odoo.conf").read_text()
        assert str(scenario.server.password) not in conf
        assert f"db_user = {scenario.server.user}\n" not in conf
    with pytest.raises(ExternalToolError, match="CONNECT privilege"):
        as_staging.connect(prod_db).close()
    with pytest.raises(ExternalToolError, match="CONNECT privilege"):
        as_prod.connect(staging_db).close()
    with as_staging.connect(staging_db) as conn:
        row = conn.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert row == (False, False, False)
        with pytest.raises(Exception, match=r"external program|pg_execute_server_program"):
            conn.execute("COPY (SELECT 1) TO PROGRAM 'true'")
    # staging's copy of production's tables became staging's, inside and out.
    assert roles.objects_owned_by_others(scenario.server, staging_db, staging_db) == 0
    assert roles.objects_owned_by_others(scenario.server, prod_db, prod_db) == 0


def test_rotating_credentials_is_said_and_restarts(scenario: Scenario) -> None:
    from odooplane.errors import ExternalToolError

    staging_db = _db(scenario, "staging")
    before = _conf_login(scenario, "staging")
    result = scenario.cli("env", "rotate-credentials", "staging", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["restarted"] and data["rotated"] == "rotated on request"
    assert before.password not in result.stdout
    after = _conf_login(scenario, "staging")
    assert after.password != before.password
    with pytest.raises(ExternalToolError, match="password authentication failed"):
        before.connect(staging_db).close()
    after.connect(staging_db).close()
    info = envs.status(scenario.project, "staging")
    assert info.status == "running"
    assert info.health is not None
    assert info.health.checks == {"/web/health": 200, "/web/login": 200}
    assert info.credentials is not None
    assert info.credentials["rotations"][-1]["reason"] == "rotated on request"


def test_env_diff_staging_production(scenario: Scenario) -> None:
    primary_only(scenario.source)
    result = scenario.cli("env", "diff", "staging", "production", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    rows = {s: {r["key"]: r for r in rs} for s, rs in data["sections"].items()}
    assert rows["odoo_conf"]["workers"]["a"] == "0"
    assert rows["odoo_conf"]["workers"]["b"] == "2"
    assert rows["odoo_conf"]["max_cron_threads"]["change"] == "only-a"
    assert rows["env_file"]["PAYMENT_KEY"] == {
        "key": "PAYMENT_KEY",
        "a": "********",
        "b": "********",
        "change": "differs",
    }
    assert rows["env_file"]["SHARED"]["change"] == "only-b"
    assert "base.ir_cron_res_users_deletion" in rows["crons"]
    assert rows["parameters"]["database.is_neutralized"]["a"] == "true"
    assert rows["modules"] == {}
    assert "live-1234567890" not in result.stdout and "test-0000000000" not in result.stdout


def test_cron_run_runs_a_disabled_cron(scenario: Scenario) -> None:
    db = _db(scenario, "staging")
    assert (
        scenario.rows(db, "SELECT value FROM ir_config_parameter WHERE key = 'addon_b.cron_ran'")
        == []
    )
    result = scenario.cli("env", "cron-run", "staging", "addon_b.cron_mark", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "ok"
    assert data["cron"]["active"] is False
    assert data["cron"]["xmlid"] == "addon_b.cron_mark"
    assert scenario.rows(
        db, "SELECT value FROM ir_config_parameter WHERE key = 'addon_b.cron_ran'"
    ) == [("yes",)]
    still = scenario.rows(
        db,
        "SELECT c.active FROM ir_cron c JOIN ir_model_data d ON "
        "d.res_id = c.id AND d.model = 'ir.cron' AND d.name = 'cron_mark'",
    )
    assert still == [(False,)]
    # By name too; an unknown one is a sentence.
    by_name = envs.cron_run(scenario.project, "staging", "Addon B: mark")
    assert by_name.result.status == "ok"
    missing = scenario.cli("env", "cron-run", "staging", "no such job")
    assert missing.returncode == 1
    assert "No scheduled action 'no such job'" in missing.stderr
    # A job that fails is a failed command, on every series (19.0 does not raise).
    failed = scenario.cli("env", "cron-run", "staging", "addon_b.cron_fail")
    assert failed.returncode == 1, failed.stdout
    assert "Scheduled action 'Addon B: fail' failed" in failed.stderr
    assert "cron exploded" in failed.stderr


def test_shell_psql_and_logs(scenario: Scenario) -> None:
    shell = subprocess.run(
        [sys.executable, "-m", "odooplane", "-C", str(scenario.repo), "env", "shell", "staging"],
        input="print('PARTNERS', env['res.partner'].search_count([]))\n",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert shell.returncode == 0, shell.stderr
    assert "PARTNERS" in shell.stdout
    psql = scenario.cli("env", "psql", "staging", "-At", "-c", "SELECT count(*) FROM res_users")
    assert psql.returncode == 0, psql.stderr
    assert int(psql.stdout.strip()) >= 1
    logs = scenario.cli("env", "logs", "staging", "-n", "5")
    assert logs.returncode == 0
    lines = logs.stdout.splitlines()
    assert 1 <= len(lines) <= 5


def _wait_phase(
    store: StateStore, env: str, phases: tuple[str, ...], timeout: float = 300
) -> Operation:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = store.load(env)
        op = state.operation if state else None
        if op is not None and op.phase in phases:
            return op
        time.sleep(0.05)
    raise AssertionError(f"{env} never reached phase {phases}")


def _wait_recovered(store: StateStore, env: str, timeout: float = 180) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        state = store.load(env)
        if state is not None and state.operation is None:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"the keeper did not recover {env} within {timeout} s")


def _bump(scenario: Scenario, label: str, version: str) -> str:
    """The commit setting addon_a's version to ``version`` (made once, as ``label``)."""
    if label not in scenario.shas:
        manifest = scenario.repo / "addons" / "addon_a" / "__manifest__.py"
        text = re.sub(r"'version': '[^']*'", f"'version': '{version}'", manifest.read_text())
        manifest.write_text(text)
        scenario.commit(label, f"addon_a: {version}")
    return scenario.shas[label]


def test_killing_the_client_leaves_the_deploy_running(scenario: Scenario) -> None:
    primary_only(scenario.source)
    target = _bump(scenario, "bump", "1.0.1")
    store = StateStore(scenario.project.state_dir)
    client = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "odooplane",
            "-C",
            str(scenario.repo),
            "env",
            "deploy",
            "production",
            target,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    op = _wait_phase(store, "production", ("updating",))
    assert op.pid != client.pid, "the deploy runs in a worker of its own, not in the client"
    os.kill(client.pid, signal.SIGKILL)
    client.wait()
    _wait_recovered(store, "production", timeout=600)
    after = envs.status(scenario.project, "production")
    assert after.build["sha"] == target
    assert after.status == "running"
    assert after.last_deployment["status"] == "deployed"
    assert after.health.checks == {"/web/health": 200, "/web/login": 200}
    version = scenario.rows(
        _db(scenario, "production"),
        "SELECT latest_version FROM ir_module_module WHERE name = 'addon_a'",
    )
    assert version == [(f"{scenario.series}.1.0.1",)]


def test_a_killed_deploy_is_recovered_by_the_keeper(scenario: Scenario) -> None:
    primary_only(scenario.source)
    _bump(scenario, "bump", "1.0.1")
    target = _bump(scenario, "bump2", "1.0.2")
    store = StateStore(scenario.project.state_dir)
    before = store.load("production")
    assert before is not None
    client = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "odooplane",
            "-C",
            str(scenario.repo),
            "env",
            "deploy",
            "production",
            target,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    op = _wait_phase(store, "production", ("updating",))
    deadline = time.monotonic() + 120
    while not op.child_pid and time.monotonic() < deadline:
        time.sleep(0.05)
        op = _wait_phase(store, "production", ("updating",))
    child = op.child_pid
    assert child is not None
    os.kill(op.pid, signal.SIGKILL)
    client.wait()
    seconds = _wait_recovered(store, "production")
    # The update it was running died with it.
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == "zombie"
    info = envs.status(scenario.project, "production")
    assert info.status == "running", info
    assert info.build["sha"] == before.build
    assert info.health.checks == {"/web/health": 200, "/web/login": 200}
    last = info.last_deployment
    assert last["status"] == "interrupted" and last["decision"] == "rolled_back"
    assert any("put back snapshot" in a for a in last["actions"])
    print(f"recovered by the keeper {seconds:.1f} s after the kill")
    with EvidenceStore.open(scenario.project) as evidence:
        dead = evidence.deployment(op.deployment_id or "")
        assert dead.summary.outcome == "interrupted"
        assert dead.result["interrupted_step"] == "update modules"
        recovery = evidence.deployment(last["recovery_id"])
        assert recovery.summary.kind == "recover"
        assert recovery.summary.rollback_of == dead.summary.id
        assert recovery.result["serving_build"] == before.build
    # The next deploy of the same build goes through.
    outcome = envs.deploy(scenario.project, "production", target)
    assert outcome.status == "deployed"
    assert outcome.recovered is None


def test_staging_deploy_neutralizes_again_and_survives_a_crash(scenario: Scenario) -> None:
    _bump(scenario, "bump", "1.0.1")
    outcome = envs.deploy(scenario.project, "staging", _bump(scenario, "bump2", "1.0.2"))
    assert outcome.plan is not None and outcome.plan.update == ["addon_a"]
    names = [s.name for s in outcome.steps]
    assert names.index("update modules") < names.index("neutralize") < names.index("start")
    assert outcome.neutralization and outcome.neutralization["status"] == "verified"
    db = _db(scenario, "staging")
    active = scenario.rows(db, "SELECT cron_name FROM ir_cron WHERE active")
    assert [r[0] for r in active] == ["Base: Auto-vacuum internal data"]
    # A crashed Odoo is started again by the supervisor.
    info = envs.status(scenario.project, "staging")
    first = info.process.pid
    os.kill(first, signal.SIGKILL)
    healthy = {"/web/health": 200, "/web/login": 200}
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        info = envs.status(scenario.project, "staging")
        if (
            info.status == "running"
            and info.process.pid not in (None, first)
            and info.health
            and info.health.checks == healthy
        ):
            break
        time.sleep(1)
    else:
        raise AssertionError(f"staging did not come back after a crash: {info.process}")
    assert info.status == "running"


def test_a_copy_that_no_longer_verifies_is_not_started(scenario: Scenario) -> None:
    primary_only(scenario.source)
    from odooplane.mailcatcher import ensure_catcher
    from odooplane.neutralize import neutralize_database

    db = _db(scenario, "staging")
    with scenario.server.connect(db) as conn:
        conn.execute("UPDATE ir_cron SET active = true WHERE cron_name = 'Addon B: mark'")
    refused = scenario.cli("env", "restart", "staging")
    assert refused.returncode == 1
    assert "is not started: its database is not neutralized" in refused.stderr
    info = envs.status(scenario.project, "staging")
    assert info.status == "refused"
    assert info.neutralization["status"] == "failed"
    assert info.process.state != "RUNNING"
    # Neutralized again, it verifies and starts.
    neutralize_database(
        scenario.server,
        db,
        project=scenario.project,
        environment="staging",
        odoo_source_path=None,
        catcher=ensure_catcher(scenario.project.state_dir, "staging"),
        base_url=info.url,
    )
    started = envs.start(scenario.project, "staging")
    assert started.status == "running"
    assert envs.status(scenario.project, "staging").neutralization["status"] == "verified"


def test_bad_input_gets_a_sentence(scenario: Scenario) -> None:
    primary_only(scenario.source)
    unknown = scenario.cli("env", "status", "nowhere")
    assert unknown.returncode == 1
    assert "No environment named 'nowhere'" in unknown.stderr
    assert "Traceback" not in unknown.stderr

    missing_ref = scenario.cli("env", "deploy", "staging", "no-such-branch")
    assert missing_ref.returncode == 1
    assert "'no-such-branch' is not a branch, tag or commit" in missing_ref.stderr

    # A port taken by another program (the internal port of the slot to start: the
    # environment's own address stays with the front door while it is stopped).
    envs.stop(scenario.project, "staging")
    info = envs.status(scenario.project, "staging")
    port = info.slots[info.slot]["http"]
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("0.0.0.0", port))
        squatter.listen()
        taken = scenario.cli("env", "start", "staging")
        assert taken.returncode == 1
        assert f"Port {port}" in taken.stderr and "already in use" in taken.stderr
    # A lock held by another command.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; "
            "from odooplane.environments.locks import environment_lock\n"
            "with environment_lock(Path(sys.argv[1]), 'staging', command='odooplane env "
            "deploy staging main'):\n    print('held', flush=True); time.sleep(60)",
            str(scenario.project.state_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        locked = scenario.cli("env", "start", "staging", "--wait", "1")
        assert locked.returncode == 1
        assert f"pid {holder.pid}" in locked.stderr
        assert "odooplane env deploy staging main" in locked.stderr
        with pytest.raises(LockedError, match="is busy"):
            envs.start(scenario.project, "staging", lock_timeout=0.5)
    finally:
        holder.kill()
        holder.wait()

    # A database dropped behind odooplane's back.
    dbs.drop_database(scenario.server, _db(scenario, "staging"), terminate=True)
    vanished = scenario.cli("env", "start", "staging")
    assert vanished.returncode == 1
    assert "does not exist on" in vanished.stderr and "any more" in vanished.stderr
    with pytest.raises(NotFoundError):
        envs.deploy(scenario.project, "staging", "main")
    with environment_lock(scenario.project.state_dir, "staging", timeout=1):
        pass  # nothing was left holding the lock


def test_destroy_removes_database_filestore_process_and_state(scenario: Scenario) -> None:
    project = scenario.project
    filestore = project.filestore_dir(_db(scenario, "production"))
    refused = scenario.cli("env", "destroy", "production", "--yes")
    assert refused.returncode == 1 and "--force" in refused.stderr
    result = scenario.cli("env", "destroy", "staging", "--yes", "--json")
    assert result.returncode == 0, result.stderr
    pid = envs.status(project, "production").process.pid
    data = envs.destroy(project, "production", force=True)
    assert data.status == "destroyed"
    for env in ("staging", "production"):
        assert not dbs.database_exists(scenario.server, _db(scenario, env))
        assert dbs.list_snapshots(scenario.server, _db(scenario, env)) == []
        assert envs.status(project, env).status == "absent"
        assert not (project.state_dir / "environments" / env).exists()
    assert not filestore.exists()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
    assert not SupervisorBackend(project.state_dir).is_running()
    listing = json.loads(scenario.cli("env", "list", "--json").stdout)
    assert {row["status"] for row in listing} == {"absent"}
