"""The gates with a real Odoo 17, real PostgreSQL and a real git repository.

One project with three addons: ``gt_base``, ``gt_child`` (depends on it) and
``gt_other`` (independent, with a test that always fails: if the tests gate ever ran
an untouched addon's tests, it would fail). Production's database has all three
installed. Each step commits a change to ``gt_base`` and runs gates against the first
commit, as a pull request would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import TEST_CACHE, run_git, write_addon
from odooplane.config import load_config
from odooplane.evidence.api import EvidenceStore
from odooplane.gates import render
from odooplane.gates.runner import run_gates
from odooplane.gates.verdicts import gate_verdicts, missing_gates
from odooplane.odoo.process import initialize_database
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.source import OdooSource
from odooplane.postgres import databases as dbs
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project

pytestmark = [pytest.mark.odoo, pytest.mark.slow]

PASSING_TEST = """from odoo.tests.common import TransactionCase


class TestGtBase(TransactionCase):
    def test_partner_created(self):
        partner = self.env["res.partner"].create({"name": "gate"})
        self.assertEqual(partner.name, "gate")
"""
FAILING_TEST = (
    PASSING_TEST
    + """
    def test_fails_on_purpose(self):
        self.assertEqual(1 + 1, 3, "arithmetic is broken")
"""
)
OTHER_TEST = """from odoo.tests.common import TransactionCase


class TestGtOther(TransactionCase):
    def test_never_run(self):
        self.fail("gt_other is untouched: its tests must not run")
"""
CHILD_TEST = """from odoo.tests.common import TransactionCase


class TestGtChild(TransactionCase):
    def test_child(self):
        self.assertTrue(self.env["ir.module.module"].search([("name", "=", "gt_base")]))
"""
UNSAFE_MODEL = """from odoo import http, models
from odoo.http import request


class ResPartner(models.Model):
    _inherit = "res.partner"

    def gt_find(self, value):
        self.env.cr.execute("SELECT id FROM res_partner WHERE name = '%s'" % value)
        return self.env.cr.fetchall()


class GtController(http.Controller):
    @http.route("/gt/eval", auth="public")
    def gt_eval(self, **kw):
        return str(eval(request.params.get("expr")))
"""
SAFE_MODEL = """from odoo import models


class ResPartner(models.Model):
    _inherit = "res.partner"

    def gt_find(self, value):
        self.env.cr.execute("SELECT id FROM res_partner WHERE name = %s", (value,))
        return self.env.cr.fetchall()
"""
MIGRATE_OK = """import logging

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    cr.execute("SELECT count(*) FROM res_partner")
    _logger.info("gt_base %s: %s partners", __name__, cr.fetchone()[0])
"""
MIGRATE_RAISES = """def migrate(cr, version):
    raise ValueError("this migration script is broken on purpose")
