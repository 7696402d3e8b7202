"""One environment of a project, and what running it takes: odoo.conf, the process.

:class:`EnvContext` ties an environment's configuration to its state folder, its
database and its process; :func:`render_odoo_conf` and :func:`program_spec` produce
exactly what supervisord runs. Odoo's command lines and option spellings come from
:mod:`odooplane.odoo.series` (the one place that knows the series apart).
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odooplane.backends import ProcessBackend, ProgramSpec, backend_for
from odooplane.config import CopyPolicy, EnvironmentConfig, EnvironmentKind
from odooplane.envfile import read_env_file
from odooplane.environments.builds import Build, build_addons_path, runtime_of, source_of
from odooplane.environments.ports import PortPair
from odooplane.environments.state import EnvState, StateStore, now_iso
from odooplane.fsutil import read_json, write_atomic, write_json_atomic
from odooplane.odoo.series import DEMO_OPTION, for_series
from odooplane.postgres.project_server import server_for
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project

if TYPE_CHECKING:
    from odooplane.environments.zygotes import Zygote

# Options odooplane owns: an environment's odoo_options cannot move its database or
# data folder away from where odooplane looks for them.
OWNED_OPTIONS = ("db_name", "dbfilter", "data_dir", "list_db", "addons_path")
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class EnvContext:
    project: Project
    name: str
    config: EnvironmentConfig = field(init=False)
    _server: DatabaseServer | None = field(default=None, init=False, repr=False)
    _odoo_server: DatabaseServer | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.config = self.project.environment(self.name)

    @property
    def store(self) -> StateStore:
        return StateStore(self.project.state_dir)

    @property
    def backend(self) -> ProcessBackend:
        return backend_for(self.project, self.name)

    def load_state(self) -> EnvState | None:
        """The environment's state; when the state folder lost it but the backend keeps
        a record where the environment runs (a cluster), the state rebuilt from it."""
        state = self.store.load(self.name)
        if state is not None:
            return state
        record = self.backend.recorded_state(self.name)
        if not record:
            return None
        values = {"kind": self.kind.value, "database": self.database, **record}
        state = EnvState.from_dict({**values, "name": self.name, "operation": None})
        state.add_history(
            {
                "action": "adopt",
                "status": "recovered",
                "at": now_iso(),
                "note": f"state rebuilt from the record kept by the {self.backend.kind} backend",
                "build": state.build,
            }
        )
        self.store.save(state)
        return state

    @property
    def kind(self) -> EnvironmentKind:
        return self.config.kind

    @property
    def is_production(self) -> bool:
        return self.config.kind is EnvironmentKind.production

    @property
    def database(self) -> str:
        return self.project.config.database_name(self.name)

    @property
    def dir(self) -> Path:
        return self.store.env_dir(self.name)

    @property
    def conf_path(self) -> Path:
        return self.dir / "odoo.conf"

    @property
    def log_path(self) -> Path:
        return self.dir / "odoo.log"

    @property
    def filestore_root(self) -> Path:
        return self.project.odoo_data_dir / "filestore"

    @property
    def copy_source(self) -> str | None:
        data = self.config.data
        return data.copy_ if isinstance(data, CopyPolicy) else None

    @property
    def demo(self) -> bool:
        return self.config.data == "demo"

    @property
    def env_file_path(self) -> Path | None:
        if not self.config.env_file:
            return None
        path = Path(self.config.env_file).expanduser()
        return path if path.is_absolute() else self.project.root / path

    def env_values(self) -> dict[str, str]:
        path = self.env_file_path
        return read_env_file(path) if path is not None else {}

    def server(self) -> DatabaseServer:
        if self._server is None:
            self._server = server_for(self.project)
        return self._server

    def odoo_server(self, server: DatabaseServer | None = None) -> DatabaseServer:
        """The server as this environment's Odoo logs in to it: its own role, never
        odooplane's (:mod:`odooplane.environments.credentials`). Work inside the
        environment's database (neutralization, checksums) is done with it too, so a
        trigger planted in an imported dump never runs with more rights than Odoo has.
        Settled once per command."""
        if self._odoo_server is None:
            from odooplane.environments.credentials import odoo_server

            self._odoo_server = odoo_server(self, server or self.server())
        return self._odoo_server

    def url(self, ports: PortPair | None) -> str:
        if self.config.url:
            return self.config.url.rstrip("/")
        return f"http://localhost:{ports.http}" if ports else ""

    def local_url(self, ports: PortPair) -> str:
        return f"http://127.0.0.1:{ports.http}"

    def admin_password(self) -> str:
        """The environment's database-manager password, generated once, kept 0600."""
        path = self.dir / "secrets.json"
        data = read_json(path, default={}) or {}
        if not isinstance(data, dict) or not data.get("admin_passwd"):
            data = {"admin_passwd": secrets.token_urlsafe(24)}
            self.dir.mkdir(parents=True, exist_ok=True)
            write_json_atomic(path, data)
            os.chmod(path, 0o600)
        return str(data["admin_passwd"])


