"""From a project's configuration and a build to the inputs of :mod:`manifests`: the
cluster settings of an environment, the build's image and where things are in it, the
odoo.conf its pods read, the libpq variables of its database, the Odoo command lines.

The image is the one ``odooplane build --image`` makes (:mod:`odooplane.containers.images`):
Odoo's command lines come from the series profile (:mod:`odooplane.odoo.series`) with the
image's paths, so a pod runs exactly what a local environment runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from odooplane.backends.kubernetes.manifests import (
    ClusterSettings,
    EnvironmentSpec,
    ImageLayout,
    Resources,
)
from odooplane.config import ResourcesConfig
from odooplane.containers.images import (
    CONF_PATH,
    DATA_DIR,
    GEVENT_PORT,
    HTTP_PORT,
    ODOO_SRC,
    ODOO_UID,
    VENV,
    container_path,
    image_tag,
)
from odooplane.environments.builds import Build, build_addons_path
from odooplane.environments.context import EnvContext, conf_options
from odooplane.environments.credentials import provision
from odooplane.environments.ports import PortPair
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.series import SeriesProfile, for_series
from odooplane.odoo.source import OdooSource
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project

# Neutralized environments send mail to their pod's own loopback, where nothing
# listens: it fails there and stays in Odoo's queue, never reaching the outside.
NOWHERE_SMTP = ("127.0.0.1", 1)


def namespace_of(project: Project) -> str:
    configured = project.config.kubernetes.namespace
    if configured:
        return configured
    return re.sub(r"[^a-z0-9-]+", "-", project.config.project.lower()).strip("-")[:63]


def _resources(config: ResourcesConfig) -> Resources:
    return Resources(
        requests={str(k): v for k, v in config.requests.items()},
        limits={str(k): v for k, v in config.limits.items()},
    )


def cluster_settings(project: Project, env_name: str) -> ClusterSettings:
    k8s = project.config.kubernetes
    env = project.config.environments.get(env_name)
    resources = env.resources if env is not None and env.resources else k8s.resources
    return ClusterSettings(
        namespace=namespace_of(project),
        ingress_class=k8s.ingress_class,
        storage_class=k8s.storage_class,
        filestore_size=k8s.filestore_size,
        service_type=k8s.service_type,
        image_pull_policy=k8s.image_pull_policy,
        resources=_resources(resources),
        ingress_annotations=dict(k8s.ingress_annotations),
        tls_secret=k8s.tls_secret,
    )


def image_reference(project: Project, b: Build) -> str:
    """The build's image as the nodes pull it: the local tag, or the same name and tag
    under ``kubernetes.image_registry``."""
    tag = image_tag(project, b)
    registry = project.config.kubernetes.image_registry
    if not registry:
        return tag
    return f"{registry.rstrip('/')}/{tag.split('/', 1)[1]}"


def image_layout(project: Project, b: Build) -> ImageLayout:
    return ImageLayout(
        image=image_reference(project, b),
        odoo_command=[str(VENV / "bin" / "python"), str(ODOO_SRC / "odoo-bin")],
        conf_dir=str(CONF_PATH.parent),
        data_dir=str(DATA_DIR),
        uid=ODOO_UID,
        gid=ODOO_UID,
    )


def image_runtime(b: Build) -> tuple[Runtime, OdooSource]:
    """The build's runtime and Odoo source as they are inside its image."""
    runtime = Runtime(
        path=Path(str(VENV)), python=Path(str(VENV / "bin" / "python")), deps_hash=b.deps_hash
    )
    source = OdooSource(path=Path(str(ODOO_SRC)), series=b.odoo_series, revision=b.odoo_revision)
    return runtime, source


def profile_of(b: Build) -> SeriesProfile:
    return for_series(b.odoo_series)


def conf_path() -> Path:
    return Path(str(CONF_PATH))


def container_conf(ctx: EnvContext, b: Build, *, catcher: tuple[str, int] | None = None) -> str:
    """The odoo.conf of ``ctx``'s pods: no database server (the libpq variables of the
    ``-db`` secret say where), the image's paths and ports. A neutralized environment's
    mail goes to ``catcher``, else nowhere."""
    if ctx.config.neutralized and catcher is None:
        catcher = NOWHERE_SMTP
    options: dict[str, Any] = conf_options(
        ctx, b, PortPair(HTTP_PORT, GEVENT_PORT), None, catcher=catcher
    )
    options["data_dir"] = str(DATA_DIR)
    options["addons_path"] = [str(container_path(b, p)) for p in build_addons_path(ctx.project, b)]
    # Behind a Service and an Ingress: trust the proxy's X-Forwarded-* headers, and
    # answer on the pod's address (the Service's only way in).
    options["proxy_mode"] = True
    options["http_interface"] = "0.0.0.0"
    header = (
        f"; Written by odooplane for environment '{ctx.name}' (build {b.short}).\n"
        "; The database server comes from the PG* variables of the pod.\n"
    )
    return header + profile_of(b).render_conf(options)


def db_env(server: DatabaseServer) -> dict[str, str]:
    """The libpq variables of the environment's pods (no PGDATABASE: odoo.conf names
    the database)."""
    env = server.libpq_env()
    env.pop("PGDATABASE", None)
    return env


def environment_spec(
    ctx: EnvContext,
    b: Build,
    *,
    server: DatabaseServer | None,
    replicas: int = 1,
    state: Mapping[str, Any] | None = None,
    pull_request: int | None = None,
) -> EnvironmentSpec:
    """What the environment's objects are made of. Without ``server`` the database
    secret is left empty (an export without secrets)."""
    from urllib.parse import urlsplit

    url = ctx.config.url
    return EnvironmentSpec(
        project=ctx.project.config.project,
        environment=ctx.name,
        kind=ctx.kind.value,
        database=ctx.database,
        build={**b.summary(), "image": image_reference(ctx.project, b)},
        odoo_conf=container_conf(ctx, b),
        # The environment's own role, never the server's login (docs/security.md), with
        # its database ready for the init Job (the role may not create it).
        db_env=db_env(provision(ctx, server)) if server is not None else {},
        env_vars=ctx.env_values(),
        host=urlsplit(url).hostname if url else None,
        workers=ctx.config.workers,
        replicas=replicas,
        pull_request=pull_request,
        state=dict(state or {}),
    )


def _odoo_argv(b: Build, build_argv: Any, **kwargs: Any) -> list[str]:
    runtime, source = image_runtime(b)
    return list(build_argv(runtime, source, conf_path(), **kwargs))


def init_argv(ctx: EnvContext, b: Build, modules: Sequence[str]) -> list[str]:
    profile = profile_of(b)
    return _odoo_argv(
        b, profile.init_argv, database=ctx.database, modules=list(modules), demo=ctx.demo
    )


def update_argv(
    ctx: EnvContext, b: Build, *, install: Sequence[str], update: Sequence[str]
) -> list[str]:
    profile = profile_of(b)
    return _odoo_argv(
        b, profile.update_argv, database=ctx.database, install=list(install), update=list(update)
    )


def neutralize_argv(ctx: EnvContext, b: Build) -> list[str]:
    return _odoo_argv(b, profile_of(b).neutralize_argv, database=ctx.database)


def shell_argv(ctx: EnvContext, b: Build) -> list[str]:
    return _odoo_argv(b, profile_of(b).shell_argv, database=ctx.database)
