"""The objects of an environment: valid for current Kubernetes, labelled, least privilege."""

from __future__ import annotations

import base64
import json
from typing import Any

import kubernetes_validate
import pytest

from odooplane.backends.kubernetes import manifests as m

VALIDATE_VERSIONS = ("1.32.0", kubernetes_validate.latest_version())


def spec(**overrides: Any) -> m.EnvironmentSpec:
    values: dict[str, Any] = {
        "project": "acme-erp",
        "environment": "production",
        "kind": "production",
        "database": "acme_production",
        "build": {"sha": "a" * 40, "branch": "main", "odoo_series": "17.0"},
        "odoo_conf": "[options]\nadmin_passwd = s3cret\ndb_name = acme_production\n",
        "db_env": {
            "PGHOST": "db.example.com",
            "PGPORT": "5432",
            "PGUSER": "acme",
            "PGPASSWORD": "pw",
        },
        "host": "erp.acme.example",
        "workers": 2,
        "state": {"build": "a" * 40, "status": "running"},
    }
    values.update(overrides)
    return m.EnvironmentSpec(**values)


SETTINGS = m.ClusterSettings(namespace="odoo", ingress_class="nginx", storage_class="fast")
IMAGE = m.ImageLayout(
    image="registry.example/acme:aaaaaaaaaaaa",
    odoo_command=["/opt/venv/bin/python", "/opt/odoo/odoo-bin"],
)


def validate(obj: dict[str, Any]) -> None:
    for version in VALIDATE_VERSIONS:
        kubernetes_validate.validate(obj, version, strict=True)


def test_every_object_validates_strictly() -> None:
    objects = m.environment_objects(spec(), SETTINGS, IMAGE)
    kinds = [o["kind"] for o in objects]
    assert kinds == [
        "Secret",
        "Secret",
        "PersistentVolumeClaim",
        "Service",
        "Deployment",
        "Ingress",
    ]
    for obj in objects:
        validate(obj)
    job = m.task_job(
        spec(),
        SETTINGS,
        IMAGE,
        task="update",
        run_id="abc123",
        argv=["/opt/venv/bin/python", "/opt/odoo/odoo-bin", "-u", "all"],
    )
    validate(job)


def test_deployment_runs_non_root_with_probes_and_resources() -> None:
    settings = m.ClusterSettings(
        namespace="odoo",
        resources=m.Resources(
            requests={"cpu": "1", "memory": "1Gi"}, limits={"cpu": "2", "memory": "3Gi"}
        ),
    )
    dep = m.deployment(spec(), settings, IMAGE)
    pod = dep["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 1000
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"] == {
        "requests": {"cpu": "1", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "3Gi"},
    }
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/web/health", "port": "http"}
    assert container["args"] == [
        "/opt/venv/bin/python",
        "/opt/odoo/odoo-bin",
        "-c",
        "/etc/odoo/odoo.conf",
    ]
    assert dep["spec"]["strategy"] == {"type": "Recreate"}
    assert [p["containerPort"] for p in container["ports"]] == [8069, 8072]


def test_secrets_stay_in_secrets() -> None:
    objects = m.environment_objects(spec(), SETTINGS, IMAGE)
    not_secrets = json.dumps([o for o in objects if o["kind"] != "Secret"])
    assert "s3cret" not in not_secrets and "pw" not in not_secrets.replace("pwd", "")
    db = next(o for o in objects if o["metadata"]["name"].endswith("-db"))
    assert base64.b64decode(db["data"]["PGPASSWORD"]) == b"pw"
    container = m.deployment(spec(), SETTINGS, IMAGE)["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"] == [{"secretRef": {"name": "acme-erp-production-db"}}]


def test_env_file_becomes_a_secret_read_by_the_pods() -> None:
    with_env = spec(env_vars={"API_KEY": "k"})
    objects = m.environment_objects(with_env, SETTINGS, IMAGE)
    assert [o["metadata"]["name"] for o in objects if o["kind"] == "Secret"] == [
        "acme-erp-production-db",
        "acme-erp-production-config",
        "acme-erp-production-env",
    ]
    container = m.deployment(with_env, SETTINGS, IMAGE)["spec"]["template"]["spec"]["containers"][0]
    # The database secret comes last: an env file cannot redirect the database.
    assert container["envFrom"] == [
        {"secretRef": {"name": "acme-erp-production-env"}},
        {"secretRef": {"name": "acme-erp-production-db"}},
    ]


