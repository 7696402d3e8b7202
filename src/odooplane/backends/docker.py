"""The Docker backend: each environment is a container of its build's image.

The lifecycle is the local one, unchanged: it writes odoo.conf and hands over a
:class:`ProgramSpec` (and one-off commands) in terms of this machine's paths and ports.
This backend translates them at the boundary into the container's view:

- the image is the build's (:mod:`odooplane.containers.images`), built on first use;
- odoo.conf is rewritten for the inside (addons and data paths of the image, Odoo on
  ports 8069/8072 of all the container's interfaces, published on 127.0.0.1 at the
  ports the lifecycle chose) and mounted read-only, with the environment's variables
  (a JSON file read by the image's entrypoint, never the container's configuration);
- the filestore is a named volume bound to the environment's filestore folder on this
  machine, so snapshots, copies and rollbacks of the lifecycle work on it as they do
  for a local environment; sessions live in a volume of their own;
- Odoo's log is the environment's log file (mounted), so ``env logs`` and the lifecycle's
  log excerpts read the same file;
- containers join the project's network ``odooplane-<project>``; the embedded PostgreSQL
  cluster and the mail catcher, which listen on 127.0.0.1, are reached at the network's
  gateway address, where they also listen (PostgreSQL accepts there only the project's
  subnet, with a password); an external database server is reached as configured.

Each program of the lifecycle is a container: a slot ``<env>.<slot>`` is
``odooplane-<project>-<env>-<slot>`` (blue and green are two containers of the
environment, published at their own internal ports, behind the front door), the one
program of an environment from before slots ``odooplane-<project>-<env>``. What belongs
to the environment rather than to a slot is shared by both: the filestore and sessions
volumes (a switch between slots keeps people logged in) and the one-off commands.

One-off commands (database init, module update, neutralization, shell, cron-run) run
in a throw-away container of the same image, with the same mounts, on the same network.
Its client dying does not end a container: a one-off whose command was killed is ended
by :meth:`DockerBackend.discard` (recovery does it with the handle in the journal).
"""

from __future__ import annotations

import configparser
import contextlib
import hashlib
import io
import json
import os
import shutil
import sys
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from odooplane.backends.base import (
    OneOff,
    ProcessBackend,
    ProcessStatus,
    ProgramSpec,
    split_program,
)
from odooplane.containers import images
from odooplane.containers.database import ALIAS as DATABASE_ALIAS
from odooplane.containers.database import PORT as DATABASE_PORT
from odooplane.containers.engine import Docker
from odooplane.containers.network import NetworkInfo, ensure_network, network_name, project_labels
from odooplane.containers.spec import ContainerSpec, Mount, Publish
from odooplane.errors import ConfigError, NotFoundError
from odooplane.fsutil import write_atomic
from odooplane.progress import Progress, report

if TYPE_CHECKING:
    from odooplane.environments.builds import Build
    from odooplane.project import Project

