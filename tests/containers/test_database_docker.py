"""The project's PostgreSQL container (``database.server: container``) on a real Docker
engine: made on first use, its data on a named volume that outlives the container,
reachable on the project network by its alias and on 127.0.0.1 only from this machine;
then an environment of the Docker backend, with a real Odoo 17, on it."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import TEST_CACHE, run_git, write_addon
from odooplane.backends.docker import DockerBackend
from odooplane.backends.supervisor import SupervisorBackend
from odooplane.config import load_config
from odooplane.containers.database import ALIAS, ContainerCluster
from odooplane.containers.engine import Docker
from odooplane.containers.network import network_name
from odooplane.containers.postgres_image import DATA, postgres_tag
from odooplane.environments import api as envs
from odooplane.errors import RefusedError
from odooplane.mailcatcher import stop_catcher
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.source import OdooSource
from odooplane.postgres import databases as dbs
from odooplane.postgres.project_server import server_for
from odooplane.project import Project
from odooplane.routing import router_for

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@dataclass
class Setup:
    project: Project
    repo: Path
    docker: Docker
    cluster: ContainerCluster

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "odooplane", "-C", str(self.repo), *args],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def container(self) -> dict[str, Any]:
        found = self.docker.inspect("container", self.cluster.name)
        assert found is not None
        return found

    def reach(self, *network: str) -> int:
        """pg_isready against the alias, from a throw-away container (on ``network``)."""
        return self.docker.run(
            [
                "run",
                "--rm",
                *network,
                # The image's entrypoint would start a server.
                "--entrypoint",
                "pg_isready",
                postgres_tag(),
                "-t",
                "5",
                "-h",
                ALIAS,
            ],
            check=False,
            timeout=120,
        ).returncode


@pytest.fixture(scope="module")
def setup(
    tmp_path_factory: pytest.TempPathFactory,
    odoo_source: OdooSource,
    docker_engine: Docker,
) -> Iterator[Setup]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ODOOPLANE_CACHE_DIR", str(TEST_CACHE))
        patch.setenv("ODOOPLANE_LOCK_TIMEOUT", "120")
        repo = tmp_path_factory.mktemp("pg-container") / "project"
        repo.mkdir()
        run_git(repo, "init", "-q", "-b", "main")
        (repo / "odooplane.yaml").write_text(
            f"project: pgc{uuid.uuid4().hex[:6]}\n"
            "odoo:\n"
            f"  series: '{odoo_source.series}'\n"
            f"  source: '{odoo_source.path}'\n"
            "database:\n"
            "  server: container\n"
            "environments:\n"
            "  production:\n"
            "    kind: production\n"
            "    backend: docker\n"
        )
        (repo / ".gitignore").write_text(".odooplane/\n")
        write_addon(repo / "addons", "shop_a")
        run_git(repo, "add", "-A")
        run_git(repo, "commit", "-q", "-m", "shop_a")
        project = Project(root=repo, config=load_config(repo / "odooplane.yaml"))
        cluster = ContainerCluster(project, docker_engine)
        try:
            yield Setup(project, repo, docker_engine, cluster)
        finally:
            try:
                envs.destroy(project, "production", force=True)
            except Exception as exc:  # teardown must go on
                print(f"teardown of production: {exc}")
            cluster.destroy()
            DockerBackend(project).shutdown()
            router_for(project).stop()
            SupervisorBackend(project.state_dir).shutdown()
            stop_catcher(project.state_dir)


def test_the_server_is_a_container_of_the_project(setup: Setup) -> None:
    server = server_for(setup.project)  # made and started on first use
    status = setup.cluster.status()
    assert status.running and status.accepting and status.port == server.port
    assert server.user == "odooplane" and server.host == "127.0.0.1"
    assert server.server_version() >= 150000
    container = setup.container()
    # On the project network only, by its alias; published on loopback only.
    networks = container["NetworkSettings"]["Networks"]
    assert list(networks) == [network_name(setup.project)]
    assert ALIAS in networks[network_name(setup.project)]["Aliases"]
    bindings = container["HostConfig"]["PortBindings"]
    assert [(b["HostIp"], int(b["HostPort"])) for v in bindings.values() for b in v] == [
        ("127.0.0.1", server.port)
    ]
    volumes = [m for m in container["Mounts"] if m["Type"] == "volume"]
    assert [(m["Name"], m["Destination"]) for m in volumes] == [(setup.cluster.volume, DATA)]
    # The superuser's password is a mounted file, not the container's configuration.
    assert server.password and server.password not in json.dumps(container)
    assert setup.cluster.password_path.stat().st_mode & 0o777 == 0o644
    assert setup.cluster.dir.stat().st_mode & 0o777 == 0o700
    # Reached by its alias from the project network, not from another network.
    assert setup.reach("--network", network_name(setup.project)) == 0
    assert setup.reach() != 0
    # No embedded cluster was made.
    assert not (setup.project.state_dir / "pg").exists()


def test_its_data_outlives_a_stop_and_a_new_container(setup: Setup) -> None:
    server = server_for(setup.project)
    dbs.create_database(server, "kept_db")
    stopped = setup.cli("db", "server", "stop", "--json")
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(stopped.stdout)["state"] == "stopped"
    with pytest.raises(RefusedError, match="PostgreSQL container of this project is stopped"):
        server_for(setup.project, start=False)
    status = setup.cli("db", "server", "status", "--json")
    assert status.returncode == 1 and json.loads(status.stdout)["kind"] == "container"
    # A new container (an upgraded image would make one) on the same data volume.
    setup.docker.run(["rm", "--force", setup.cluster.name])
    started = setup.cli("db", "server", "start", "--json")
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["accepting"] is True
    names = {d.name for d in dbs.list_databases(server_for(setup.project))}
    assert "kept_db" in names
    dbs.drop_database(server_for(setup.project), "kept_db")


@pytest.mark.odoo
def test_an_environment_of_the_docker_backend_runs_on_it(
    setup: Setup, odoo_runtime: Runtime
) -> None:
    outcome = envs.create(setup.project, "production")
    assert outcome.status == "running"
    info = envs.status(setup.project, "production")
    assert info.health is not None and info.health.checks == {
        "/web/health": 200,
        "/web/login": 200,
    }
    database = setup.project.config.database_name("production")
    assert database in {d.name for d in dbs.list_databases(server_for(setup.project))}
    # Odoo's container reaches the server by its alias on the project network.
    conf = setup.project.state_dir / "environments" / "production" / "container" / "blue"
    text = (conf / "odoo.conf").read_text()
    assert f"db_host = {ALIAS}\n" in text and "db_port = 5432\n" in text
    done = envs.destroy(setup.project, "production", force=True)
    assert done.status == "destroyed"
    assert database not in {d.name for d in dbs.list_databases(server_for(setup.project))}
    # The project's server stays (as the embedded cluster would); its own command
    # removes it with its data.
    assert setup.container()["State"]["Running"]
    gone = setup.cli("db", "server", "destroy", "--force")
    assert gone.returncode == 0, gone.stderr
    assert setup.docker.inspect("container", setup.cluster.name) is None
    assert setup.docker.inspect("volume", setup.cluster.volume) is None
    assert not setup.cluster.dir.exists()
