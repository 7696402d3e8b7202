"""``preview gc`` as a CronJob of the cluster (``kubernetes.gc_schedule``).

When previews run on Kubernetes and a schedule is set, the namespace gets a CronJob
that runs ``odooplane preview gc`` in a pod, so closed, expired and surplus previews go
even when no machine of the team runs odooplane. The pod knows nothing but what the
cluster holds: its configuration is the project's (rendered, interpolated) with the
database server as the pods reach it, in a Secret; its view of the previews is rebuilt
from the records kept on their Deployments; it talks to the API with a service account
allowed only in its namespace.

Its image (``odooplane/tool:<version>-<hash>``) is the base image with Python, the
PostgreSQL client and this odooplane: the package's files and its dependencies, built
once per odooplane version and pushed like the build images.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odooplane import __version__
from odooplane.backends.kubernetes import manifests as m
from odooplane.backends.kubernetes import objects

if TYPE_CHECKING:
    from odooplane.backends.kubernetes.backend import KubernetesBackend
    from odooplane.project import Project

TOOL_REPOSITORY = "odooplane/tool"
TOOL_VENV = "/opt/odooplane/venv"
TOOL_UID = 10002
PROJECT_DIR = "/project"
GC_COMPONENT = "preview-gc"
# The rights of the gc pod in its namespace: what `preview gc` reads and removes.
GC_RULES = [
    {
        "apiGroups": [""],
        "resources": ["pods", "pods/log", "services", "secrets", "persistentvolumeclaims"],
        "verbs": ["get", "list", "delete", "patch"],
    },
    {
        "apiGroups": ["apps"],
        "resources": ["deployments", "replicasets"],
        "verbs": ["get", "list", "delete", "patch"],
    },
    {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": ["get", "list", "delete"]},
    {
        "apiGroups": ["networking.k8s.io"],
        "resources": ["ingresses"],
        "verbs": ["get", "list", "delete"],
    },
]


def gc_name(project: Project) -> str:
    return f"{m.instance_name(project.config.project, 'previews')}-gc"


def _package_dir() -> Path:
    import odooplane

    return Path(odooplane.__file__).parent


def _requirements() -> list[str]:
    try:
        found = importlib.metadata.requires("odooplane") or []
    except importlib.metadata.PackageNotFoundError:
        found = []
    return sorted(r for r in found if "extra ==" not in r)


def tool_tag() -> str:
    """The tool image's tag: this odooplane's version and a hash of its files."""
    digest = hashlib.sha256()
    package = _package_dir()
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            digest.update(str(path.relative_to(package)).encode())
            digest.update(path.read_bytes())
    digest.update("\n".join(_requirements()).encode())
    return f"{TOOL_REPOSITORY}:{__version__}-{digest.hexdigest()[:12]}"


def tool_dockerfile(base_image: str) -> str:
    return (
        f"FROM {base_image}\n"
        "RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
        "--no-install-recommends python3 python3-venv postgresql-client ca-certificates "
        ">/dev/null && rm -rf /var/lib/apt/lists/*\n"
        "COPY ca/ /usr/local/share/ca-certificates/\n"
        "RUN update-ca-certificates >/dev/null 2>&1\n"
        "COPY requirements.txt /tmp/requirements.txt\n"
        f"RUN python3 -m venv {TOOL_VENV} && PIP_CERT=/etc/ssl/certs/ca-certificates.crt "
        f"{TOOL_VENV}/bin/pip install --no-cache-dir --disable-pip-version-check -q "
        "-r /tmp/requirements.txt\n"
        f"COPY odooplane/ /opt/odooplane/src/odooplane/\n"
        f"RUN groupadd --system --gid {TOOL_UID} odooplane && useradd --system --uid "
        f"{TOOL_UID} --gid odooplane --home-dir {PROJECT_DIR} odooplane\n"
        f"ENV PYTHONPATH=/opt/odooplane/src PATH={TOOL_VENV}/bin:/usr/bin:/bin LANG=C.UTF-8\n"
        f"USER {TOOL_UID}\n"
        f'ENTRYPOINT ["{TOOL_VENV}/bin/python", "-m", "odooplane"]\n'
    )


def ensure_tool_image(project: Project, on_line: Any = None) -> str:
    """The tool image in this machine's engine (built when missing), then as the nodes
    pull it."""
    from odooplane.containers.engine import ContextFile, ContextTree, Docker
    from odooplane.containers.images import ca_files

    docker = Docker()
    tag = tool_tag()
    if docker.image(tag) is None:
        requirements = "\n".join(_requirements()) + "\n"
        docker.build(
            [
                ContextFile(
                    "Dockerfile", data=tool_dockerfile(project.config.docker.base_image).encode()
                ),
                ContextFile("requirements.txt", data=requirements.encode()),
                ContextTree(
                    "odooplane",
                    _package_dir(),
                    lambda rel: rel.name == "__pycache__" or rel.suffix == ".pyc",
                ),
                *ca_files(),
            ],
            tag=tag,
            labels={"org.odooplane.layer": "tool"},
            on_line=on_line,
        )
        # Earlier odooplane versions' tool images are not used any more (~500 MB each);
        # one still running keeps its image (the engine refuses to remove it).
        listed = docker.run(["images", "--format", "{{.Repository}}:{{.Tag}}", TOOL_REPOSITORY])
        for old in listed.stdout.split():
            if old != tag:
                docker.run(["rmi", old], check=False)
    registry = project.config.kubernetes.image_registry
    if not registry:
        return tag
    reference = f"{registry.rstrip('/')}/{tag.split('/', 1)[1]}"
    docker.run(["tag", tag, reference])
    docker.run(["push", reference], timeout=3600)
    return reference


def pod_config(project: Project, database_url: str) -> str:
    """The project's configuration as the gc pod reads it: interpolated, the database
    server as pods reach it, the cluster from the pod's service account, no env files."""
    from odooplane.backends.kubernetes.export import yaml_documents

    data: dict[str, Any] = project.config.model_dump(mode="json", by_alias=True)
    data["database"]["server"] = database_url
    data["kubernetes"]["kubeconfig"] = None
    data["kubernetes"]["context"] = None
    for env in data.get("environments", {}).values():
        env["env_file"] = None
    return yaml_documents([_without_none(data)]).removeprefix("---\n")


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def gc_objects(
    project: Project, *, image: str, database_url: str, schedule: str
) -> list[dict[str, Any]]:
    """ServiceAccount, Role, RoleBinding, Secret and CronJob of the gc."""
    namespace = objects.namespace_of(project)
    name = gc_name(project)
    labels = {
        **m.environment_selector(project.config.project),
        m.COMPONENT: GC_COMPONENT,
        "app.kubernetes.io/name": "odooplane",
    }
    meta = {"namespace": namespace, "labels": labels}
    config_text = pod_config(project, database_url)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, **meta},
        "type": "Opaque",
        "stringData": {"odooplane.yaml": config_text},
    }
    pod = {
        "restartPolicy": "Never",
        "serviceAccountName": name,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": TOOL_UID,
            "runAsGroup": TOOL_UID,
            "fsGroup": TOOL_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "gc",
                "image": image,
                "imagePullPolicy": project.config.kubernetes.image_pull_policy,
                "args": ["-C", PROJECT_DIR, "preview", "gc", "--json"],
                "workingDir": PROJECT_DIR,
                "env": [
                    {"name": "HOME", "value": f"{PROJECT_DIR}/.odooplane"},
                    {"name": "ODOOPLANE_CACHE_DIR", "value": f"{PROJECT_DIR}/.odooplane/cache"},
                ],
                "resources": {
                    "requests": {"cpu": "50m", "memory": "128Mi"},
                    "limits": {"memory": "512Mi"},
                },
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                },
                "volumeMounts": [
                    {"name": "project", "mountPath": PROJECT_DIR},
                    {
                        "name": "config",
                        "mountPath": f"{PROJECT_DIR}/odooplane.yaml",
                        "subPath": "odooplane.yaml",
                        "readOnly": True,
                    },
                    {"name": "tmp", "mountPath": "/tmp"},
                ],
            }
        ],
        "volumes": [
            {"name": "project", "emptyDir": {}},
            {"name": "config", "secret": {"secretName": name, "defaultMode": 0o440}},
            {"name": "tmp", "emptyDir": {}},
        ],
    }
    cronjob = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": name,
            **meta,
            "annotations": {
                "odooplane/config-hash": hashlib.sha256(config_text.encode()).hexdigest()[:16]
            },
        },
        "spec": {
            "schedule": schedule,
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": labels},
                "spec": {
                    "backoffLimit": 0,
                    "activeDeadlineSeconds": 3600,
                    "template": {"metadata": {"labels": labels}, "spec": pod},
                },
            },
        },
    }
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, **meta}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": name, **meta},
            "rules": GC_RULES,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, **meta},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        },
        secret,
        cronjob,
    ]


