"""The embedded cluster opened to the containers' network: it listens on the gateway
too and accepts that subnet with a password, once (a second call changes nothing)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from odooplane.config import ProjectConfig
from odooplane.containers.hostnet import HBA_MARK, hba_line, open_cluster_to
from odooplane.errors import ConfigError
from odooplane.postgres.cluster import EmbeddedCluster
from odooplane.postgres.project_server import server_for
from odooplane.project import Project


def test_hba_line_accepts_the_subnet_with_a_password_only() -> None:
    assert hba_line("172.18.0.0/16") == (f"host all all 172.18.0.0/16 scram-sha-256 {HBA_MARK}\n")


@pytest.fixture
def project() -> Iterator[Project]:
    # Outside pytest's 0700 tmp_path, which the cluster's system user cannot enter.
    base = Path(tempfile.mkdtemp(prefix="odooplane-test-hostnet-"))
    os.chmod(base, 0o711)
    project = Project(
        root=base,
        config=ProjectConfig(project="demo", odoo={"series": "17.0", "source": "/opt/odoo"}),
    )
    try:
        yield project
    finally:
        EmbeddedCluster(project.state_dir).destroy()
        shutil.rmtree(base, ignore_errors=True)


def test_bad_addresses_are_refused_before_anything_starts(project: Project) -> None:
    with pytest.raises(ConfigError, match=r"'172\.18\.0\.300' is not an IP address or subnet"):
        open_cluster_to(project, "172.18.0.300", "172.18.0.0/16")
    with pytest.raises(ConfigError, match="'docker0' is not an IP address"):
        open_cluster_to(project, "172.18.0.1", "docker0")
    assert not (project.state_dir / "pg").exists()


def test_the_cluster_listens_on_the_gateway_and_accepts_the_subnet(project: Project) -> None:
    # 127.0.0.2 stands in for a Docker bridge's gateway: another address of this machine.
    assert open_cluster_to(project, "127.0.0.2", "127.0.0.2/32") is True
    server = server_for(project)
    with server.connect() as conn:
        listen = str(conn.execute("SHOW listen_addresses").fetchone()[0])  # type: ignore[index]
        hba = Path(str(conn.execute("SHOW hba_file").fetchone()[0]))  # type: ignore[index]
    assert "127.0.0.2" in listen.split(",")
    assert hba.read_text().count(hba_line("127.0.0.2/32")) == 1
    via_gateway = replace(server, host="127.0.0.2")
    with via_gateway.connect() as conn:
        assert conn.execute("SELECT inet_server_addr()::text").fetchone() == ("127.0.0.2/32",)
    # Once is enough: no second restart, no second hba line.
    assert open_cluster_to(project, "127.0.0.2", "127.0.0.2/32") is False
    assert hba.read_text().count(hba_line("127.0.0.2/32")) == 1
