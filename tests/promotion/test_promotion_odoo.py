"""Promotion and rollback with a real Odoo 17, real PostgreSQL, supervisord and git.

Production and staging (a neutralized copy) of a project with one addon, ``pr_app``,
which serves ``/pr_app/ping`` (a smoke path of the project). Ordered steps, as an
operator's day: promote is refused without gates, refused without approval, succeeds
with both; a rollback says what it sets aside and restores the previous build and data;
a release whose smoke check fails is rolled back by promote itself.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import TEST_CACHE, run_git, write_addon
from odooplane.backends.supervisor import SupervisorBackend
from odooplane.config import load_config
from odooplane.environments import api as envs
from odooplane.errors import CheckFailedError, RefusedError
from odooplane.evidence.api import EvidenceStore
from odooplane.gates.runner import run_gates
from odooplane.mailcatcher import stop_catcher
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.source import OdooSource
from odooplane.postgres import databases as dbs
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project
from odooplane.promotion.approval import ApprovalRequest, InteractiveApproval, NamedApproval
from odooplane.promotion.backups import list_backups
from odooplane.promotion.promote import promote
from odooplane.promotion.rollback import plan_rollback, rollback

pytestmark = [pytest.mark.odoo, pytest.mark.slow]

CONTROLLER = """from odoo import http


class Ping(http.Controller):
    @http.route("/pr_app/ping", auth="none", type="http")
    def ping(self):
        {body}
"""
FIELD = """from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    pr_app_note = fields.Char()
"""
TEST = """from odoo.tests.common import TransactionCase


class TestPrApp(TransactionCase):
    def test_partner(self):
        self.assertTrue(self.env["res.partner"].create({"name": "x"}))