"""


@dataclass
class Scenario:
    project: Project
    repo: Path
    server: DatabaseServer
    shas: dict[str, str] = field(default_factory=dict)

    def base(self, version: str, files: dict[str, str]) -> None:
        write_addon(self.repo / "addons", "gt_base", version=version, extra=files)

    def commit(self, label: str) -> str:
        run_git(self.repo, "add", "-A")
        run_git(self.repo, "commit", "-q", "-m", label)
        self.shas[label] = run_git(self.repo, "rev-parse", "HEAD")
        return self.shas[label]

    def reset_base(self) -> None:
        import shutil

        shutil.rmtree(self.repo / "addons" / "gt_base")


@pytest.fixture(scope="module")
def scenario(
    tmp_path_factory: pytest.TempPathFactory,
    pg_server: DatabaseServer,
    odoo_source: OdooSource,
    odoo_runtime: Runtime,
) -> Iterator[Scenario]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ODOOPLANE_CACHE_DIR", str(TEST_CACHE))
        repo = tmp_path_factory.mktemp("gates") / "project"
        repo.mkdir()
        run_git(repo, "init", "-q", "-b", "main")
        name = f"gatet{uuid.uuid4().hex[:6]}"
        (repo / "odooplane.yaml").write_text(
            f"project: {name}\n"
            "odoo:\n"
            f"  series: '{odoo_source.series}'\n"
            f"  source: '{odoo_source.path}'\n"
            "  addons_paths: [addons]\n"
            "database:\n"
            f"  server: '{pg_server.url(redact=False)}'\n"
            "environments:\n"
            "  production:\n"
            "    kind: production\n"
            "  staging:\n"
            "    kind: staging\n"
            "    data: {copy: production}\n"
            "gates:\n"
            "  required: [tests, security, migration]\n"
        )
        (repo / ".gitignore").write_text(".odooplane/\n")
        addons = repo / "addons"
        write_addon(
            addons,
            "gt_base",
            # OCA's mandatory checks want the series in the version (manifest-version-format).
            version="17.0.1.0.0",
            extra={
                "tests/__init__.py": "from . import test_base\n",
                "tests/test_base.py": PASSING_TEST,
            },
        )
        write_addon(
            addons,
            "gt_child",
            version="17.0.1.0.0",
            depends=("gt_base",),
            extra={
                "tests/__init__.py": "from . import test_child\n",
                "tests/test_child.py": CHILD_TEST,
            },
        )
        write_addon(
            addons,
            "gt_other",
            version="17.0.1.0.0",
            extra={
                "tests/__init__.py": "from . import test_other\n",
                "tests/test_other.py": OTHER_TEST,
            },
        )
        project = Project(root=repo, config=load_config(repo / "odooplane.yaml"))
        scenario = Scenario(project=project, repo=repo, server=pg_server)
        scenario.commit("c1")
        production = project.config.database_name("production")
        initialize_database(
            project,
            odoo_source,
            odoo_runtime,
            pg_server,
            production,
            ["gt_base", "gt_child", "gt_other"],
            demo=False,
        )
        try:
            yield scenario
        finally:
            for db in dbs.list_databases(pg_server):
                if db.name.startswith((production, f"gate_{name}")) or db.name.startswith(
                    project.config.database_name("staging")
                ):
                    dbs.drop_database(pg_server, db.name, terminate=True, missing_ok=True)


def test_failing_test_and_planted_code_fail_their_gates(scenario: Scenario) -> None:
    scenario.reset_base()
    scenario.base(
        "17.0.1.0.0",
        {
            "__init__.py": "from . import models\n",
            "models/__init__.py": "from . import unsafe\n",
            "models/unsafe.py": UNSAFE_MODEL,
            "tests/__init__.py": "from . import test_base\n",
            "tests/test_base.py": FAILING_TEST,
        },
    )
    sha = scenario.commit("c2")
    report = run_gates(scenario.project, ["tests", "security"], ref=sha, base=scenario.shas["c1"])

    assert report.changes.changed == ["gt_base"]
    assert report.changes.dependents == ["gt_child"]
    tests = report.result("tests")
    assert tests is not None and tests.status == "failed", tests
    failed = [c for c in tests.cases if c.status == "failed"]
    assert [(c.classname, c.name) for c in failed] == [
        ("gt_base.TestGtBase", "test_fails_on_purpose")
    ]
    assert "arithmetic is broken" in (failed[0].details or "")
    assert "Traceback" in (failed[0].details or "")
    ran = {c.classname for c in tests.cases}
    assert "gt_child.TestGtChild" in ran and "gt_base.TestGtBase" in ran
    assert not any("gt_other" in c.classname for c in tests.cases)

    xml = ET.fromstring(render.junit(report))
    suite = next(s for s in xml.iter("testsuite") if s.get("name") == "tests")
    failing = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert [(c.get("classname"), c.get("name")) for c in failing] == [
        ("gt_base.TestGtBase", "test_fails_on_purpose")
    ]

    security = report.result("security")
    assert security is not None and security.status == "failed", security
    rules = {c.name.split()[0] for c in security.cases if c.status == "failed"}
    assert {"sql-injection", "eval-used"} <= rules, security.cases
    audit = [c for c in security.cases if c.classname == "pip-audit"]
    assert audit and all(c.status != "passed" or "audited" in (c.message or "") for c in audit)

    verdicts = gate_verdicts(scenario.project, sha)
    assert verdicts["tests"].status == "failed"
    assert verdicts["security"].status == "failed"
    assert (
        Path(scenario.repo / verdicts["tests"].artifact_path).exists()
        or Path(verdicts["tests"].artifact_path or "").exists()
    )


def test_clean_change_passes_and_migration_lists_scripts(scenario: Scenario) -> None:
    scenario.reset_base()
    scenario.base(
        "17.0.1.1.0",
        {
            "__init__.py": "from . import models\n",
            "models/__init__.py": "from . import safe\n",
            "models/safe.py": SAFE_MODEL,
            "tests/__init__.py": "from . import test_base\n",
            "tests/test_base.py": PASSING_TEST,
            "migrations/17.0.1.1.0/pre-migrate.py": MIGRATE_OK,
            "migrations/17.0.1.1.0/post-migrate.py": MIGRATE_OK,
        },
    )
    sha = scenario.commit("c3")
    report = run_gates(
        scenario.project, ["tests", "security", "migration"], ref=sha, base=scenario.shas["c1"]
    )
    tests = report.result("tests")
    assert tests is not None and tests.status == "passed", tests
    # Its dependencies are Odoo's own modules: cloned from the template cache, not
    # installed by a first odoo-bin run.
    template = tests.details["template"]
    assert {"base", "web"} <= set(template["modules"]) and template["demo"] is True
    names = {(c.classname, c.name) for c in tests.cases}
    assert ("gt_base.TestGtBase", "test_partner_created") in names
    assert ("gt_child.TestGtChild", "test_child") in names
    assert not any("gt_other" in c for c, _ in names)

    security = report.result("security")
    assert security is not None and security.status == "passed", security

    migration = report.result("migration")
    assert migration is not None and migration.status == "passed", migration
    modules = {m["module"]: m for m in migration.details["modules"]}
    base = modules["gt_base"]
    assert base["from_version"] == "17.0.1.0.0" and base["to_version"] == "17.0.1.1.0"
    assert any(s.startswith("pre 17.0.1.1.0") for s in base["scripts"]), base
    assert any(s.startswith("post 17.0.1.1.0") for s in base["scripts"]), base
    assert "while it served" in migration.details["source"]
    # The copy is gone, production untouched.
    leftovers = [d.name for d in dbs.list_databases(scenario.server) if "_migration_" in d.name]
    assert leftovers == []
    production = scenario.project.config.database_name("production")
    with scenario.server.connect(production) as conn:
        row = conn.execute(
            "SELECT latest_version FROM ir_module_module WHERE name = 'gt_base'"
        ).fetchone()
    assert row is not None and row[0] == "17.0.1.0.0"

    verdicts = gate_verdicts(scenario.project, sha)
    assert missing_gates(["tests", "security", "migration"], verdicts) == []
    assert missing_gates(["tests"], gate_verdicts(scenario.project, scenario.shas["c2"])) != []


def test_raising_migration_script_fails_the_gate_cli(scenario: Scenario, tmp_path: Path) -> None:
    scenario.reset_base()
    scenario.base(
        "17.0.1.2.0",
        {"migrations/17.0.1.2.0/pre-migrate.py": MIGRATE_RAISES},
    )
    sha = scenario.commit("c4")
    junit, summary = tmp_path / "gates.xml", tmp_path / "gates.md"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "odooplane",
            "-C",
            str(scenario.repo),
            "gate",
            "run",
            "migration",
            "--ref",
            sha,
            "--base",
            scenario.shas["c1"],
            "--json",
            "--junit",
            str(junit),
            "--markdown",
            str(summary),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    migration = data["results"][0]
    assert migration["status"] == "failed", migration
    assert "broken on purpose" in json.dumps(migration["cases"])
    assert "Gates did not pass" in done.stderr
    assert "migration" in summary.read_text() and "❌" in summary.read_text()
    xml = ET.fromstring(junit.read_text())
    assert any(c.find("failure") is not None for c in xml.iter("testcase"))
    with EvidenceStore.open(scenario.project) as store:
        runs = store.gate_runs(sha)
    assert [r.status for r in runs] == ["failed"]


def test_neutralization_gate_reads_staging(scenario: Scenario) -> None:
    from odooplane.mailcatcher import catcher_address
    from odooplane.neutralize import neutralize_database

    config = scenario.project.config
    staging = config.database_name("staging")
    production = config.database_name("production")
    dbs.clone_database(scenario.server, production, staging, terminate=True)
    neutralize_database(
        scenario.server,
        staging,
        project=scenario.project,
        environment="staging",
        odoo_source_path=None,
        catcher=catcher_address(scenario.project.state_dir, "staging"),
    )
    report = run_gates(
        scenario.project, ["neutralization"], ref=scenario.shas["c3"], base=scenario.shas["c1"]
    )
    result = report.result("neutralization")
    assert result is not None and result.status == "passed", result
    with scenario.server.connect(staging) as conn:
        conn.execute("UPDATE ir_cron SET active = true")
    report = run_gates(
        scenario.project, ["neutralization"], ref=scenario.shas["c3"], base=scenario.shas["c1"]
    )
    result = report.result("neutralization")
    assert result is not None and result.status == "failed", result
    assert "cron" in result.summary


def test_migration_copies_a_young_backup_then_a_young_snapshot(scenario: Scenario) -> None:
    from odooplane.promotion.backups import create_backup

    production = scenario.project.config.database_name("production")
    create_backup(scenario.project, "production", server=scenario.server)
    report = run_gates(
        scenario.project, ["migration"], ref=scenario.shas["c3"], base=scenario.shas["c1"]
    )
    result = report.result("migration")
    assert result is not None and result.status == "passed", result
    assert result.details["source"].startswith("backup "), result.details
    dbs.snapshot_database(scenario.server, production, name="gate-test", terminate=True)
    report = run_gates(
        scenario.project, ["migration"], ref=scenario.shas["c3"], base=scenario.shas["c1"]
    )
    result = report.result("migration")
    assert result is not None and result.status == "passed", result
    assert result.details["source"].startswith("snapshot gate-test"), result.details