LABEL = images.LABEL_PREFIX
LOG_IN_CONTAINER = "/var/log/odoo/odoo.log"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
# Variables of the local process environment that describe this machine, not the
# environment: the image has its own PATH, HOME and Python.
HOST_ONLY_VARIABLES = ("PATH", "HOME", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH", "LC_ALL")


def environment_prefix(project: Project, env: str) -> str:
    return f"odooplane-{images.slug(project.config.project)}-{images.slug(env)}"


def container_name(project: Project, program: str) -> str:
    """The container of a program: ``<env>.<slot>`` or ``<env>`` (see the module doc)."""
    env, slot = split_program(program)
    base = environment_prefix(project, env)
    return f"{base}-{images.slug(slot)}" if slot else base


def chown_tree(path: Path, uid: int = images.ODOO_UID) -> None:
    """Give ``path`` (recursively) to the image's unprivileged user; files copied by the
    lifecycle (snapshots, copies of production) arrive owned by whoever copied them."""
    if os.geteuid() != 0:
        return  # a rootless engine maps users itself
    os.lchown(path, uid, uid)
    for folder, dirs, files in os.walk(path):
        os.lchown(folder, uid, uid)
        for name in (*dirs, *files):
            os.lchown(os.path.join(folder, name), uid, uid)


class DockerBackend(ProcessBackend):
    kind: ClassVar[str] = "docker"

    def __init__(self, project: Project, docker: Docker | None = None) -> None:
        self.project = project
        self._docker = docker

    @property
    def docker(self) -> Docker:
        if self._docker is None:
            self._docker = Docker()
        return self._docker

    # -- names and labels -------------------------------------------------------------

    def _labels(self, env_name: str | None = None) -> dict[str, str]:
        labels = project_labels(self.project)
        if env_name is not None:
            labels[f"{LABEL}environment"] = env_name
        return labels

    def _program_labels(self, program: str) -> dict[str, str]:
        env, slot = split_program(program)
        labels = self._labels(env)
        if slot:
            labels[f"{LABEL}slot"] = slot
        return labels

    def _env_dir(self, env: str) -> Path:
        from odooplane.environments.state import StateStore

        return StateStore(self.project.state_dir).env_dir(env)

    def _container_dir(self, program: str) -> Path:
        """Where the files a container of ``program`` mounts are written:
        ``<env>/container/<slot>`` (``main`` for an environment's one program from
        before slots, ``run`` for its one-off commands)."""
        env, slot = split_program(program)
        root = self._env_dir(env) / "container"
        folder = root / (slot or "main")
        folder.mkdir(parents=True, exist_ok=True)
        # The files below are world-readable so the container's user can read them
        # through their mounts; these folders keep every other user of this machine out.
        for level in (root, folder):
            os.chmod(level, 0o700)
        return folder

    def volume_names(self, env: str) -> tuple[str, str]:
        """The filestore and sessions volumes of environment ``env``, shared by its
        slots and its one-off commands."""
        base = environment_prefix(self.project, env)
        return f"{base}-filestore", f"{base}-sessions"

    # -- the project's network ----------------------------------------------------------

    def network(self) -> NetworkInfo:
        """The project's network, created on first use."""
        return ensure_network(self.project, self.docker)

    # -- translating the local view ------------------------------------------------------

    def _build(self, sha: str | None) -> Build:
        from odooplane.environments.builds import require_build

        if not sha:
            raise ConfigError(
                "The Docker backend was given a program without its build.",
                hint="Deploy the environment: `odooplane env deploy NAME REF`.",
            )
        return require_build(self.project, sha)

    def image(self, b: Build) -> images.BuildImage:
        """The image of build ``b``, made on first use (a cache hit afterwards)."""
        config = self.project.config.docker
        return images.build_image(
            self.project,
            b,
            docker=self.docker,
            base_image=config.base_image,
            extra_packages=config.extra_packages,
        )

    def image_of(self, b: Build) -> str:
        return self.image(b).image_id

    def prepare_build(
        self, build: str, progress: Progress | None = None
    ) -> images.BuildImage | None:
        """The build's image, made now (before a deploy stops anything: a cold image
        takes minutes) or found."""
        b = self._build(build)
        report(progress, f"image of {b.short}...")
        return self.image(b)

    def _conf_path(self, argv: Sequence[str]) -> Path:
        return images.conf_of(argv)

    def translate_conf(
        self, text: str, b: Build, net: NetworkInfo, *, log_to_file: bool
    ) -> tuple[str, dict[str, Any]]:
        """odoo.conf for the inside of the container, and what the outside needs to know
        of it (ports to publish, the filestore folder, addresses to listen on)."""
        parser = configparser.ConfigParser(interpolation=None)
        parser.optionxform = str  # type: ignore[assignment, method-assign]
        parser.read_string(text)
        if not parser.has_section("options"):
            raise ConfigError("odoo.conf has no [options] section.")
        options = parser["options"]
        outside: dict[str, Any] = {"publish": [], "listen": []}
        for key, inner in (
            ("http_port", images.HTTP_PORT),
            ("gevent_port", images.GEVENT_PORT),
            ("longpolling_port", images.GEVENT_PORT),
        ):
            value = options.get(key, "").strip()
            if value.isdigit():
                outside["publish"].append(Publish(int(value), inner))
                options[key] = str(inner)
        options["http_interface"] = "0.0.0.0"
        data_dir = Path(options.get("data_dir", str(self.project.odoo_data_dir)))
        database = options.get("db_name", "").strip()
        outside["filestore"] = data_dir / "filestore" / database if database else None
        options["data_dir"] = str(images.DATA_DIR)
        paths = [p.strip() for p in options.get("addons_path", "").split(",") if p.strip()]
        options["addons_path"] = ",".join(str(images.container_path(b, p)) for p in paths)
        if options.get("db_host", "").strip() in LOOPBACK_NAMES:
            kind = self.project.config.database.kind
            if kind == "url":
                raise ConfigError(
                    f"database.server points at {options['db_host']}, which containers "
                    "cannot reach (it is their own loopback).",
                    hint="Name the database server by an address containers reach.",
                )
            if kind == "container":
                # The project's PostgreSQL container, by its name on the project network.
                options["db_host"], options["db_port"] = DATABASE_ALIAS, str(DATABASE_PORT)
            else:
                options["db_host"] = net.gateway
                outside["listen"].append("postgres")
        smtp = options.get("smtp_server", "").strip()
        if smtp in LOOPBACK_NAMES:
            options["smtp_server"] = net.gateway
            outside["listen"].append("mail")
        if log_to_file:
            options["logfile"] = LOG_IN_CONTAINER
        else:
            options.pop("logfile", None)
        out = io.StringIO()
        parser.write(out)
        header = "; Translated by odooplane's Docker backend from the environment's odoo.conf.\n"
        return header + out.getvalue(), outside

    def _reach_host_services(self, net: NetworkInfo, needs: Sequence[str]) -> None:
        if "postgres" in needs:
            from odooplane.containers.hostnet import open_cluster_to

            open_cluster_to(self.project, net.gateway, net.subnet)
        if "mail" in needs:
            from odooplane.mailcatcher import listen_also_on

            listen_also_on(self.project.state_dir, net.gateway)

    def _env_json(self, env: Mapping[str, str]) -> str:
        kept = {k: v for k, v in sorted(env.items()) if k not in HOST_ONLY_VARIABLES}
        return json.dumps(kept, indent=1) + "\n"

    def _prepare(
        self,
        program: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        b: Build,
        log_file: Path | None,
    ) -> tuple[ContainerSpec, dict[str, Any]]:
        """The container of ``program`` running ``argv``; Odoo logs to ``log_file``
        (mounted) or, without one (a one-off command: ``program`` is the environment's
        name), to its output."""
        env_name, _slot = split_program(program)
        net = self.network()
        conf_text = self._conf_path(argv).read_text(encoding="utf-8")
        inner_conf, outside = self.translate_conf(
            conf_text, b, net, log_to_file=log_file is not None
        )
        self._reach_host_services(net, outside["listen"])
        folder = self._container_dir(program if log_file is not None else f"{env_name}.run")
        write_atomic(folder / "odoo.conf", inner_conf, mode=0o644)
        write_atomic(folder / "env.json", self._env_json(env), mode=0o644)
        filestore_volume, sessions_volume = self.volume_names(env_name)
        if self.docker.inspect("volume", sessions_volume) is None:
            labels = [f"--label={k}={v}" for k, v in sorted(self._labels(env_name).items())]
            self.docker.run(["volume", "create", *labels, sessions_volume])
        mounts = [
            Mount("bind", str(folder / "odoo.conf"), str(images.CONF_PATH), True),
            Mount("bind", str(folder / "env.json"), str(images.ENV_FILE), True),
            Mount("volume", sessions_volume, f"{images.DATA_DIR}/sessions"),
        ]
        if log_file is not None:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            log_file.touch(exist_ok=True)
            chown_tree(log_file)
            mounts.append(Mount("bind", str(log_file), LOG_IN_CONTAINER))
        filestore: Path | None = outside["filestore"]
        if filestore is not None:
            filestore.mkdir(parents=True, exist_ok=True)
            chown_tree(filestore)
            self._bind_volume(env_name, filestore_volume, filestore)
            mounts.append(
                Mount("volume", filestore_volume, f"{images.DATA_DIR}/filestore/{filestore.name}")
            )
        spec = ContainerSpec(
            name=container_name(self.project, program),
            image=self.image_of(b),
            network=net.name,
            command=self._inner_argv(argv, b),
            mounts=mounts,
            publish=outside["publish"],
            labels={**self._program_labels(program), f"{LABEL}git-sha": b.sha},
            memory=self.project.config.docker.memory,
        )
        return spec, outside

    def _bind_volume(self, env_name: str, volume: str, folder: Path) -> None:
        """A named volume whose data is ``folder`` on this machine."""
        found = self.docker.inspect("volume", volume)
        device = ((found or {}).get("Options") or {}).get("device")
        if found is not None and device == str(folder):
            return
        if found is not None:
            self.docker.run(["volume", "rm", "--force", volume], check=False)
        args = ["volume", "create", "--driver", "local"]
        args += ["--opt", "type=none", "--opt", "o=bind", "--opt", f"device={folder}"]
        for key, value in sorted(self._labels(env_name).items()):
            args += ["--label", f"{key}={value}"]
        self.docker.run([*args, volume])

    def _inner_argv(self, argv: Sequence[str], b: Build) -> list[str]:
        return images.inner_argv(argv, b)

    # -- ProcessBackend -----------------------------------------------------------------

    def define(self, spec: ProgramSpec) -> None:
        b = self._build(spec.build)
        container, _outside = self._prepare(spec.name, spec.argv, spec.env, b, spec.log_file)
        container = ContainerSpec(
            **{
                **container.__dict__,
                "stop_timeout": spec.stop_wait_seconds,
                "labels": {**container.labels, f"{LABEL}log-file": str(spec.log_file)},
            }
        )
        # What the container reads at start counts too: a changed odoo.conf or variable
        # makes a new container, as a changed program makes supervisord restart it.
        conf = (self._container_dir(spec.name) / "odoo.conf").read_text(encoding="utf-8")
        digest = hashlib.sha256(
            json.dumps(
                [container.run_args(), self._env_json(spec.env), conf], sort_keys=True
            ).encode()
        ).hexdigest()[:16]
        current = self.docker.inspect("container", container.name)
        labels = ((current or {}).get("Config") or {}).get("Labels") or {}
        if current is not None and labels.get(f"{LABEL}spec") == digest:
            return
        if current is not None:
            self.docker.run(["rm", "--force", container.name])
        final = ContainerSpec(
            **{**container.__dict__, "labels": {**container.labels, f"{LABEL}spec": digest}}
        )
        self.docker.run(["create", *final.run_args()])

    def defined(self, name: str) -> bool:
        return self.docker.inspect("container", container_name(self.project, name)) is not None

    def start(self, name: str) -> None:
        if not self.defined(name):
            env, slot = split_program(name)
            which = f" for its {slot} slot" if slot else ""
            raise NotFoundError(f"Environment '{env}' has no container{which} to start.")
        self.docker.run(["start", container_name(self.project, name)])

    def stop(self, name: str) -> None:
        info = self.docker.inspect("container", container_name(self.project, name))
        if info is None or not (info.get("State") or {}).get("Running"):
            return
        timeout = int(((info.get("Config") or {}).get("StopTimeout")) or 30)
        self.docker.run(
            ["stop", "--time", str(timeout), container_name(self.project, name)],
            timeout=timeout + 60,
        )

    def status(self, name: str) -> ProcessStatus:
        if not self.docker.available():
            return ProcessStatus(name, "NOT_RUNNING", None, None, None, "the engine is down")
        info = self.docker.inspect("container", container_name(self.project, name))
        if info is None:
            return ProcessStatus(name, "ABSENT", None, None, None, "no container")
        state = info.get("State") or {}
        status = str(state.get("Status", ""))
        mapped = {
            "running": "RUNNING",
            "restarting": "BACKOFF",
            "paused": "STOPPED",
            "created": "STOPPED",
            "exited": "EXITED",
            "removing": "STOPPING",
            "dead": "FATAL",
        }.get(status, "FATAL")
        since = _timestamp(str(state.get("StartedAt") or ""))
        health = ((state.get("Health") or {}).get("Status")) or None
        description = f"container {info.get('Name', '').lstrip('/')} {status}"
        if health:
            description += f", {health}"
        return ProcessStatus(
            name,
            mapped,
            int(state["Pid"]) if state.get("Pid") else None,
            since,
            int(state["ExitCode"]) if mapped == "EXITED" else None,
            description,
            details={
                "container": info.get("Name", "").lstrip("/"),
                "image": info.get("Image"),
                "health": health,
            },
        )

    def remove(self, name: str) -> None:
        """Remove the container of program ``name``; the environment's volumes stay
        (its other slot uses them) until :meth:`forget_environment`."""
        self.docker.run(["rm", "--force", container_name(self.project, name)], check=False)
        env, slot = split_program(name)
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self._env_dir(env) / "container" / (slot or "main"))

    def forget_environment(self, env: str) -> None:
        """Remove every container of ``env`` left (a one-off whose client died included),
        its volumes (the filestore's data is a folder of this machine, which the
        lifecycle removes itself) and its mounted files."""
        for container in self.docker.names("container", self._labels(env)):
            self.docker.run(["rm", "--force", container], check=False)
        for volume in self.docker.names("volume", self._labels(env)):
            self.docker.run(["volume", "rm", "--force", volume], check=False)
        for volume in self.volume_names(env):
            self.docker.run(["volume", "rm", "--force", volume], check=False)
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self._env_dir(env) / "container")

    def programs(self) -> list[str]:
        """The programs whose container exists (one-off containers are not programs)."""
        if not self.docker.available():
            return []
        names = []
        for container in self.docker.names("container", self._labels()):
            info = self.docker.inspect("container", container) or {}
            labels = (info.get("Config") or {}).get("Labels") or {}
            env = labels.get(f"{LABEL}environment")
            if not env or labels.get(f"{LABEL}one-off"):
                continue
            slot = labels.get(f"{LABEL}slot")
            names.append(f"{env}.{slot}" if slot else str(env))
        return sorted(set(names))

    def shutdown(self) -> None:
        """Stop every container of the project; the network goes when none is left."""
        if not self.docker.available():
            return
        for name in self.programs():
            self.stop(name)
        if not self.docker.names("container", self._labels()):
            self.docker.run(["network", "rm", network_name(self.project)], check=False)

    def log_location(self, name: str) -> Path | None:
        info = self.docker.inspect("container", container_name(self.project, name))
        labels = ((info or {}).get("Config") or {}).get("Labels") or {}
        found = labels.get(f"{LABEL}log-file")
        return Path(found) if found else None

    def one_off(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        build: str,
        interactive: bool = False,
    ) -> OneOff:
        b = self._build(build)
        # Output goes to the terminal (or the lifecycle's log of the step), not to a file.
        spec, _outside = self._prepare(name, argv, env, b, None)
        once = f"{spec.name}-run-{uuid.uuid4().hex[:8]}"
        labels = {**spec.labels, f"{LABEL}one-off": "true"}
        inner = ContainerSpec(**{**spec.__dict__, "name": once, "labels": labels})
        # A terminal only when there is one: `env shell < script.py` must work too.
        tty = interactive and sys.stdin.isatty() and sys.stdout.isatty()
        flags = ["--rm", "--interactive"] + (["--tty"] if tty else [])
        docker_argv = [
            self.docker.binary,
            "run",
            *flags,
            *inner.run_args(detached_service=False),
        ]
        return OneOff(argv=docker_argv, env=self.docker.env(), handle=once)

    def reach_mail(self, state_dir: Path, host: str, port: int) -> tuple[str, int]:
        if host not in LOOPBACK_NAMES:
            return host, port
        from odooplane.mailcatcher import listen_also_on

        gateway = self.network().gateway
        listen_also_on(state_dir, gateway)
        return gateway, port

    def discard(self, handle: str | None) -> bool:
        """End one-off container ``handle``: its client (``docker run``) being killed
        does not end it, and it would go on updating a database recovery puts back."""
        if not handle:
            return False
        return self.docker.run(["rm", "--force", handle], check=False).returncode == 0


def _timestamp(text: str) -> float | None:
    if not text or text.startswith("0001-"):
        return None
    with contextlib.suppress(ValueError):
        # Docker writes nanoseconds; Python reads up to microseconds.
        head, _, rest = text.partition(".")
        zone = rest[rest.find("Z") :] if "Z" in rest else ""
        return datetime.fromisoformat(head + (zone.replace("Z", "+00:00") or "+00:00")).timestamp()
    return None