"""


@dataclass
class Scenario:
    project: Project
    repo: Path
    server: DatabaseServer
    shas: dict[str, str] = field(default_factory=dict)

    def release(self, label: str, version: str, body: str, *, with_field: bool) -> str:
        files = {
            "__init__.py": "from . import controllers" + (", models" if with_field else "") + "\n",
            "controllers/__init__.py": "from . import ping\n",
            "controllers/ping.py": CONTROLLER.format(body=body),
            "tests/__init__.py": "from . import test_app\n",
            "tests/test_app.py": TEST,
        }
        if with_field:
            files["models/__init__.py"] = "from . import partner\n"
            files["models/partner.py"] = FIELD
        import shutil

        shutil.rmtree(self.repo / "addons" / "pr_app", ignore_errors=True)
        write_addon(self.repo / "addons", "pr_app", version=version, extra=files)
        run_git(self.repo, "add", "-A")
        run_git(self.repo, "commit", "-q", "-m", label)
        self.shas[label] = run_git(self.repo, "rev-parse", "HEAD")
        return self.shas[label]

    def rows(self, env: str, query: str) -> list[tuple[object, ...]]:
        with self.server.connect(self.project.config.database_name(env)) as conn:
            return list(conn.execute(query).fetchall())


@pytest.fixture(scope="module")
def scenario(
    tmp_path_factory: pytest.TempPathFactory,
    pg_server: DatabaseServer,
    odoo_source: OdooSource,
    odoo_runtime: Runtime,
) -> Iterator[Scenario]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ODOOPLANE_CACHE_DIR", str(TEST_CACHE))
        patch.setenv("ODOOPLANE_LOCK_TIMEOUT", "120")
        repo = tmp_path_factory.mktemp("promotion") / "project"
        repo.mkdir()
        run_git(repo, "init", "-q", "-b", "main")
        name = f"promt{uuid.uuid4().hex[:6]}"
        (repo / "odooplane.yaml").write_text(
            f"project: {name}\n"
            "odoo:\n"
            f"  series: '{odoo_source.series}'\n"
            f"  source: '{odoo_source.path}'\n"
            "database:\n"
            f"  server: '{pg_server.url(redact=False)}'\n"
            "environments:\n"
            "  production:\n"
            "    kind: production\n"
            "  staging:\n"
            "    kind: staging\n"
            "    data: {copy: production}\n"
            "gates:\n"
            "  required: [tests]\n"
            "promotion:\n"
            "  smoke_paths: [/pr_app/ping]\n"
            "  forbid_self_approval: true\n"
        )
        (repo / ".gitignore").write_text(".odooplane/\nweb/\n")
        project = Project(root=repo, config=load_config(repo / "odooplane.yaml"))
        sc = Scenario(project=project, repo=repo, server=pg_server)
        sc.release("v1", "17.0.1.0.0", 'return "pong"', with_field=False)
        try:
            envs.create(project, "production")
            envs.create(project, "staging")
            yield sc
        finally:
            for env in ("staging", "production"):
                try:
                    envs.destroy(project, env, force=True)
                except Exception as exc:  # teardown must go on
                    print(f"teardown of {env}: {exc}")
            SupervisorBackend(project.state_dir).shutdown()
            stop_catcher(project.state_dir)
            for db in dbs.list_databases(pg_server):
                if db.name.startswith(name):
                    dbs.drop_database(pg_server, db.name, terminate=True, missing_ok=True)


def test_promote_refused_without_gates_then_without_approval(scenario: Scenario) -> None:
    sha = scenario.release("v2", "17.0.1.1.0", 'return "pong"', with_field=True)
    envs.deploy(scenario.project, "staging", sha)
    with pytest.raises(RefusedError, match="gate 'tests' was never run on this build"):
        promote(scenario.project, approval=NamedApproval("bob"))
    with pytest.raises(RefusedError, match="is not deployed on 'staging'"):
        promote(scenario.project, approval=NamedApproval("bob"), sha=scenario.shas["v1"])
    report = run_gates(
        scenario.project, ["tests"], ref=sha, base=scenario.shas["v1"], environment="staging"
    )
    assert report.ok, report.to_dict()
    asked: list[ApprovalRequest] = []

    def decline(request: ApprovalRequest) -> bool:
        asked.append(request)
        return False

    with pytest.raises(RefusedError, match="was not approved"):
        promote(scenario.project, approval=InteractiveApproval(decline, name="bob"))
    assert asked and asked[0].update == ["pr_app"] and "tests" in asked[0].gates
    # The author of the commit may not approve it (promotion.forbid_self_approval).
    with pytest.raises(RefusedError, match="may not approve its own promotion"):
        promote(scenario.project, approval=NamedApproval("author@example.com"))
    assert scenario.rows(
        "production", "SELECT latest_version FROM ir_module_module WHERE name = 'pr_app'"
    ) == [("17.0.1.0.0",)]


def test_promote_with_gates_and_approval(scenario: Scenario) -> None:
    result = promote(scenario.project, approval=NamedApproval("bob"))
    assert result.status == "promoted", result
    assert result.update == ["pr_app"] and result.backup is not None
    assert result.snapshot and result.snapshot.startswith("pre-")
    assert result.smoke == {"/web/health": 200, "/pr_app/ping": 200}
    assert scenario.rows(
        "production", "SELECT latest_version FROM ir_module_module WHERE name = 'pr_app'"
    ) == [("17.0.1.1.0",)]
    assert [b.kind for b in list_backups(scenario.project, "production")] == ["update"]
    with EvidenceStore.open(scenario.project) as store:
        record = store.deployment(result.promotion_id or "")
    assert record.summary.kind == "promote" and record.summary.outcome == "succeeded"
    assert record.summary.approved_by == "bob (named)"
    promotion = record.result["promotion"]
    assert promotion["gates"]["tests"]["status"] == "passed"
    assert promotion["backup"]["name"] == result.backup["name"]
    assert promotion["snapshot"] == result.snapshot


def test_rollback_says_what_it_sets_aside_and_restores_build_and_data(
    scenario: Scenario,
) -> None:
    production = scenario.project.config.database_name("production")
    with scenario.server.connect(production) as conn:
        conn.execute(
            "INSERT INTO res_partner (name, active, create_date, write_date, pr_app_note) "
            "VALUES ('Written after the release', true, now() at time zone 'utc', "
            "now() at time zone 'utc', 'x')"
        )
    plan = plan_rollback(scenario.project, "production")
    assert plan.target_sha == scenario.shas["v1"] and plan.snapshot is not None
    assert plan.loss is not None and plan.loss.tables.get("res_partner", 0) >= 1
    with pytest.raises(RefusedError, match="res_partner"):
        rollback(scenario.project, "production")
    with pytest.raises(RefusedError, match="would run the old code on a database"):
        rollback(scenario.project, "production", code_only=True)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "odooplane",
            "-C",
            str(scenario.repo),
            "rollback",
            "production",
            "--force",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Rolled back" in done.stdout
    info = envs.status(scenario.project, "production")
    assert info.build["sha"] == scenario.shas["v1"]
    assert info.health.checks["/web/health"] == 200
    assert scenario.rows(
        "production", "SELECT latest_version FROM ir_module_module WHERE name = 'pr_app'"
    ) == [("17.0.1.0.0",)]
    assert scenario.rows(
        "production", "SELECT count(*) FROM res_partner WHERE name = 'Written after the release'"
    ) == [(0,)]
    kept = [
        s
        for s in dbs.list_snapshots(scenario.server, production)
        if s.name.startswith("rolledback-")
    ]
    assert len(kept) == 1
    with EvidenceStore.open(scenario.project) as store:
        latest = store.history("production", limit=1)[0]
    assert latest.kind == "rollback" and latest.outcome == "succeeded"
    assert latest.git_sha == scenario.shas["v1"] and latest.rollback_of is not None


def test_failing_smoke_check_rolls_back_by_itself(scenario: Scenario) -> None:
    sha = scenario.release("v3", "17.0.1.0.0", 'raise ValueError("broken ping")', with_field=False)
    envs.deploy(scenario.project, "staging", sha)
    report = run_gates(
        scenario.project, ["tests"], ref=sha, base=scenario.shas["v1"], environment="staging"
    )
    assert report.ok, report.to_dict()
    with pytest.raises(CheckFailedError, match="smoke check failed"):
        promote(scenario.project, approval=NamedApproval("bob"))
    info = envs.status(scenario.project, "production")
    assert info.build["sha"] == scenario.shas["v1"]
    with EvidenceStore.open(scenario.project) as store:
        history = store.history("production", limit=3)
    kinds = [(d.kind, d.outcome) for d in history]
    assert ("rollback", "succeeded") in kinds and ("promote", "rolled_back") in kinds