def database_url_for_pods(backend: KubernetesBackend) -> str:
    """The project's database server as a URL the pods reach."""
    from urllib.parse import quote

    server = backend.project_server()
    env = backend.pod_server_env(server)
    auth = quote(env["PGUSER"], safe="")
    if env.get("PGPASSWORD"):
        auth += ":" + quote(env["PGPASSWORD"], safe="")
    host = env["PGHOST"]
    host = f"[{host}]" if ":" in host else host
    query = "&".join(
        f"{k}={quote(v, safe='')}" for k, v in server.params if re.fullmatch(r"[a-z_]+", k)
    )
    return f"postgresql://{auth}@{host}:{env['PGPORT']}/{server.maintenance_db}" + (
        f"?{query}" if query else ""
    )


def ensure_gc(backend: KubernetesBackend) -> list[str]:
    """Apply the gc CronJob when previews run here with a schedule; remove it when the
    schedule is gone. The objects applied or removed, by kind and name."""
    project = backend.project
    schedule = project.config.kubernetes.gc_schedule
    selector = {**m.environment_selector(project.config.project), m.COMPONENT: GC_COMPONENT}
    if not schedule or project.config.previews.backend != "kubernetes":
        return backend.work.remove(
            selector, kinds=("CronJob", "RoleBinding", "Role", "ServiceAccount", "Secret")
        )
    image = ensure_tool_image(project)
    docs = gc_objects(
        project, image=image, database_url=database_url_for_pods(backend), schedule=schedule
    )
    backend.work.apply_all(docs)
    return [f"{d['kind']}/{d['metadata']['name']}" for d in docs]


