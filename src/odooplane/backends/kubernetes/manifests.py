"""The Kubernetes objects of an environment, as plain dicts (pure: no cluster needed).

One environment of one project is, in its namespace:

- a **Deployment** ``<instance>`` running the build's image as a non-root user
  (``Recreate``: two builds never serve one database at once), with requests and limits
  from the config and a startup, readiness and liveness probe on ``/web/health``;
- a **Service** ``<instance>`` (``http`` 8069, and ``websocket`` 8072 with workers);
- an **Ingress** ``<instance>`` for the environment's hostname, of the configured class
  (``/websocket`` to the gevent port when there are workers);
- a **PersistentVolumeClaim** ``<instance>-filestore`` mounted as Odoo's data dir;
- **Secrets** ``<instance>-db`` (the libpq variables Odoo connects with: odoo.conf names
  no database server), ``<instance>-config`` (odoo.conf, which holds the master
  password) and ``<instance>-env`` (the environment's env file, when it has one);
- **Jobs** ``<instance>-<task>-<id>`` for one-shot Odoo runs: database init, module
  update, neutralization.

Everything carries the same labels (``odooplane/project``, ``odooplane/environment``,
``odooplane/kind``, ``odooplane/build``, ``odooplane/pull-request`` for previews) and the
Deployment the environment's record in annotations (build, previous build, deployment
id, status...), so odooplane can rebuild its view from the cluster alone, as runboat
does. Names are DNS labels derived from project and environment, shortened with a hash
when too long; lookups go by labels, never by names.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

LABEL_PREFIX = "odooplane/"
PROJECT_LABEL = LABEL_PREFIX + "project"
ENVIRONMENT_LABEL = LABEL_PREFIX + "environment"
KIND_LABEL = LABEL_PREFIX + "kind"
BUILD_LABEL = LABEL_PREFIX + "build"
PULL_REQUEST_LABEL = LABEL_PREFIX + "pull-request"
TASK_LABEL = LABEL_PREFIX + "task"
SLOT_LABEL = LABEL_PREFIX + "slot"
# The Service's slot while a deploy changes the database: no pod has it.
MAINTENANCE_SLOT = "maintenance"
RUN_LABEL = LABEL_PREFIX + "run"
MANAGED_BY = "app.kubernetes.io/managed-by"
INSTANCE = "app.kubernetes.io/instance"
COMPONENT = "app.kubernetes.io/component"

# Annotations on the Deployment: the environment's record, kept in the cluster.
ANNOTATION_STATE = LABEL_PREFIX + "state"
ANNOTATION_CONFIG_HASH = LABEL_PREFIX + "config-hash"

HTTP_PORT = 8069
GEVENT_PORT = 8072
INSTANCE_MAX = 40  # leaves room for "-filestore", "-update-<id>" and pod suffixes
DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class Resources:
    """Container requests and limits (Kubernetes quantities: ``500m``, ``1Gi``)."""

    requests: Mapping[str, str] = field(default_factory=lambda: {"cpu": "250m", "memory": "512Mi"})
    limits: Mapping[str, str] = field(default_factory=lambda: {"memory": "2Gi"})

    def to_dict(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        if self.requests:
            out["requests"] = dict(self.requests)
        if self.limits:
            out["limits"] = dict(self.limits)
        return out


@dataclass(frozen=True)
class ClusterSettings:
    """The ``kubernetes:`` section of odooplane.yaml, resolved for one environment."""

    namespace: str
    ingress_class: str | None = None
    storage_class: str | None = None
    filestore_size: str = "10Gi"
    service_type: str = "ClusterIP"
    image_pull_policy: str = "IfNotPresent"
    resources: Resources = field(default_factory=Resources)
    task_resources: Resources | None = None
    ingress_annotations: Mapping[str, str] = field(default_factory=dict)
    tls_secret: str | None = None


@dataclass(frozen=True)
class ImageLayout:
    """Where things are inside a build's image, and who runs them."""

    image: str
    # The Odoo command line up to its arguments: [python, odoo-bin].
    odoo_command: Sequence[str]
    conf_dir: str = "/etc/odoo"
    data_dir: str = "/var/lib/odoo"
    uid: int = 1000
    gid: int = 1000

    @property
    def conf_path(self) -> str:
        return f"{self.conf_dir}/odoo.conf"


