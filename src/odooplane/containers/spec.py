"""One container, described once: run by the Docker backend, written by the Compose export.

A :class:`ContainerSpec` says what an environment's container is (image, command,
mounts, published ports, network, labels); :meth:`ContainerSpec.run_args` turns it into
``docker create`` arguments and :meth:`ContainerSpec.compose_service` into a Compose
service. Both read the same fields, so a container started by odooplane and one started
by ``docker compose up`` from an export are the same container.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Mount:
    """A named volume or a host path, mounted at ``target``."""

    kind: Literal["volume", "bind"]
    source: str
    target: str
    read_only: bool = False

    def arg(self) -> str:
        text = f"type={self.kind},source={self.source},target={self.target}"
        return text + (",readonly" if self.read_only else "")

    def compose(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"type": self.kind, "source": self.source, "target": self.target}
        if self.read_only:
            entry["read_only"] = True
        return entry


@dataclass(frozen=True)
class Publish:
    """A container port published on the host (on loopback unless said otherwise)."""

    host_port: int
    container_port: int
    host_ip: str = LOOPBACK

    def arg(self) -> str:
        return f"{self.host_ip}:{self.host_port}:{self.container_port}"


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: str
    network: str
    command: Sequence[str] = ()
    mounts: Sequence[Mount] = ()
    publish: Sequence[Publish] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    aliases: Sequence[str] = ()
    stop_timeout: int = 30
    restart: str = "unless-stopped"
    memory: str | None = None

    def run_args(self, *, detached_service: bool = True) -> list[str]:
        """Arguments of ``docker create`` (or ``docker run``) for this container, without
        the verb. A one-off run (``detached_service=False``) has no restart policy and
        publishes nothing."""
        args = ["--name", self.name, "--network", self.network]
        for alias in self.aliases:
            args += ["--network-alias", alias]
        for key, value in sorted(self.labels.items()):
            args += ["--label", f"{key}={value}"]
        for mount in self.mounts:
            args += ["--mount", mount.arg()]
        for key in sorted(self.env):
            # The value comes from the environment of the docker command itself, so it
            # never appears on a command line (ps) or in odooplane's logs.
            args += ["--env", key]
        if detached_service:
            for port in self.publish:
                args += ["--publish", port.arg()]
            args += ["--restart", self.restart]
        args += ["--stop-timeout", str(self.stop_timeout)]
        if self.memory:
            args += ["--memory", self.memory]
        return [*args, self.image, *self.command]

    def compose_service(self) -> dict[str, Any]:
        service: dict[str, Any] = {"image": self.image, "container_name": self.name}
        if self.command:
            service["command"] = list(self.command)
        if self.env:
            service["environment"] = dict(sorted(self.env.items()))
        if self.mounts:
            service["volumes"] = [m.compose() for m in self.mounts]
        if self.publish:
            service["ports"] = [p.arg() for p in self.publish]
        if self.labels:
            service["labels"] = dict(sorted(self.labels.items()))
        service["networks"] = {
            self.network: {"aliases": list(self.aliases)} if self.aliases else {}
        }
        service["restart"] = self.restart
        service["stop_grace_period"] = f"{self.stop_timeout}s"
        if self.memory:
            service["mem_limit"] = self.memory
        return service
