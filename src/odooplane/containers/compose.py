"""``odooplane export compose``: environments as a Compose project that runs without odooplane.

The folder gets:

- ``compose.yaml``: a ``db`` service (PostgreSQL, ``odooplane/postgres:15``) unless the
  project names an external ``database.server``; per environment an ``<env>-init``
  service that creates and initializes its database when it does not exist yet (and
  does nothing otherwise), then the ``<env>`` service serving Odoo from its build's
  image, published on 127.0.0.1 at the port in ``.env``;
- ``.env``: what Compose interpolates (images, ports, passwords); mode 0600;
- ``<env>/odoo.conf`` and ``<env>/env.json``: mounted read-only, as the Docker backend
  mounts them. odoo.conf holds no password: Odoo's database password comes from
  ``PGPASSWORD``; the variables of the environment's env file are in ``env.json``.

Databases start fresh (with demo data where the environment's ``data`` says ``demo``):
to bring one across, ``odooplane db export`` then restore it in the ``db`` service. Mail
of non-production environments goes nowhere (no catcher without odooplane): their
``smtp_server`` is the container's own loopback, where nothing listens.

Validated with ``docker compose config`` before it is returned.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from odooplane.containers import images
from odooplane.containers.engine import Docker
from odooplane.containers.postgres_image import DATA, ensure_postgres_image
from odooplane.containers.spec import ContainerSpec, Mount, Publish
from odooplane.environments.builds import Build, build, build_addons_path, load_build
from odooplane.environments.context import EnvContext, conf_options
from odooplane.environments.ports import PortPair
from odooplane.environments.steps import wanted_modules
from odooplane.errors import ConfigError, ExternalToolError
from odooplane.fsutil import writable_folder, write_atomic
from odooplane.odoo.series import for_series
from odooplane.postgres.server import DatabaseServer
from odooplane.progress import Progress, report
from odooplane.project import Project

DB_SERVICE = "db"
DB_USER = "odoo"
FIRST_PORT = 18069


@dataclass
class ComposeEnvironment:
    environment: str
    build: str
    image: str
    database: str
    http_port_variable: str
    http_port: int


@dataclass
class ComposeExport:
    directory: str
    compose_file: str
    env_file: str
    project_name: str
    environments: list[ComposeEnvironment] = field(default_factory=list)
    database_service: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _variable(env_name: str, what: str) -> str:
    return f"{env_name.upper().replace('-', '_')}_{what}"


def _export_build(ctx: EnvContext, ref: str | None) -> Build:
    if ref is None:
        state = ctx.store.load(ctx.name)
        if state is not None and state.build:
            current = load_build(ctx.project, state.build)
            if current is not None:
                return current
    return build(ctx.project, ref or "HEAD", record=False)


def _conf(ctx: EnvContext, b: Build, server: DatabaseServer) -> str:
    options = conf_options(
        ctx, b, PortPair(images.HTTP_PORT, images.GEVENT_PORT), server, catcher=None
    )
    options.update(
        {
            "http_interface": "0.0.0.0",
            "data_dir": str(images.DATA_DIR),
            "addons_path": [
                str(images.container_path(b, p)) for p in build_addons_path(ctx.project, b)
            ],
        }
    )
    if not ctx.is_production:
        options.update({"smtp_server": "127.0.0.1", "smtp_port": 1, "smtp_ssl": False})
    header = (
        f"; Written by `odooplane export compose` for environment '{ctx.name}' (build {b.short}).\n"
    )
    return header + for_series(b.odoo_series).render_conf(options)


def _init_command(
    ctx: EnvContext, b: Build, database: str, db_host: str, db_port: int
) -> list[str]:
    """Initialize the database unless it exists: ``up`` can be run any number of times."""
    modules = sorted({"base", "web", *wanted_modules(ctx, b)})
    argv = for_series(b.odoo_series).init_argv(
        *_image_runtime(b),
        Path(str(images.CONF_PATH)),
        database=database,
        modules=modules,
        demo=ctx.demo,
    )
    script = (
        "import os, sys, psycopg2\n"
        f"conn = psycopg2.connect(host={db_host!r}, port={db_port}, dbname='postgres', "
        f"user=os.environ.get('PGUSER', {DB_USER!r}))\n"
        "cur = conn.cursor()\n"
        f"cur.execute('SELECT 1 FROM pg_database WHERE datname = %s', ({database!r},))\n"
        "if cur.fetchone():\n"
        "    sys.exit(0)\n"
        f"argv = {argv!r}\n"
        "os.execv(argv[0], argv)\n"
    )
    return [f"{images.VENV}/bin/python", "-c", script]


def _image_runtime(b: Build) -> tuple[Any, Any]:
    from odooplane.odoo.runtime import Runtime
    from odooplane.odoo.source import OdooSource

    runtime = Runtime(
        path=Path(str(images.VENV)),
        python=Path(str(images.VENV / "bin" / "python")),
        deps_hash=b.deps_hash,
    )
    source = OdooSource(
        path=Path(str(images.ODOO_SRC)), series=b.odoo_series, revision=b.odoo_revision
    )
    return runtime, source


def export_compose(
    project: Project,
    environments: Sequence[str],
    directory: Path,
    *,
    ref: str | None = None,
    docker: Docker | None = None,
    progress: Progress | None = None,
) -> ComposeExport:
    """Write the Compose project of ``environments`` (all when empty) into ``directory``,
    building their images; validated with ``docker compose config``."""
    engine = docker or Docker()
    names = list(environments) or sorted(project.config.environments)
    if not names:
        raise ConfigError(f"{project.config_path} defines no environment to export.")
    for name in names:
        project.environment(name)  # a sentence for an unknown name
    writable_folder(directory, "The Compose project")
    os.chmod(directory, 0o700)
    slug = images.slug(project.config.project)
    network = f"odooplane-{slug}"
    # The embedded cluster and the project's container both become the `db` service.
    external = project.config.database.kind == "url"
    dotenv: dict[str, str] = {}
    services: dict[str, Any] = {}
    volumes: dict[str, Any] = {}
    if external:
        server_url = DatabaseServer.from_url(project.config.database.server)
        db_host, db_port, db_user = server_url.host, server_url.port, server_url.user
    else:
        db_host, db_port, db_user = DB_SERVICE, 5432, DB_USER
        report(progress, "PostgreSQL image...")
        pg_image = ensure_postgres_image(engine, project.config.docker.base_image)
        dotenv["POSTGRES_IMAGE"] = pg_image
        dotenv["POSTGRES_PASSWORD"] = secrets.token_urlsafe(24)
        dotenv["ODOO_DB_PASSWORD"] = secrets.token_urlsafe(24)
        volumes["pgdata"] = {}
        services[DB_SERVICE] = {
            "image": "${POSTGRES_IMAGE}",
            "environment": {
                "POSTGRES_PASSWORD": "${POSTGRES_PASSWORD}",
                "ODOO_DB_USER": DB_USER,
                "ODOO_DB_PASSWORD": "${ODOO_DB_PASSWORD}",
            },
            "volumes": [{"type": "volume", "source": "pgdata", "target": DATA}],
            "networks": {network: {}},
            "restart": "unless-stopped",
        }
    server = DatabaseServer(
        host=db_host, port=db_port, user=db_user, password=None, bin_dir=Path("/nonexistent")
    )
    result = ComposeExport(
        directory=str(directory),
        compose_file=str(directory / "compose.yaml"),
        env_file=str(directory / ".env"),
        project_name=f"odooplane-{slug}",
        database_service=not external,
    )
    config = project.config.docker
    for index, name in enumerate(names):
        ctx = EnvContext(project, name)
        b = _export_build(ctx, ref)
        report(progress, f"{name}: image of {b.short}...")
        image = images.build_image(
            project,
            b,
            docker=engine,
            base_image=config.base_image,
            extra_packages=config.extra_packages,
        )
        folder = directory / name
        folder.mkdir(exist_ok=True)
        db_env = {"PGPASSWORD": "${ODOO_DB_PASSWORD}", "PGUSER": db_user}
        env_server = server
        if external:
            # On a shared server each environment logs in as its own role, created
            # with its empty database by the export; the URL's login is never
            # written here (docs/security.md).
            from odooplane.environments.credentials import provision

            login = provision(ctx, server_url)
            password_var = _variable(name, "DB_PASSWORD")
            dotenv[password_var] = login.password or ""
            db_env = {"PGPASSWORD": f"${{{password_var}}}", "PGUSER": login.user}
            env_server = replace(server, user=login.user)
        write_atomic(folder / "odoo.conf", _conf(ctx, b, env_server), mode=0o644)
        values = {k: v for k, v in ctx.env_values().items()}
        values["ODOOPLANE_ENVIRONMENT"] = name
        write_atomic(folder / "env.json", json.dumps(values, indent=1) + "\n", mode=0o644)
        database = ctx.database
        image_var, port_var = _variable(name, "IMAGE"), _variable(name, "HTTP_PORT")
        port = FIRST_PORT + 10 * index
        dotenv[image_var] = image.tag
        dotenv[port_var] = str(port)
        filestore = f"{name}-filestore"
        volumes[filestore] = {}
        mounts = [
            Mount("bind", f"./{name}/odoo.conf", str(images.CONF_PATH), read_only=True),
            Mount("bind", f"./{name}/env.json", str(images.ENV_FILE), read_only=True),
            # On the folder the image gives to `odoo`: a fresh named volume takes the
            # owner of the folder it is mounted on (one that is not in the image would be
            # root's, and Odoo could not write its attachments).
            Mount("volume", filestore, f"{images.DATA_DIR}/filestore"),
        ]
        labels = {
            f"{images.LABEL_PREFIX}project": project.config.project,
            f"{images.LABEL_PREFIX}environment": name,
            f"{images.LABEL_PREFIX}git-sha": b.sha,
        }
        init = ContainerSpec(
            name=f"{result.project_name}-{name}-init",
            image=f"${{{image_var}}}",
            network=network,
            command=_init_command(ctx, b, database, db_host, db_port),
            mounts=mounts,
            env=db_env,
            labels=labels,
            restart="no",
        ).compose_service()
        serve = ContainerSpec(
            name=f"{result.project_name}-{name}",
            image=f"${{{image_var}}}",
            network=network,
            mounts=mounts,
            publish=[Publish(0, images.HTTP_PORT)],
            env=db_env,
            labels=labels,
            stop_timeout=60 if ctx.config.workers else 30,
            memory=config.memory,
        ).compose_service()
        serve["ports"] = [f"127.0.0.1:${{{port_var}}}:{images.HTTP_PORT}"]
        after: dict[str, Any] = {f"{name}-init": {"condition": "service_completed_successfully"}}
        if not external:
            init["depends_on"] = {DB_SERVICE: {"condition": "service_healthy"}}
        serve["depends_on"] = after
        services[f"{name}-init"] = init
        services[name] = serve
        result.environments.append(
            ComposeEnvironment(name, b.sha, image.tag, database, port_var, port)
        )
    document = {
        "name": result.project_name,
        "services": services,
        "networks": {network: {"name": network}},
        "volumes": volumes,
    }
    header = (
        "# Written by `odooplane export compose`: run with `docker compose up -d` in this folder.\n"
    )
    write_atomic(
        directory / "compose.yaml",
        header + _yaml(document),
        mode=0o644,
    )
    write_atomic(
        directory / ".env",
        "".join(f"{k}={v}\n" for k, v in sorted(dotenv.items())),
        mode=0o600,
    )
    validate(directory, engine)
    return result


def _yaml(document: dict[str, Any]) -> str:
    from io import StringIO

    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 4096
    out = StringIO()
    yaml.dump(json.loads(json.dumps(document)), out)
    return out.getvalue()


def compose_command(engine: Docker) -> list[str]:
    """``docker compose`` (v2, a CLI plugin), else Debian's ``docker-compose``."""
    probe = subprocess.run(
        [engine.binary, "compose", "version"], capture_output=True, text=True, check=False
    )
    if probe.returncode == 0:
        return [engine.binary, "compose"]
    import shutil

    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    raise ExternalToolError(
        "Neither `docker compose` nor `docker-compose` is installed.",
        hint="Install Compose v2 (`bash .ci/setup-docker` does it).",
    )


def validate(directory: Path, engine: Docker) -> None:
    result = subprocess.run(
        [*compose_command(engine), "--project-directory", str(directory), "config", "--quiet"],
        cwd=directory,
        capture_output=True,
        text=True,
        env=engine.env(),
        check=False,
    )
    if result.returncode != 0:
        raise ExternalToolError(
            f"`docker compose config` rejects {directory / 'compose.yaml'}: "
            f"{(result.stderr or result.stdout).strip()[-1500:]}"
        )
