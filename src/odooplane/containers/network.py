"""The project's Docker network, ``odooplane-<project>``: what its containers share.

Every container of a project joins it: the environments' Odoo containers, their one-off
commands, and the project's PostgreSQL container (``database.server: container``),
which they reach by its alias. Containers of other projects are on other networks. The
network's gateway is this machine as the containers see it (where the embedded cluster
and the mail catcher also listen, :mod:`odooplane.containers.hostnet`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from odooplane.containers.engine import Docker
from odooplane.containers.images import LABEL_PREFIX, slug
from odooplane.errors import ExternalToolError

if TYPE_CHECKING:
    from odooplane.project import Project


@dataclass(frozen=True)
class NetworkInfo:
    name: str
    gateway: str
    subnet: str


def network_name(project: Project) -> str:
    return f"odooplane-{slug(project.config.project)}"


def project_labels(project: Project) -> dict[str, str]:
    """The labels of everything odooplane makes in the engine for ``project``."""
    return {f"{LABEL_PREFIX}project": project.config.project, f"{LABEL_PREFIX}managed": "true"}


def ensure_network(project: Project, docker: Docker) -> NetworkInfo:
    """The project's network, created on first use."""
    name = network_name(project)
    info = docker.inspect("network", name)
    if info is None:
        args = ["network", "create", "--driver", "bridge"]
        for key, value in sorted(project_labels(project).items()):
            args += ["--label", f"{key}={value}"]
        docker.run([*args, name])
        info = docker.inspect("network", name)
    configs = ((info or {}).get("IPAM") or {}).get("Config") or []
    for config in configs:
        if config.get("Gateway") and config.get("Subnet"):
            return NetworkInfo(name, str(config["Gateway"]), str(config["Subnet"]))
    raise ExternalToolError(f"The Docker network {name} has no IPv4 subnet and gateway.")
