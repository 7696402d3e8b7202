"""The whole lifecycle on the Docker backend, with a real Odoo 17, a real Docker engine,
the project's own embedded PostgreSQL and git: the same lifecycle code as the local
backend, each environment a container of its build's image.

The steps build on one another, as an operator's day would: production created and
served, a change deployed, a broken deploy rolled back, staging copied from production,
neutralized and verified, its mail caught, cron-run, shell and logs, then both destroyed
leaving no container, volume or network behind.
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
from odooplane.backends.docker import DockerBackend, container_name, network_name
from odooplane.config import load_config
from odooplane.containers import images
from odooplane.containers.engine import Docker
from odooplane.environments import api as envs
from odooplane.environments.health import check_once
from odooplane.mailcatcher import list_messages, stop_catcher
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.source import OdooSource
from odooplane.postgres.cluster import EmbeddedCluster
from odooplane.project import Project

pytestmark = [pytest.mark.odoo, pytest.mark.docker, pytest.mark.slow]

FIELD_PY = """from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    shop_note = fields.Char()
"""
SEND_MAIL = """
server = env['ir.mail_server']
message = server.build_email(
    'shop@example.com', ['customer@example.org'], 'Hello from staging', 'body'
)
server.send_email(message)
print('MAIL SENT')
"""


@dataclass
class Scenario:
    project: Project
    repo: Path
    docker: Docker
    shas: dict[str, str] = field(default_factory=dict)

    def commit(self, label: str, message: str) -> str:
        run_git(self.repo, "add", "-A")
        run_git(self.repo, "commit", "-q", "-m", message)
        self.shas[label] = run_git(self.repo, "rev-parse", "HEAD")
        return self.shas[label]

    def rows(self, env: str, query: str) -> list[tuple[object, ...]]:
        server = EmbeddedCluster(self.project.state_dir).server()
        with server.connect(self.project.config.database_name(env)) as conn:
            return list(conn.execute(query).fetchall())

    def labelled(self, kind: str) -> list[str]:
        return self.docker.names(kind, {"org.odooplane.project": self.project.config.project})


@pytest.fixture(scope="module")
def scenario(
    tmp_path_factory: pytest.TempPathFactory,
    odoo_source: OdooSource,
    odoo_runtime: Runtime,
    docker_engine: Docker,
) -> Iterator[Scenario]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ODOOPLANE_CACHE_DIR", str(TEST_CACHE))
        patch.setenv("ODOOPLANE_LOCK_TIMEOUT", "120")
        repo = tmp_path_factory.mktemp("docker-lifecycle") / "project"
        repo.mkdir()
        run_git(repo, "init", "-q", "-b", "main")
        name = f"dock{uuid.uuid4().hex[:6]}"
        (repo / "odooplane.yaml").write_text(
            f"project: {name}\n"
            "odoo:\n"
            f"  series: '{odoo_source.series}'\n"
            f"  source: '{odoo_source.path}'\n"
            "environments:\n"
            "  production:\n"
            "    kind: production\n"
            "    backend: docker\n"
            "    env_file: production.env\n"
            "  staging:\n"
            "    kind: staging\n"
            "    backend: docker\n"
            "    data:\n"
            "      copy: production\n"
        )
        (repo / "production.env").write_text("PAYMENT_KEY=live-1234567890\n")
        (repo / ".gitignore").write_text(".odooplane/\n*.env\n")
        write_addon(repo / "addons", "shop_a")
        project = Project(root=repo, config=load_config(repo / "odooplane.yaml"))
        sc = Scenario(project=project, repo=repo, docker=docker_engine)
        sc.commit("initial", "shop_a")
        try:
            yield sc
        finally:
            for env in ("staging", "production"):
                try:
                    envs.destroy(project, env, force=True)
                except Exception as exc:  # teardown must go on
                    print(f"teardown of {env}: {exc}")
            DockerBackend(project).shutdown()
            stop_catcher(project.state_dir)
            EmbeddedCluster(project.state_dir).stop()


def test_production_is_a_container_of_its_build(scenario: Scenario) -> None:
    outcome = envs.create(scenario.project, "production")
    assert outcome.status == "running"
    info = envs.status(scenario.project, "production")
    assert info.health.checks == {"/web/health": 200, "/web/login": 200}
    container = scenario.docker.inspect("container", container_name(scenario.project, "production"))
    assert container is not None and container["State"]["Running"]
    labels = container["Config"]["Labels"]
    assert labels["org.odooplane.git-sha"] == scenario.shas["initial"]
    image = scenario.docker.image(container["Image"])
    assert image is not None
    assert image["Config"]["Labels"]["org.odooplane.git-sha"] == scenario.shas["initial"]
    # Odoo runs as the image's unprivileged user, under tini, on the project network,
    # published on loopback only.
    top = scenario.docker.run(
        ["exec", container_name(scenario.project, "production"), "id", "-u"]
    ).stdout.strip()
    assert top == str(images.ODOO_UID)
    ports = container["HostConfig"]["PortBindings"]
    assert {b["HostIp"] for binding in ports.values() for b in binding} == {"127.0.0.1"}
    assert network_name(scenario.project) in container["NetworkSettings"]["Networks"]
    # The env file reaches Odoo through a read-only mount, not the container's config.
    assert "live-1234567890" not in str(container["Config"].get("Env"))
    probe = scenario.docker.run(
        [
            "exec",
            container_name(scenario.project, "production"),
            "python",
            "-c",
            "import json; print(json.load(open('/run/odooplane/env.json'))['PAYMENT_KEY'])",
        ]
    ).stdout.strip()
    assert probe == "live-1234567890"
    installed = scenario.rows(
        "production", "SELECT state FROM ir_module_module WHERE name = 'shop_a'"
    )
    assert installed == [("installed",)]


def test_deploy_a_change_and_serve_it(scenario: Scenario) -> None:
    addon = scenario.repo / "addons" / "shop_a"
    (addon / "models").mkdir()
    (addon / "models" / "__init__.py").write_text("from . import partner\n")
    (addon / "models" / "partner.py").write_text(FIELD_PY)
    (addon / "__init__.py").write_text("from . import models\n")
    sha = scenario.commit("field", "shop_a: a note on partners")
    outcome = envs.deploy(scenario.project, "production", "main")
    assert outcome.status == "deployed"
    assert outcome.build and outcome.build["sha"] == sha
    assert outcome.plan and outcome.plan.update == ["shop_a"]
    assert outcome.snapshot
    columns = scenario.rows(
        "production",
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = 'res_partner' AND column_name = 'shop_note'",
    )
    assert columns == [("shop_note",)]
    port = envs.status(scenario.project, "production").http_port
    assert check_once(f"http://127.0.0.1:{port}").ok
    container = scenario.docker.inspect("container", container_name(scenario.project, "production"))
    assert container is not None
    assert container["Config"]["Labels"]["org.odooplane.git-sha"] == sha


def test_a_broken_deploy_rolls_back(scenario: Scenario) -> None:
    good = scenario.shas["field"]
    (scenario.repo / "addons" / "shop_a" / "__init__.py").write_text(
        "from . import models\nimport this_module_does_not_exist\n"
    )
    bad = scenario.commit("broken", "shop_a: import a module that is not there")
    with pytest.raises(envs.DeploymentFailed) as failure:
        envs.deploy(scenario.project, "production", bad)
    assert failure.value.result["status"] == "rolled_back"
    info = envs.status(scenario.project, "production")
    assert info.status == "running"
    assert info.build["sha"] == good
    assert info.health.checks == {"/web/health": 200, "/web/login": 200}
    run_git(scenario.repo, "revert", "--no-edit", bad)


def test_staging_is_a_neutralized_verified_copy_whose_mail_is_caught(
    scenario: Scenario,
) -> None:
    outcome = envs.create(scenario.project, "staging")
    assert outcome.status == "running"
    assert outcome.neutralization and outcome.neutralization["status"] == "verified"
    info = envs.status(scenario.project, "staging")
    assert info.health.checks == {"/web/health": 200, "/web/login": 200}
    assert scenario.rows(
        "staging",
        "SELECT count(*) FROM information_schema.columns "
        "WHERE table_name = 'res_partner' AND column_name = 'shop_note'",
    ) == [(1,)]
    # Odoo in a container of staging sends a mail: the catcher of this machine has it.
    command = envs.shell_command(scenario.project, "staging")
    sent = subprocess.run(
        command.argv,
        env=command.env,
        input=SEND_MAIL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "MAIL SENT" in sent.stdout, sent.stderr[-3000:]
    caught = list_messages(scenario.project.state_dir, "staging")
    assert [m.subject for m in caught] == ["Hello from staging"]
    assert caught[0].rcpt_tos == ["customer@example.org"]


def test_cron_run_and_logs_go_through_the_container(scenario: Scenario) -> None:
    result = envs.cron_run(scenario.project, "staging", "base.autovacuum_job")
    assert result.result.status == "ok"
    logs = subprocess.run(
        [
            sys.executable,
            "-m",
            "odooplane",
            "-C",
            str(scenario.repo),
            "env",
            "logs",
            "production",
            "-n",
            "50",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert logs.returncode == 0, logs.stderr
    assert "odoo" in logs.stdout.lower()


def test_destroy_leaves_no_container_volume_or_network(scenario: Scenario) -> None:
    for env in ("staging", "production"):
        data = envs.destroy(scenario.project, env, force=True)
        assert data.status == "destroyed"
    DockerBackend(scenario.project).shutdown()
    assert scenario.labelled("container") == []
    assert scenario.labelled("volume") == []
    assert scenario.labelled("network") == []