@dataclass(frozen=True)
class EnvironmentSpec:
    """What odooplane knows of one environment, for its objects."""

    project: str
    environment: str
    kind: str
    database: str
    build: Mapping[str, Any]  # the build's summary: sha, branch, odoo_series, ...
    odoo_conf: str
    db_env: Mapping[str, str]  # PGHOST, PGPORT, PGUSER, PGPASSWORD, ...
    env_vars: Mapping[str, str] = field(default_factory=dict)
    host: str | None = None
    workers: int = 0
    replicas: int = 1
    pull_request: int | None = None
    state: Mapping[str, Any] = field(default_factory=dict)
    # Other records kept with the environment (a preview's), by key.
    records: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def sha(self) -> str:
        return str(self.build.get("sha") or "")


def record_annotation(key: str) -> str:
    """The Deployment annotation keeping the environment's ``key`` record."""
    return f"{LABEL_PREFIX}{key}"


# -- names and labels ------------------------------------------------------------------------


def instance_name(project: str, environment: str) -> str:
    """The name of an environment's objects: ``<project>-<environment>``, at most
    :data:`INSTANCE_MAX` characters (then shortened with a hash of the whole)."""
    full = f"{project}-{environment}"
    label = re.sub(r"[^a-z0-9-]+", "-", full.lower()).strip("-")
    if len(label) <= INSTANCE_MAX and label == full:
        return label
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return f"{label[: INSTANCE_MAX - 9].rstrip('-')}-{digest}"


def label_value(text: str) -> str:
    """``text`` as a label value (63 characters of ``[A-Za-z0-9._-]``, alphanumeric ends)."""
    value = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")
    if len(value) > 63:
        value = value[:54].rstrip("-._") + "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return value


def selector_labels(spec: EnvironmentSpec, component: str = "server") -> dict[str, str]:
    return {INSTANCE: instance_name(spec.project, spec.environment), COMPONENT: component}


def environment_selector(project: str, environment: str | None = None) -> dict[str, str]:
    """The labels finding a project's objects (one environment's, when named)."""
    labels = {MANAGED_BY: "odooplane", PROJECT_LABEL: label_value(project)}
    if environment is not None:
        labels[ENVIRONMENT_LABEL] = label_value(environment)
    return labels


def labels(spec: EnvironmentSpec, component: str) -> dict[str, str]:
    out = {
        "app.kubernetes.io/name": "odoo",
        **selector_labels(spec, component),
        **environment_selector(spec.project, spec.environment),
        KIND_LABEL: spec.kind,
    }
    if spec.sha:
        out[BUILD_LABEL] = spec.sha
    if spec.pull_request is not None:
        out[PULL_REQUEST_LABEL] = str(spec.pull_request)
    return out


def _meta(
    spec: EnvironmentSpec,
    settings: ClusterSettings,
    name: str,
    component: str,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": settings.namespace,
        "labels": labels(spec, component),
    }
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


# -- objects ------------------------------------------------------------------------------


def secret_names(spec: EnvironmentSpec) -> dict[str, str]:
    return secret_names_of(spec.project, spec.environment)


def secret_names_of(project: str, environment: str) -> dict[str, str]:
    inst = instance_name(project, environment)
    return {"db": f"{inst}-db", "config": f"{inst}-config", "env": f"{inst}-env"}


def secrets(spec: EnvironmentSpec, settings: ClusterSettings) -> list[dict[str, Any]]:
    names = secret_names(spec)
    out = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": _meta(spec, settings, names["db"], "database-credentials"),
            "type": "Opaque",
            "data": {k: _b64(v) for k, v in sorted(spec.db_env.items())},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": _meta(spec, settings, names["config"], "config"),
            "type": "Opaque",
            "data": {"odoo.conf": _b64(spec.odoo_conf)},
        },
    ]
    if spec.env_vars:
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": _meta(spec, settings, names["env"], "env-file"),
                "type": "Opaque",
                "data": {k: _b64(v) for k, v in sorted(spec.env_vars.items())},
            }
        )
    return out


def config_hash(spec: EnvironmentSpec) -> str:
    """Changes when anything the pods read at start changes (secrets are mounted, not
    watched): a new value rolls the Deployment."""
    payload = json.dumps(
        [spec.odoo_conf, sorted(spec.db_env.items()), sorted(spec.env_vars.items())]
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def filestore_claim(spec: EnvironmentSpec, settings: ClusterSettings) -> dict[str, Any]:
    inst = instance_name(spec.project, spec.environment)
    claim: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _meta(spec, settings, f"{inst}-filestore", "filestore"),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": settings.filestore_size}},
        },
    }
    if settings.storage_class:
        claim["spec"]["storageClassName"] = settings.storage_class
    return claim


