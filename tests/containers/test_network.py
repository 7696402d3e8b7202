"""The project's Docker network: its name and the labels of everything odooplane makes
for a project (creating it needs the engine: tests/backends/test_docker.py)."""

from __future__ import annotations

from pathlib import Path

from odooplane.config import ProjectConfig
from odooplane.containers.images import LABEL_PREFIX
from odooplane.containers.network import NetworkInfo, network_name, project_labels
from odooplane.project import Project


def _project(name: str) -> Project:
    config = ProjectConfig(project=name, odoo={"series": "17.0", "source": "/x"})
    return Project(root=Path("/srv") / name, config=config)


def test_one_network_per_project() -> None:
    assert network_name(_project("shop")) == "odooplane-shop"
    assert network_name(_project("shop_eu")) != network_name(_project("shop"))


def test_labels_say_which_project_and_that_odooplane_manages_it() -> None:
    assert project_labels(_project("shop")) == {
        f"{LABEL_PREFIX}project": "shop",
        f"{LABEL_PREFIX}managed": "true",
    }
    assert LABEL_PREFIX == "org.odooplane."


def test_network_info_is_plain_data() -> None:
    info = NetworkInfo("odooplane-shop", "172.18.0.1", "172.18.0.0/16")
    assert (info.name, info.gateway, info.subnet) == (
        "odooplane-shop",
        "172.18.0.1",
        "172.18.0.0/16",
    )
