"""``odooplane export kubernetes``: an environment's objects as YAML, for GitOps.

For each environment the folder gets ``<environment>.yaml`` (its claim, Service,
Deployment, Ingress and the Jobs of its build: database ``init``, module ``update`` and,
for a neutralized one, Odoo's ``neutralize``), and a ``kustomization.yaml`` listing
everything, so ``kubectl apply -k`` or any GitOps tool takes the folder as it is.
Argo CD's ``sync-wave`` annotations order them: secrets and claim, then the Jobs in
turn, then the server.

Secrets hold passwords, so they are written only when asked (``include_secrets``), to
``<environment>.secrets.yaml`` with mode 0600 (keep them out of git: seal them, or
create them in the cluster); otherwise the result lists the Secrets the objects expect
and their keys. The build is the environment's current one, else the given ref, else
the environment's branch; its image is named as ``odooplane build --image`` tags it
(under ``kubernetes.image_registry`` when set).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from odooplane.backends.kubernetes import manifests as m
from odooplane.backends.kubernetes import objects
from odooplane.environments.builds import Build, build, build_project, load_build
from odooplane.environments.context import EnvContext
from odooplane.environments.create import default_ref
from odooplane.environments.steps import wanted_modules
from odooplane.errors import RefusedError
from odooplane.fsutil import writable_folder, write_atomic
from odooplane.odoo.addons import project_addons
from odooplane.postgres.server import DatabaseServer
from odooplane.progress import Progress, report
from odooplane.project import Project

SYNC_WAVE = "argocd.argoproj.io/sync-wave"
DB_KEYS = ("PGHOST", "PGPASSWORD", "PGPORT", "PGUSER")
# Argo CD applies lower waves first and waits for them to be healthy (a Job: complete).
WAVES = {
    "Secret": "-3",
    "PersistentVolumeClaim": "-3",
    "init": "-2",
    "update": "-1",
    "neutralize": "0",
    "Service": "1",
    "Deployment": "1",
    "Ingress": "1",
}


@dataclass
class ExportedEnvironment:
    environment: str
    build: str
    image: str
    file: str
    objects: list[str]
    secrets_file: str | None = None
    secrets_expected: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class KubernetesExport:
    directory: str
    namespace: str
    include_secrets: bool
    environments: list[ExportedEnvironment]
    files: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def yaml_documents(docs: Sequence[dict[str, Any]], header: str = "") -> str:
    """YAML documents; JSON is YAML, so every value keeps its exact type and quoting."""
    from io import StringIO

    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 4096
    out = StringIO()
    out.write(header)
    for doc in docs:
        out.write("---\n")
        # Round-trip through JSON: plain dicts, lists and scalars only.
        yaml.dump(json.loads(json.dumps(doc)), out)
    return out.getvalue()


def _wave(obj: dict[str, Any], wave: str) -> dict[str, Any]:
    meta = obj["metadata"]
    meta["annotations"] = {**meta.get("annotations", {}), SYNC_WAVE: wave}
    return obj


def _export_build(ctx: EnvContext, ref: str | None) -> Build:
    if ref is None:
        state = ctx.store.load(ctx.name)
        if state is not None and state.build:
            current = load_build(ctx.project, state.build)
            if current is not None:
                return current
    return build(ctx.project, ref or default_ref(ctx), record=False)


def _server(project: Project) -> DatabaseServer | None:
    config = project.config.database
    if config.kind != "url":
        return None
    return DatabaseServer.from_url(config.server, postgres_bin=config.postgres_bin)


def environment_documents(
    ctx: EnvContext,
    b: Build,
    *,
    server: DatabaseServer | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(objects, secrets) of ``ctx`` running ``b``, annotated for Argo CD's waves."""
    spec = objects.environment_spec(ctx, b, server=server)
    settings = objects.cluster_settings(ctx.project, ctx.name)
    image = objects.image_layout(ctx.project, b)
    run_id = b.sha[:12]
    addons = project_addons(build_project(ctx.project, b))
    project_modules = sorted(n for n, a in addons.items() if a.installable)
    modules = sorted({"base", "web", *wanted_modules(ctx, b)})
    jobs = [
        m.task_job(
            spec,
            settings,
            image,
            task="init",
            run_id=run_id,
            argv=objects.init_argv(ctx, b, modules),
        ),
    ]
    if project_modules:
        jobs.append(
            m.task_job(
                spec,
                settings,
                image,
                task="update",
                run_id=run_id,
                argv=objects.update_argv(ctx, b, install=[], update=project_modules),
            )
        )
    if ctx.config.neutralized and objects.profile_of(b).has_neutralize:
        jobs.append(
            m.task_job(
                spec,
                settings,
                image,
                task="neutralize",
                run_id=run_id,
                argv=objects.neutralize_argv(ctx, b),
            )
        )
    secrets = [_wave(s, WAVES["Secret"]) for s in m.secrets(spec, settings)]
    docs = [_wave(m.filestore_claim(spec, settings), WAVES["PersistentVolumeClaim"])]
    docs += [_wave(j, WAVES[j["metadata"]["labels"][m.TASK_LABEL]]) for j in jobs]
    docs += [
        _wave(m.service(spec, settings), WAVES["Service"]),
        _wave(m.deployment(spec, settings, image), WAVES["Deployment"]),
    ]
    route = m.ingress(spec, settings)
    if route is not None:
        docs.append(_wave(route, WAVES["Ingress"]))
    return docs, secrets