def _pod_security(image: ImageLayout) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": image.uid,
        "runAsGroup": image.gid,
        "fsGroup": image.gid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _container_security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def _env(spec: EnvironmentSpec) -> list[dict[str, Any]]:
    return [{"name": "ODOOPLANE_ENVIRONMENT", "value": spec.environment}]


def _env_from(spec: EnvironmentSpec) -> list[dict[str, Any]]:
    names = secret_names(spec)
    sources: list[dict[str, Any]] = []
    if spec.env_vars:
        sources.append({"secretRef": {"name": names["env"]}})
    # Last, so an env file cannot point the environment at another database server.
    sources.append({"secretRef": {"name": names["db"]}})
    return sources


def _volumes(spec: EnvironmentSpec) -> list[dict[str, Any]]:
    inst = instance_name(spec.project, spec.environment)
    return [
        {"name": "filestore", "persistentVolumeClaim": {"claimName": f"{inst}-filestore"}},
        {
            "name": "config",
            "secret": {"secretName": secret_names(spec)["config"], "defaultMode": 0o440},
        },
        {"name": "tmp", "emptyDir": {}},
    ]


def _mounts(image: ImageLayout) -> list[dict[str, Any]]:
    return [
        {"name": "filestore", "mountPath": image.data_dir},
        {"name": "config", "mountPath": image.conf_dir, "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},
    ]


def _probe(path: str, *, period: int, timeout: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def server_argv(image: ImageLayout) -> list[str]:
    return [*image.odoo_command, "-c", image.conf_path]


def deployment_name(spec: EnvironmentSpec, slot: str | None = None) -> str:
    inst = instance_name(spec.project, spec.environment)
    return f"{inst}-{slot}" if slot else inst


def _server_affinity(spec: EnvironmentSpec, *, required: bool) -> dict[str, Any]:
    """Keep the pods that mount the filestore claim (``ReadWriteOnce``) on one node."""
    term = {
        "labelSelector": {"matchLabels": selector_labels(spec, "server")},
        "topologyKey": "kubernetes.io/hostname",
    }
    if required:
        return {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    return {
        "podAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "podAffinityTerm": term}
            ]
        }
    }


def deployment(
    spec: EnvironmentSpec,
    settings: ClusterSettings,
    image: ImageLayout,
    *,
    argv: Sequence[str] | None = None,
    slot: str | None = None,
) -> dict[str, Any]:
    """The server of the environment; with ``slot`` (blue, green), one of its two slots:
    a Deployment of its own, the Service sending users to one of them."""
    ports = [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}]
    if spec.workers:
        ports.append({"name": "websocket", "containerPort": GEVENT_PORT, "protocol": "TCP"})
    container: dict[str, Any] = {
        "name": "odoo",
        "image": image.image,
        "imagePullPolicy": settings.image_pull_policy,
        # args, not command: the image's entrypoint (tini, then odooplane's) stays PID 1.
        "args": list(argv or server_argv(image)),
        "ports": ports,
        "env": _env(spec),
        "envFrom": _env_from(spec),
        "volumeMounts": _mounts(image),
        "resources": settings.resources.to_dict(),
        "securityContext": _container_security(),
        # Odoo starts in seconds but a first asset build can take minutes: the startup
        # probe allows 10 minutes before liveness takes over.
        "startupProbe": _probe("/web/health", period=5, timeout=5, failures=120),
        "readinessProbe": _probe("/web/health", period=10, timeout=5, failures=3),
        "livenessProbe": _probe("/web/health", period=30, timeout=10, failures=5),
    }
    selector = selector_labels(spec, "server")
    pod_labels = labels(spec, "server")
    if slot:
        selector[SLOT_LABEL] = slot
        pod_labels[SLOT_LABEL] = slot
    meta = _meta(spec, settings, deployment_name(spec, slot), "server")
    meta["labels"] = dict(pod_labels)
    pod: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": _pod_security(image),
        # Odoo finishes its requests on SIGTERM; workers may need the longest one.
        "terminationGracePeriodSeconds": 60 if spec.workers else 30,
        "containers": [container],
        "volumes": _volumes(spec),
    }
    if slot:
        pod["affinity"] = _server_affinity(spec, required=True)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": spec.replicas,
            "revisionHistoryLimit": 5,
            # One build at a time per Deployment on a database: never two side by side.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {
                    "labels": pod_labels,
                    "annotations": {ANNOTATION_CONFIG_HASH: config_hash(spec)},
                },
                "spec": pod,
            },
        },
    }


