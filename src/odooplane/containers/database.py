"""The project's PostgreSQL server in a container (``database.server: container``).

For shops that run everything in containers: instead of the embedded cluster (processes
of this machine) the project's databases live in one PostgreSQL container per project,
``odooplane-<project>-postgres``, of the image ``odooplane/postgres:15``
(:mod:`odooplane.containers.postgres_image`, made from the base image on first use):

- its data is the named volume ``odooplane-<project>-pgdata``: stopping, upgrading the
  image or recreating the container keeps every database;
- it is reachable on the project's network only (``odooplane-<project>``, under the
  alias :data:`ALIAS`, port 5432), where the Docker backend's containers connect, and
  at a port published on 127.0.0.1 for odooplane itself (its database operations, its
  tools, a local environment); the port comes from the machine-wide registry and is
  kept for the project's life, like environments' ports;
- its superuser is ``odooplane`` (as in the embedded cluster: Odoo refuses to run as
  ``postgres``), with a generated password kept in ``<state>/pg-container`` (a 0700
  folder), mounted read-only into the container at its first start and never part of
  its configuration.

:class:`ContainerCluster` has the embedded cluster's verbs (start, stop, status,
destroy, server), so ``odooplane db server ...`` and every database operation work the
same on either.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import filelock

from odooplane.containers.engine import Docker
from odooplane.containers.images import LABEL_PREFIX
from odooplane.containers.network import ensure_network, network_name, project_labels
from odooplane.containers.postgres_image import DATA, ensure_postgres_image
from odooplane.containers.spec import ContainerSpec, Mount, Publish
from odooplane.errors import ExternalToolError, NotFoundError
from odooplane.fsutil import write_atomic
from odooplane.postgres.cluster import HOST, SUPERUSER, ClusterStatus
from odooplane.postgres.server import DatabaseServer

if TYPE_CHECKING:
    from odooplane.project import Project

# The name the Docker backend's containers reach the server by, on the project network.
ALIAS = "postgres"
PORT = 5432
SECRET_IN_CONTAINER = "/run/secrets/postgres-password"
# The port registry's entry: a name no environment can have.
PORT_OWNER = "_postgres"
START_TIMEOUT = 120.0


class ContainerCluster:
    """The PostgreSQL container of one project."""

    def __init__(self, project: Project, docker: Docker | None = None) -> None:
        self.project = project
        self._docker = docker
        self.dir = project.state_dir / "pg-container"

    @property
    def docker(self) -> Docker:
        if self._docker is None:
            self._docker = Docker()
        return self._docker

    @property
    def name(self) -> str:
        return f"{network_name(self.project)}-postgres"

    @property
    def volume(self) -> str:
        return f"{network_name(self.project)}-pgdata"

    @property
    def password_path(self) -> Path:
        return self.dir / "superuser.password"

    def _labels(self) -> dict[str, str]:
        return {**project_labels(self.project), f"{LABEL_PREFIX}service": "postgres"}

    # -- what it is ----------------------------------------------------------------------

    def _password(self, *, create: bool) -> str | None:
        try:
            return self.password_path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            if not create:
                return None
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        password = secrets.token_urlsafe(24)
        # Readable through its mount by the container's postgres user; the 0700 folder
        # keeps every other user of this machine out.
        write_atomic(self.password_path, password + "\n", mode=0o644)
        return password

    def _port(self) -> int:
        from odooplane.environments.ports import allocate_internal

        return allocate_internal(self.project.root, PORT_OWNER, ["postgres"])["postgres"]

    def _spec(self, image: str, port: int) -> ContainerSpec:
        return ContainerSpec(
            name=self.name,
            image=image,
            network=network_name(self.project),
            aliases=[ALIAS],
            mounts=[
                Mount("volume", self.volume, DATA),
                Mount("bind", str(self.password_path), SECRET_IN_CONTAINER, read_only=True),
            ],
            publish=[Publish(port, PORT)],
            labels={**self._labels(), f"{LABEL_PREFIX}image": image},
            # Names, not secrets: the password is the mounted file.
            env={"POSTGRES_USER": SUPERUSER, "POSTGRES_PASSWORD_FILE": SECRET_IN_CONTAINER},
            stop_timeout=60,
        )

    def _inspect(self) -> dict[str, Any] | None:
        return self.docker.inspect("container", self.name)

    def server(self, *, port: int | None = None) -> DatabaseServer:
        """How odooplane reaches the server (127.0.0.1, the published port)."""
        from odooplane.postgres.binaries import CLIENT_TOOLS, find_binaries

        password = self._password(create=False)
        if password is None:
            raise NotFoundError(
                f"{self.password_path} is missing: the PostgreSQL container of this project "
                "was never started, or its password is lost.",
                hint="Start it with `odooplane db server start`.",
            )
        config = self.project.config.database
        return DatabaseServer(
            host=HOST,
            port=port if port is not None else self._port(),
            user=SUPERUSER,
            password=password,
            bin_dir=find_binaries(config.postgres_bin, tools=CLIENT_TOOLS).bin_dir,
        )

    def status(self) -> ClusterStatus:
        """The container's state; never changes anything."""
        info = self._inspect()
        if info is None:
            return ClusterStatus(
                state="uninitialized",
                pg_dir=self.dir,
                notes=("No PostgreSQL container yet: `odooplane db server start` makes it.",),
            )
        state = info.get("State") or {}
        running = bool(state.get("Running"))
        port = self._port()
        accepting = False
        version: str | None = None
        if running and self._password(create=False) is not None:
            with contextlib.suppress(Exception):
                version = str(self.server(port=port).server_version())
                accepting = True
        health = ((state.get("Health") or {}).get("Status")) or None
        notes = [f"container {self.name}, data in volume {self.volume}"]
        if health:
            notes.append(f"health: {health}")
        return ClusterStatus(
            state="running" if running else "stopped",
            pg_dir=self.dir,
            port=port,
            pid=int(state["Pid"]) if running and state.get("Pid") else None,
            accepting=accepting,
            version=version,
            os_user="postgres (in the container)",
            notes=tuple(notes),
        )

    # -- start / stop --------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> ClusterStatus:
        """Make (first time) and start the container, and wait until it accepts logins;
        running it again changes nothing. A container made from an older image is made
        again (on the same data volume) when it is started."""
        current = self.status()
        if current.running and current.accepting:
            return current
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        with filelock.FileLock(str(self.dir / "start.lock"), timeout=timeout):
            config = self.project.config.docker
            image_tag = ensure_postgres_image(self.docker, config.base_image)
            image_id = str((self.docker.image(image_tag) or {}).get("Id") or image_tag)
            ensure_network(self.project, self.docker)
            self._password(create=True)
            port = self._port()
            spec = self._spec(image_id, port)
            info = self._inspect()
            labels = ((info or {}).get("Config") or {}).get("Labels") or {}
            bindings = ((info or {}).get("HostConfig") or {}).get("PortBindings") or {}
            published = {int(b["HostPort"]) for binding in bindings.values() for b in binding or []}
            if info is not None and (
                labels.get(f"{LABEL_PREFIX}image") != image_id or published != {port}
            ):
                # A new image (or port): a new container on the same data volume.
                self.docker.run(["stop", "--time", "60", self.name], timeout=120, check=False)
                self.docker.run(["rm", "--force", self.name])
                info = None
            if info is None:
                if self.docker.inspect("volume", self.volume) is None:
                    args = ["volume", "create"]
                    for key, value in sorted(self._labels().items()):
                        args += ["--label", f"{key}={value}"]
                    self.docker.run([*args, self.volume])
                self.docker.run(["create", *spec.run_args()], env=spec.env)
            if not ((info or {}).get("State") or {}).get("Running"):
                self.docker.run(["start", self.name])
            self._wait(port, timeout)
        return self.status()

    def _wait(self, port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            info = self._inspect() or {}
            state = info.get("State") or {}
            if not state.get("Running") and state.get("Status") in ("exited", "dead"):
                logs = self.docker.run(["logs", "--tail", "20", self.name], check=False)
                raise ExternalToolError(
                    f"The PostgreSQL container {self.name} stopped "
                    f"(exit code {state.get('ExitCode')}): "
                    f"{(logs.stderr or logs.stdout).strip()[-1500:]}",
                    hint=f"`docker logs {self.name}` shows why.",
                )
            try:
                self.server(port=port).server_version()
                return
            except Exception as exc:  # not accepting yet: initdb runs on the first start
                last = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            time.sleep(0.5)
        raise ExternalToolError(
            f"The PostgreSQL container {self.name} did not accept logins within "
            f"{timeout:.0f} s: {last}",
            hint=f"`docker logs {self.name}` shows why.",
        )

    def stop(self) -> ClusterStatus:
        """Stop the container (PostgreSQL shuts down cleanly; nothing is lost)."""
        if self._inspect() is not None:
            self.docker.run(["stop", "--time", "60", self.name], timeout=120)
        return self.status()

    def destroy(self) -> None:
        """Remove the container, its data volume (every database in it) and password."""
        from odooplane.environments.ports import release

        self.docker.run(["rm", "--force", self.name], check=False)
        self.docker.run(["volume", "rm", "--force", self.volume], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
        release(self.project.root, PORT_OWNER)
