"""The whole lifecycle on the Docker backend, with a real Odoo 17, a real Docker engine,
the project's own embedded PostgreSQL, Caddy as the front door, and git: the same
lifecycle code as the local backend, each slot of an environment a container of its
build's image.

The steps build on one another, as an operator's day would: production created and
served from its blue container; a code-only deploy switched to the green container and
a code-only rollback switched back, both without a failed request; a deploy that
updates modules behind the maintenance page; a broken deploy rolled back; a deploy
killed during its module update recovered by the keeper (the update's container ended,
the snapshot put back); a crashed Odoo restarted by the engine; staging copied from
production, neutralized and verified, its mail caught; cron-run, shell and logs; then
both destroyed leaving no container, volume, network or daemon behind.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from conftest import TEST_CACHE, run_git, write_addon
from odooplane.backends.docker import DockerBackend, container_name, network_name
from odooplane.backends.supervisor import SupervisorBackend
from odooplane.config import load_config
from odooplane.containers import images
from odooplane.containers.engine import Docker
from odooplane.environments import api as envs
from odooplane.environments.health import check_once
from odooplane.environments.state import Operation, StateStore
from odooplane.evidence.store import EvidenceStore
from odooplane.mailcatcher import list_messages, stop_catcher
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.source import OdooSource
from odooplane.postgres.cluster import EmbeddedCluster
from odooplane.project import Project
from odooplane.promotion.rollback import rollback
from odooplane.routing import router_for

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


HEALTHY = {"/web/health": 200, "/web/login": 200}


class Poller:
    """GET /web/login on a new connection every 50 ms, each answer sorted as ok (200),
    maintenance (503 with Retry-After) or a failure (anything else, refusals and
    resets included)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.answers: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def probe(self) -> str:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", "/web/login")
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                return "ok"
            if response.status == 503 and response.getheader("Retry-After"):
                return "maintenance"
            return f"HTTP {response.status}"
        except OSError as exc:
            return f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.answers.append(self.probe())
            self._stop.wait(0.05)

    @property
    def failures(self) -> list[str]:
        return [a for a in self.answers if a not in ("ok", "maintenance")]

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(15)


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

    def container(self, program: str) -> dict[str, Any]:
        found = self.docker.inspect("container", container_name(self.project, program))
        assert found is not None, f"no container for {program}"
        return found

    def serving(self, env: str) -> tuple[str, dict[str, Any]]:
        """The slot serving ``env`` and its container (which must run)."""
        info = envs.status(self.project, env)
        assert info.slot is not None
        container = self.container(f"{env}.{info.slot}")
        assert container["State"]["Running"], container["State"]
        return info.slot, container

    def port(self, env: str) -> int:
        port = envs.status(self.project, env).http_port
        assert port is not None
        return port

    def deployed_image(self, env: str) -> str | None:
        """The image the environment's latest deployment ran, as evidence has it."""
        with EvidenceStore.open(self.project) as store:
            [latest] = store.history(env, limit=1)
            assert latest.build_id is not None
            assert latest.image_id in [
                i.image_id for i in store.build_images(build_id=latest.build_id)
            ]
        return latest.image_id

    def cli(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "odooplane", "-C", str(self.repo), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


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
            router_for(project).stop()
            SupervisorBackend(project.state_dir).shutdown()
            stop_catcher(project.state_dir)
            EmbeddedCluster(project.state_dir).stop()


def test_production_is_a_container_of_its_build(scenario: Scenario) -> None:
    outcome = envs.create(scenario.project, "production")
    assert outcome.status == "running"
    info = envs.status(scenario.project, "production")
    assert info.health is not None and info.health.checks == HEALTHY
    assert info.slot == "blue"
    name = container_name(scenario.project, "production.blue")
    assert name == f"odooplane-{scenario.project.config.project}-production-blue"
    container = scenario.container("production.blue")
    assert container["State"]["Running"]
    labels = container["Config"]["Labels"]
    assert labels["org.odooplane.git-sha"] == scenario.shas["initial"]
    assert labels["org.odooplane.environment"] == "production"
    assert labels["org.odooplane.slot"] == "blue"
    image = scenario.docker.image(container["Image"])
    assert image is not None
    assert image["Config"]["Labels"]["org.odooplane.git-sha"] == scenario.shas["initial"]
    # The image is recorded with the build, and the deployment shows it.
    assert scenario.deployed_image("production") == container["Image"]
    # Odoo runs as the image's unprivileged user, under tini, on the project network,
    # published on loopback only, at the slot's internal port: people reach it through
    # the front door at the environment's own port.
    top = scenario.docker.run(["exec", name, "id", "-u"]).stdout.strip()
    assert top == str(images.ODOO_UID)
    ports = container["HostConfig"]["PortBindings"]
    assert {b["HostIp"] for binding in ports.values() for b in binding} == {"127.0.0.1"}
    published = {int(b["HostPort"]) for binding in ports.values() for b in binding}
    assert info.slots is not None and info.slots["blue"]["http"] in published
    assert info.http_port not in published
    assert check_once(f"http://127.0.0.1:{info.http_port}").ok
    assert network_name(scenario.project) in container["NetworkSettings"]["Networks"]
    # The env file reaches Odoo through a read-only mount, not the container's config.
    assert "live-1234567890" not in str(container["Config"].get("Env"))
    probe = scenario.docker.run(
        [
            "exec",
            name,
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
    # Mounted files live in the environment's folder, per slot: no folder named after
    # a program appears beside the environments.
    environments = scenario.project.state_dir / "environments"
    assert sorted(p.name for p in environments.iterdir()) == ["production"]


def _volumes(container: dict[str, Any]) -> set[str]:
    return {m["Name"] for m in container["Mounts"] if m["Type"] == "volume"}


def test_a_code_only_deploy_switches_containers_without_a_failed_request(
    scenario: Scenario,
) -> None:
    (scenario.repo / "README.md").write_text("The shop.\n")
    sha = scenario.commit("readme", "A readme: no addon changes")
    with Poller(scenario.port("production")) as poller:
        outcome = envs.deploy(scenario.project, "production", "main")
    assert outcome.status == "deployed"
    assert outcome.plan is not None and outcome.plan.empty
    assert outcome.snapshot is None
    assert "maintenance page" not in [s.name for s in outcome.steps]
    assert len(poller.answers) > 20
    assert poller.failures == [] and set(poller.answers) == {"ok"}, poller.answers
    slot, green = scenario.serving("production")
    assert slot == "green"
    assert green["Config"]["Labels"]["org.odooplane.git-sha"] == sha
    assert scenario.deployed_image("production") == green["Image"]
    blue = scenario.container("production.blue")
    assert not blue["State"]["Running"]
    # Both slots use the environment's volumes: a switch keeps sessions and files.
    shared = set(DockerBackend(scenario.project).volume_names("production"))
    assert _volumes(blue) == _volumes(green) == shared


def test_a_code_only_rollback_switches_back_without_a_failed_request(
    scenario: Scenario,
) -> None:
    with Poller(scenario.port("production")) as poller:
        done = rollback(scenario.project, "production", code_only=True)
    assert done.plan.target_sha == scenario.shas["initial"]
    assert poller.failures == [] and set(poller.answers) == {"ok"}, poller.answers
    slot, blue = scenario.serving("production")
    assert slot == "blue"
    assert blue["Config"]["Labels"]["org.odooplane.git-sha"] == scenario.shas["initial"]
    assert not scenario.container("production.green")["State"]["Running"]


def test_a_deploy_that_updates_modules_shows_the_maintenance_page(scenario: Scenario) -> None:
    addon = scenario.repo / "addons" / "shop_a"
    (addon / "models").mkdir()
    (addon / "models" / "__init__.py").write_text("from . import partner\n")
    (addon / "models" / "partner.py").write_text(FIELD_PY)
    (addon / "__init__.py").write_text("from . import models\n")
    sha = scenario.commit("field", "shop_a: a note on partners")
    with Poller(scenario.port("production")) as poller:
        outcome = envs.deploy(scenario.project, "production", "main")
    assert outcome.status == "deployed"
    assert outcome.build and outcome.build["sha"] == sha
    assert outcome.plan and outcome.plan.update == ["shop_a"]
    assert outcome.snapshot
    # Users got the maintenance page while modules changed, never a refused connection.
    assert poller.failures == [], poller.failures
    assert "maintenance" in poller.answers
    columns = scenario.rows(
        "production",
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = 'res_partner' AND column_name = 'shop_note'",
    )
    assert columns == [("shop_note",)]
    assert check_once(f"http://127.0.0.1:{scenario.port('production')}").ok
    slot, container = scenario.serving("production")
    assert slot == "green"
    assert container["Config"]["Labels"]["org.odooplane.git-sha"] == sha
    assert not scenario.container("production.blue")["State"]["Running"]


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
    assert info.build is not None and info.build["sha"] == good
    assert info.health is not None and info.health.checks == HEALTHY
    slot, container = scenario.serving("production")
    assert container["Config"]["Labels"]["org.odooplane.git-sha"] == good
    other = "blue" if slot == "green" else "green"
    assert not scenario.container(f"production.{other}")["State"]["Running"]
    run_git(scenario.repo, "revert", "--no-edit", bad)


def _wait_phase(store: StateStore, env: str, phase: str, timeout: float = 300) -> Operation:
    """The operation's journal once it is in ``phase`` with its child recorded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = store.load(env)
        op = state.operation if state else None
        if op is not None and op.phase == phase and op.child_handle:
            return op
        time.sleep(0.05)
    raise AssertionError(f"{env} never reached phase {phase} with a child")


def _wait_recovered(store: StateStore, env: str, timeout: float = 300) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        state = store.load(env)
        if state is not None and state.operation is None:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"the keeper did not recover {env} within {timeout} s")


def test_a_killed_deploy_is_recovered_by_the_keeper(scenario: Scenario) -> None:
    manifest = scenario.repo / "addons" / "shop_a" / "__manifest__.py"
    manifest.write_text(re.sub(r"'version': '[^']*'", "'version': '1.0.1'", manifest.read_text()))
    target = scenario.commit("bump", "shop_a: 1.0.1")
    store = StateStore(scenario.project.state_dir)
    before = store.load("production")
    assert before is not None and before.build is not None
    client = scenario.cli("env", "deploy", "production", target)
    op = _wait_phase(store, "production", "updating")
    handle = op.child_handle
    assert handle is not None
    # The update runs in a container of its own, which its client's death would not end.
    # The journal names it as `docker run` starts: the engine creates it a moment later.
    deadline = time.monotonic() + 60
    while scenario.docker.inspect("container", handle) is None:
        assert time.monotonic() < deadline, f"no container {handle}"
        time.sleep(0.1)
    os.kill(op.pid, signal.SIGKILL)
    client.wait()
    seconds = _wait_recovered(store, "production")
    print(f"recovered by the keeper {seconds:.1f} s after the kill")
    assert scenario.docker.inspect("container", handle) is None
    info = envs.status(scenario.project, "production")
    assert info.status == "running", info
    assert info.build is not None and info.build["sha"] == before.build
    assert info.health is not None and info.health.checks == HEALTHY
    last = info.last_deployment
    assert last is not None
    assert last["status"] == "interrupted" and last["decision"] == "rolled_back"
    assert any(f"ended the orphaned Odoo command {handle}" in a for a in last["actions"])
    assert any("put back snapshot" in a for a in last["actions"])
    assert scenario.rows(
        "production", "SELECT latest_version FROM ir_module_module WHERE name = 'shop_a'"
    ) == [("17.0.1.0.0",)]
    run_git(scenario.repo, "revert", "--no-edit", target)


def test_a_crashed_odoo_is_restarted_by_the_engine(scenario: Scenario) -> None:
    slot, container = scenario.serving("production")
    tini = psutil.Process(container["State"]["Pid"])
    odoo = tini.children()
    assert odoo, "Odoo runs under tini"
    os.kill(odoo[0].pid, signal.SIGKILL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        info = envs.status(scenario.project, "production")
        if (
            info.status == "running"
            and info.process is not None
            and info.process.pid not in (None, tini.pid)
            and info.health is not None
            and info.health.checks == HEALTHY
        ):
            break
        time.sleep(1)
    else:
        raise AssertionError(f"production did not come back after a crash: {info.process}")
    assert info.slot == slot
    assert scenario.container(f"production.{slot}")["RestartCount"] >= 1


def test_staging_is_a_neutralized_verified_copy_whose_mail_is_caught(
    scenario: Scenario,
) -> None:
    outcome = envs.create(scenario.project, "staging")
    assert outcome.status == "running"
    assert outcome.neutralization and outcome.neutralization["status"] == "verified"
    info = envs.status(scenario.project, "staging")
    assert info.health is not None and info.health.checks == HEALTHY
    scenario.serving("staging")
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


def test_destroy_leaves_no_container_volume_network_or_daemon(scenario: Scenario) -> None:
    for env in ("staging", "production"):
        data = envs.destroy(scenario.project, env, force=True)
        assert data.status == "destroyed"
        assert "process" in data.removed
    assert scenario.labelled("container") == []
    assert scenario.labelled("volume") == []
    assert scenario.labelled("network") == []
    # The project's daemons (the supervisord of the keeper, Caddy, the catcher) went
    # with its last environment, and nothing is left in the state folder's environments.
    assert not SupervisorBackend(scenario.project.state_dir).is_running()
    assert not router_for(scenario.project).admin.alive()
    environments = scenario.project.state_dir / "environments"
    assert not environments.exists() or list(environments.iterdir()) == []