def test_a_changed_secret_rolls_the_pods() -> None:
    one = m.deployment(spec(), SETTINGS, IMAGE)
    two = m.deployment(spec(db_env={"PGHOST": "other"}), SETTINGS, IMAGE)
    key = m.ANNOTATION_CONFIG_HASH
    assert (
        one["spec"]["template"]["metadata"]["annotations"][key]
        != two["spec"]["template"]["metadata"]["annotations"][key]
    )


def test_ingress_class_host_and_websocket_route() -> None:
    route = m.ingress(
        spec(), m.ClusterSettings(namespace="odoo", ingress_class="traefik", tls_secret="erp-tls")
    )
    assert route is not None
    assert route["spec"]["ingressClassName"] == "traefik"
    assert route["spec"]["tls"] == [{"hosts": ["erp.acme.example"], "secretName": "erp-tls"}]
    paths = route["spec"]["rules"][0]["http"]["paths"]
    assert [(p["path"], p["backend"]["service"]["port"]["name"]) for p in paths] == [
        ("/websocket", "websocket"),
        ("/", "http"),
    ]
    single = m.ingress(spec(workers=0), SETTINGS)
    assert single is not None
    assert [p["path"] for p in single["spec"]["rules"][0]["http"]["paths"]] == ["/"]
    assert m.ingress(spec(host=None), SETTINGS) is None


def test_labels_carry_what_rebuilds_the_view() -> None:
    preview = spec(environment="pr-42-fix-login", kind="preview", pull_request=42)
    for obj in m.environment_objects(preview, SETTINGS, IMAGE):
        labels = obj["metadata"]["labels"]
        assert labels[m.MANAGED_BY] == "odooplane"
        assert labels[m.PROJECT_LABEL] == "acme-erp"
        assert labels[m.ENVIRONMENT_LABEL] == "pr-42-fix-login"
        assert labels[m.KIND_LABEL] == "preview"
        assert labels[m.PULL_REQUEST_LABEL] == "42"
        assert labels[m.BUILD_LABEL] == "a" * 40
    service = m.service(preview, SETTINGS)
    record = json.loads(service["metadata"]["annotations"][m.ANNOTATION_STATE])
    assert record["status"] == "running"


def test_slots_are_deployments_the_service_chooses_between() -> None:
    blue = m.deployment(spec(), SETTINGS, IMAGE, slot="blue")
    green = m.deployment(spec(), SETTINGS, IMAGE, slot="green")
    assert blue["metadata"]["name"] == "acme-erp-production-blue"
    assert green["spec"]["selector"]["matchLabels"][m.SLOT_LABEL] == "green"
    assert green["spec"]["template"]["metadata"]["labels"][m.SLOT_LABEL] == "green"
    # Both mount the same ReadWriteOnce claim: one node.
    affinity = blue["spec"]["template"]["spec"]["affinity"]["podAffinity"]
    (term,) = affinity["requiredDuringSchedulingIgnoredDuringExecution"]
    assert m.SLOT_LABEL not in term["labelSelector"]["matchLabels"]
    service = m.service(spec(), SETTINGS, serving_slot="green")
    assert service["spec"]["selector"][m.SLOT_LABEL] == "green"
    for obj in (blue, green, service):
        validate(obj)


@pytest.mark.parametrize(
    ("project", "environment"),
    [
        ("acme", "production"),
        ("A_Very.Long.Project_Name-with-many-words", "pr-12345-a-pull-request-with-a-long-title"),
    ],
)
def test_names_are_dns_labels_with_room_for_suffixes(project: str, environment: str) -> None:
    name = m.instance_name(project, environment)
    assert m.DNS_LABEL_RE.match(name) and len(name) <= m.INSTANCE_MAX
    job = m.task_job(
        spec(project=project, environment=environment),
        SETTINGS,
        IMAGE,
        task="neutralize",
        run_id="20261201t190000",
        argv=["true"],
    )
    assert len(job["metadata"]["name"]) <= 63
    validate(job)
    # Different long environments never share a name.
    assert m.instance_name(project, environment + "x") != name


def test_job_never_retries_and_shares_the_pod_setup() -> None:
    job = m.task_job(spec(), SETTINGS, IMAGE, task="update", run_id="r1", argv=["odoo", "-u"])
    assert job["spec"]["backoffLimit"] == 0
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert [v["name"] for v in pod["volumes"]] == ["filestore", "config", "tmp"]
    assert job["metadata"]["labels"][m.TASK_LABEL] == "update"