def service(
    spec: EnvironmentSpec, settings: ClusterSettings, *, serving_slot: str | None = None
) -> dict[str, Any]:
    """The environment's address in the cluster: the pods of the serving slot. Its
    annotations keep the environment's record (and a preview's)."""
    inst = instance_name(spec.project, spec.environment)
    ports = [{"name": "http", "port": HTTP_PORT, "targetPort": "http", "protocol": "TCP"}]
    if spec.workers:
        ports.append(
            {"name": "websocket", "port": GEVENT_PORT, "targetPort": "websocket", "protocol": "TCP"}
        )
    selector = selector_labels(spec, "server")
    if serving_slot:
        selector[SLOT_LABEL] = serving_slot
    annotations = {ANNOTATION_STATE: json.dumps(dict(spec.state), sort_keys=True)}
    for key, record in sorted(spec.records.items()):
        annotations[record_annotation(key)] = json.dumps(dict(record), sort_keys=True)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(spec, settings, inst, "server", annotations),
        "spec": {
            "type": settings.service_type,
            "selector": selector,
            "ports": ports,
        },
    }


def ingress(spec: EnvironmentSpec, settings: ClusterSettings) -> dict[str, Any] | None:
    if not spec.host:
        return None
    inst = instance_name(spec.project, spec.environment)

    def path(prefix: str, port: str) -> dict[str, Any]:
        return {
            "path": prefix,
            "pathType": "Prefix",
            "backend": {"service": {"name": inst, "port": {"name": port}}},
        }

    paths = [path("/", "http")]
    if spec.workers:
        paths.insert(0, path("/websocket", "websocket"))
    body: dict[str, Any] = {"rules": [{"host": spec.host, "http": {"paths": paths}}]}
    if settings.ingress_class:
        body["ingressClassName"] = settings.ingress_class
    if settings.tls_secret:
        body["tls"] = [{"hosts": [spec.host], "secretName": settings.tls_secret}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _meta(spec, settings, inst, "server", settings.ingress_annotations or None),
        "spec": body,
    }


def environment_objects(
    spec: EnvironmentSpec, settings: ClusterSettings, image: ImageLayout
) -> list[dict[str, Any]]:
    """Every long-lived object of the environment, in the order to apply them."""
    objects = [
        *secrets(spec, settings),
        filestore_claim(spec, settings),
        service(spec, settings),
        deployment(spec, settings, image),
    ]
    route = ingress(spec, settings)
    if route is not None:
        objects.append(route)
    return objects


def job_name(project: str, environment: str, task: str, run_id: str) -> str:
    return f"{instance_name(project, environment)}-{task}-{run_id}"[:63].rstrip("-")


def task_job(
    spec: EnvironmentSpec,
    settings: ClusterSettings,
    image: ImageLayout,
    *,
    task: str,
    argv: Sequence[str],
    run_id: str,
    deadline_seconds: int = 6 * 3600,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A one-shot Odoo run (``init``, ``update``, ``neutralize``...) in the environment's
    pod setup (same image, secrets and filestore), never retried: a failed update is
    rolled back, not run twice."""
    name = job_name(spec.project, spec.environment, task, run_id)
    job_labels = {**labels(spec, task), TASK_LABEL: task, RUN_LABEL: run_id}
    container: dict[str, Any] = {
        "name": "odoo",
        "image": image.image,
        "imagePullPolicy": settings.image_pull_policy,
        "args": list(argv),
        "env": _env(spec),
        "envFrom": _env_from(spec),
        "volumeMounts": _mounts(image),
        "resources": (settings.task_resources or settings.resources).to_dict(),
        "securityContext": _container_security(),
    }
    meta = _meta(spec, settings, name, task, annotations)
    meta["labels"] = job_labels
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": deadline_seconds,
            "ttlSecondsAfterFinished": 7 * 24 * 3600,
            "template": {
                "metadata": {"labels": job_labels},
                "spec": {
                    "restartPolicy": "Never",
                    # Near the server's pods: they share the filestore claim.
                    "affinity": _server_affinity(spec, required=False),
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": _pod_security(image),
                    "containers": [container],
                    "volumes": _volumes(spec),
                },
            },
        },
    }