def conf_options(
    ctx: EnvContext,
    build: Build,
    ports: PortPair,
    server: DatabaseServer | None,
    *,
    catcher: tuple[str, int] | None,
) -> dict[str, Any]:
    """Every odoo.conf option of ``ctx`` running ``build`` (before series spelling).

    Without ``server`` no ``db_*`` option is written: Odoo then connects with the libpq
    variables of its process (PGHOST, PGUSER, PGPASSWORD...), as in a container whose
    credentials come from a secret.
    """
    options: dict[str, Any] = {
        **(server.odoo_options() if server is not None else {}),
        "admin_passwd": ctx.admin_password(),
        # Behind the front door: reachable from this machine only, unless odoo_options
        # says otherwise (config check warns about 0.0.0.0).
        "http_interface": "127.0.0.1",
        "http_port": ports.http,
        "gevent_port": ports.gevent,
        "workers": ctx.config.workers,
        DEMO_OPTION: ctx.demo,
        "log_level": "info",
    }
    # Always behind the front door (Caddy): trust its X-Forwarded-* headers (client
    # address, scheme and host), which only Caddy can send to the internal ports.
    options["proxy_mode"] = True
    if ctx.config.neutralized:
        # Scheduled actions of a neutralized copy run only when triggered by hand.
        options["max_cron_threads"] = 0
    options.update(ctx.config.odoo_options)
    if catcher is not None:
        # Mail of a neutralized environment goes to the catcher, whatever was configured.
        host, port = catcher
        options.update(
            {
                "smtp_server": host,
                "smtp_port": port,
                "smtp_ssl": False,
                "smtp_user": False,
                "smtp_password": False,
            }
        )
    options.update(
        {
            # The environment's own address (http_port of odoo_options) is the front
            # door's; Odoo listens on the internal ports it is given.
            "http_port": ports.http,
            "gevent_port": ports.gevent,
            "db_name": ctx.database,
            "dbfilter": f"^{re.escape(ctx.database)}$",
            "list_db": False,
            "data_dir": ctx.project.odoo_data_dir,
            "addons_path": [str(p) for p in build_addons_path(ctx.project, build)],
        }
    )
    return options


def render_odoo_conf(
    ctx: EnvContext,
    build: Build,
    ports: PortPair,
    server: DatabaseServer,
    *,
    catcher: tuple[str, int] | None,
) -> str:
    profile = for_series(build.odoo_series)
    header = (
        f"; Written by odooplane for environment '{ctx.name}' (build {build.short}).\n"
        "; Change odooplane.yaml or the environment's env file, not this file.\n"
    )
    return header + profile.render_conf(conf_options(ctx, build, ports, server, catcher=catcher))


def write_odoo_conf(
    ctx: EnvContext,
    build: Build,
    ports: PortPair,
    server: DatabaseServer,
    *,
    catcher: tuple[str, int] | None,
    path: Path | None = None,
) -> Path:
    """Write ``odoo.conf`` (what commands run with: install, update, shell, cron-run), or
    the configuration of a serving slot at ``path``."""
    target = path or ctx.conf_path
    ctx.dir.mkdir(parents=True, exist_ok=True)
    login = ctx.odoo_server(server)
    write_atomic(target, render_odoo_conf(ctx, build, ports, login, catcher=catcher), mode=0o600)
    return target


def process_env(ctx: EnvContext, build: Build) -> dict[str, str]:
    """The exact environment of the environment's Odoo process: a clean base, the
    runtime, then the env file's variables (addons read their settings there)."""
    base = {
        "PATH": BASE_PATH,
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
    }
    env = runtime_of(build).env(base=base)
    env.update(ctx.env_values())
    env["ODOOPLANE_ENVIRONMENT"] = ctx.name
    return env


def program_spec(
    ctx: EnvContext,
    build: Build,
    *,
    name: str,
    conf: Path,
    log_file: Path,
    via: Zygote | None = None,
) -> ProgramSpec:
    """Program ``name`` serving ``build`` with configuration ``conf``; forked from the
    warm Odoo ``via`` when given (:mod:`odooplane.environments.zygotes`)."""
    profile = for_series(build.odoo_series)
    runtime = runtime_of(build)
    argv = profile.server_argv(runtime, source_of(build), conf)
    if via is not None:
        argv = via.client_argv(runtime, argv[1:])
    return ProgramSpec(
        name=name,
        argv=argv,
        cwd=ctx.dir,
        env=process_env(ctx, build),
        log_file=log_file,
        # Workers may need the time of the longest request to finish it.
        stop_wait_seconds=60 if ctx.config.workers else 30,
        # SIGINT, not SIGTERM: the whole group gets it, and Odoo's prefork workers die
        # at once on SIGTERM (mid-request) but finish their request on SIGINT; the
        # master and the threaded server stop gracefully on either.
        stop_signal="INT",
        # A preview woken by a request is waited for by a person: count it started
        # after a second (an Odoo that dies later is restarted all the same).
        start_seconds=1 if ctx.kind is EnvironmentKind.preview else 3,
        build=build.sha,
        unprivileged=True,
    )