def run_now(backend: KubernetesBackend, *, timeout: float = 900.0) -> dict[str, Any]:
    """Run the gc CronJob once now (``kubectl create job --from=cronjob/...``): its
    report."""
    from odooplane.errors import CheckFailedError, NotFoundError

    project = backend.project
    name = gc_name(project)
    cronjob = backend.client.get("CronJob", name, backend.namespace)
    if cronjob is None:
        raise NotFoundError(
            f"There is no CronJob {name} in namespace {backend.namespace}.",
            hint="Set kubernetes.gc_schedule and previews.backend: kubernetes, then "
            "`odooplane preview up` (or `env start`) once.",
        )
    template = cronjob["spec"]["jobTemplate"]
    import uuid

    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": f"{name}-{uuid.uuid4().hex[:6]}",
            "namespace": backend.namespace,
            "labels": template["metadata"]["labels"],
        },
        "spec": template["spec"],
    }
    result = backend.work.run_job(job, timeout=timeout)
    if not result.succeeded:
        raise CheckFailedError(
            f"The gc Job {result.name} failed: {result.reason}.", hint=result.output[-2000:]
        )
    start = result.output.find("{")
    try:
        report: dict[str, Any] = json.loads(result.output[start:]) if start >= 0 else {}
    except json.JSONDecodeError:
        report = {"output": result.output}
    return report