def export_kubernetes(
    project: Project,
    names: Sequence[str],
    out_dir: Path,
    *,
    ref: str | None = None,
    include_secrets: bool = False,
    progress: Progress | None = None,
) -> KubernetesExport:
    """Write the manifests of environments ``names`` (all when empty) into ``out_dir``."""
    wanted = list(names) or list(project.config.environments)
    if not wanted:
        raise RefusedError(
            "The project has no environment to export.",
            hint="Add one under environments: in odooplane.yaml.",
        )
    for name in wanted:
        project.environment(name)  # an unknown name is a sentence listing the known ones
    server = _server(project) if include_secrets else None
    if include_secrets and server is None:
        raise RefusedError(
            f"The {project.config.database.server} PostgreSQL server is on this machine only: "
            "pods cannot reach it, so there are no database credentials to export.",
            hint="Set database.server to a postgresql:// URL the cluster reaches, or export "
            "without --include-secrets and create the -db secrets yourself.",
        )
    namespace = objects.namespace_of(project)
    writable_folder(out_dir, "The Kubernetes manifests")
    exported: list[ExportedEnvironment] = []
    files: list[str] = []
    namespace_doc = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    write_atomic(out_dir / "namespace.yaml", yaml_documents([namespace_doc]))
    files.append("namespace.yaml")
    for name in wanted:
        ctx = EnvContext(project, name)
        report(progress, f"{name}: resolving its build...")
        b = _export_build(ctx, ref)
        docs, secrets = environment_documents(ctx, b, server=server)
        header = (
            f"# Environment '{name}' ({ctx.kind.value}) of project "
            f"'{project.config.project}', build {b.sha} ({b.branch or 'detached'}).\n"
            "# Written by `odooplane export kubernetes`; the Secrets "
            + ", ".join(s["metadata"]["name"] for s in secrets)
            + " must exist.\n"
        )
        env_file = f"{name}.yaml"
        write_atomic(out_dir / env_file, yaml_documents(docs, header))
        files.append(env_file)
        entry = ExportedEnvironment(
            environment=name,
            build=b.sha,
            image=objects.image_reference(project, b),
            file=env_file,
            objects=[f"{d['kind']}/{d['metadata']['name']}" for d in docs],
        )
        if include_secrets:
            secrets_file = f"{name}.secrets.yaml"
            write_atomic(out_dir / secrets_file, yaml_documents(secrets), mode=0o600)
            os.chmod(out_dir / secrets_file, 0o600)
            files.append(secrets_file)
            entry.secrets_file = secrets_file
        else:
            entry.secrets_expected = [
                {
                    "name": s["metadata"]["name"],
                    "keys": sorted(s.get("data") or {}) or list(DB_KEYS),
                }
                for s in secrets
            ]
        exported.append(entry)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": namespace,
        "resources": files,
    }
    write_atomic(out_dir / "kustomization.yaml", yaml_documents([kustomization]))
    return KubernetesExport(
        directory=str(out_dir),
        namespace=namespace,
        include_secrets=include_secrets,
        environments=exported,
        files=[*files, "kustomization.yaml"],
    )
