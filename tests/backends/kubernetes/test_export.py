"""`odooplane export kubernetes`: a real project and build, manifests that pass
`kubernetes-validate --strict` for Kubernetes 1.32 and the newest it knows."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from ruamel.yaml import YAML

from conftest import run_git, write_addon
from odooplane.backends.kubernetes.api import KubeClient
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.source import OdooSource
from odooplane.postgres import databases as dbs
from odooplane.postgres import roles
from odooplane.postgres.server import DatabaseServer

pytestmark = [pytest.mark.odoo]

VALIDATOR = Path(sys.executable).with_name("kubernetes-validate")
VERSIONS = ("1.32.0", kubernetes_validate.latest_version())


def make_project(root: Path, source: Path, *, server: str) -> Path:
    root.mkdir(parents=True)
    run_git(root, "init", "-q", "-b", "main")
    (root / "odooplane.yaml").write_text(
        "project: acme-erp\n"
        "odoo:\n"
        "  series: '17.0'\n"
        f"  source: '{source}'\n"
        "database:\n"
        f"  server: '{server}'\n"
        "environments:\n"
        "  production:\n"
        "    kind: production\n"
        "    workers: 2\n"
        "    url: https://erp.acme.example\n"
        "    env_file: production.env\n"
        "    resources: {requests: {cpu: 500m, memory: 1Gi}, limits: {cpu: 2, memory: 3Gi}}\n"
        "  staging:\n"
        "    kind: staging\n"
        "    url: https://staging.acme.example\n"
        "    data: {copy: production}\n"
        "kubernetes:\n"
        "  namespace: acme\n"
        "  ingress_class: nginx\n"
        "  storage_class: fast-ssd\n"
        "  tls_secret: acme-tls\n"
        "  image_registry: registry.acme.example/odoo\n"
    )
    (root / "production.env").write_text("PAYMENT_KEY=live-123\n")
    (root / ".gitignore").write_text(".odooplane/\n*.env\n")
    write_addon(root / "addons", "acme_sale")
    run_git(root, "add", "-A")
    run_git(root, "commit", "-q", "-m", "Acme addons")
    return root


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "odooplane", "-C", str(root), "export", "kubernetes", *args],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ},
    )


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in YAML(typ="safe").load_all(path.read_text()) if d]


@pytest.fixture
def acme(tmp_path: Path, odoo_source: OdooSource, odoo_runtime: Runtime) -> Path:
    return make_project(
        tmp_path / "acme",
        odoo_source.path,
        server="postgresql://acme:s3cret@db.acme.example:5432/postgres?sslmode=require",
    )


def test_export_validates_strictly_and_holds_the_build(acme: Path, tmp_path: Path) -> None:
    out = tmp_path / "manifests"
    done = cli(acme, "-o", str(out), "--json")
    assert done.returncode == 0, done.stderr
    files = sorted(p.name for p in out.iterdir())
    assert files == ["kustomization.yaml", "namespace.yaml", "production.yaml", "staging.yaml"]
    for name in ("namespace.yaml", "production.yaml", "staging.yaml"):
        for version in VERSIONS:
            check = subprocess.run(
                [str(VALIDATOR), "--strict", "-k", version, str(out / name)],
                capture_output=True,
                text=True,
            )
            assert check.returncode == 0, check.stdout + check.stderr

    sha = run_git(acme, "rev-parse", "HEAD")
    prod = {f"{d['kind']}/{d['metadata']['name']}": d for d in documents(out / "production.yaml")}
    assert sorted(prod) == sorted(
        [
            "Deployment/acme-erp-production",
            f"Job/acme-erp-production-init-{sha[:12]}",
            f"Job/acme-erp-production-update-{sha[:12]}",
            "PersistentVolumeClaim/acme-erp-production-filestore",
            "Service/acme-erp-production",
            "Ingress/acme-erp-production",
        ]
    )
    dep = prod["Deployment/acme-erp-production"]
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"registry.acme.example/odoo/acme-erp:{sha[:12]}"
    assert container["args"] == [
        "/opt/odoo/venv/bin/python",
        "/opt/odoo/src/odoo-bin",
        "-c",
        "/etc/odoo/odoo.conf",
    ]
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "3Gi"},
    }
    assert dep["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 10001
    assert dep["metadata"]["labels"]["odooplane/build"] == sha
    init = prod[f"Job/acme-erp-production-init-{sha[:12]}"]
    init_args = init["spec"]["template"]["spec"]["containers"][0]["args"]
    assert init_args[init_args.index("-i") + 1] == "acme_sale,base,web"
    update = prod[f"Job/acme-erp-production-update-{sha[:12]}"]
    update_args = update["spec"]["template"]["spec"]["containers"][0]["args"]
    assert update_args[update_args.index("-u") + 1] == "acme_sale"
    route = prod["Ingress/acme-erp-production"]
    assert route["spec"]["ingressClassName"] == "nginx"
    assert route["spec"]["rules"][0]["host"] == "erp.acme.example"
    assert route["spec"]["tls"] == [{"hosts": ["erp.acme.example"], "secretName": "acme-tls"}]
    claim = prod["PersistentVolumeClaim/acme-erp-production-filestore"]
    assert claim["spec"]["storageClassName"] == "fast-ssd"
    waves = {
        k: v["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] for k, v in prod.items()
    }
    assert (
        int(waves[f"Job/acme-erp-production-init-{sha[:12]}"])
        < int(waves[f"Job/acme-erp-production-update-{sha[:12]}"])
        < int(waves["Deployment/acme-erp-production"])
    )

    staging = {d["kind"] + "/" + d["metadata"]["name"] for d in documents(out / "staging.yaml")}
    assert f"Job/acme-erp-staging-neutralize-{sha[:12]}" in staging
    kustomization = documents(out / "kustomization.yaml")[0]
    assert kustomization["namespace"] == "acme"
    assert kustomization["resources"] == ["namespace.yaml", "production.yaml", "staging.yaml"]
    # Without --include-secrets no password is written anywhere.
    for path in out.iterdir():
        assert "s3cret" not in path.read_text() and "live-123" not in path.read_text()
    listed = subprocess.run(
        [
            sys.executable,
            "-m",
            "odooplane",
            "-C",
            str(acme),
            "export",
            "kubernetes",
            "production",
            "-o",
            str(tmp_path / "again"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "acme-erp-production-db: PGHOST, PGPASSWORD, PGPORT, PGUSER" in listed.stdout


@pytest.fixture
def acme_reachable(
    tmp_path: Path, odoo_source: OdooSource, odoo_runtime: Runtime, pg_server: DatabaseServer
) -> Iterator[Path]:
    """Acme on a real server: its Secrets hold each environment's own role, which
    odooplane creates there (issue 10: they held the server's login)."""
    url = replace(pg_server, params=(("sslmode", "disable"),)).url(redact=False)
    yield make_project(tmp_path / "acme-real", odoo_source.path, server=url)
    for role in ("acme_erp_production", "acme_erp_staging"):
        # The export made each role with its (empty) database, for the init Jobs.
        dbs.drop_database(pg_server, role, terminate=True, missing_ok=True)
        roles.retire_role(pg_server, role)


def test_include_secrets_writes_them_private(
    acme_reachable: Path, tmp_path: Path, pg_server: DatabaseServer
) -> None:
    acme = acme_reachable
    out = tmp_path / "with-secrets"
    done = cli(acme, "production", "staging", "-o", str(out), "--include-secrets")
    assert done.returncode == 0, done.stderr
    secrets_file = out / "production.secrets.yaml"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    for version in VERSIONS:
        check = subprocess.run(
            [str(VALIDATOR), "--strict", "-k", version, str(secrets_file)],
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stdout
    secrets = {d["metadata"]["name"]: d["data"] for d in documents(secrets_file)}

    def value(secret: str, key: str) -> str:
        return base64.b64decode(secrets[secret][key]).decode()

    # The environment's own role and password, never the server's login.
    assert value("acme-erp-production-db", "PGUSER") == "acme_erp_production"
    password = value("acme-erp-production-db", "PGPASSWORD")
    assert len(password) >= 32 and password != pg_server.password
    assert value("acme-erp-production-db", "PGHOST") == pg_server.host
    assert value("acme-erp-production-db", "PGSSLMODE") == "disable"
    assert value("acme-erp-production-env", "PAYMENT_KEY") == "live-123"
    with pg_server.connect() as conn:
        row = conn.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = %s",
            ("acme_erp_production",),
        ).fetchone()
    assert row == (False, False, False)
    conf = value("acme-erp-production-config", "odoo.conf")
    assert "db_host" not in conf and str(pg_server.password) not in conf
    assert "data_dir = /var/lib/odoo" in conf
    assert "addons_path = /opt/odoo/project/addons,/opt/odoo/src/odoo/addons" in conf
    assert "workers = 2" in conf and "proxy_mode = True" in conf
    staging = {d["metadata"]["name"]: d["data"] for d in documents(out / "staging.secrets.yaml")}
    staging_db = {
        k: base64.b64decode(v).decode() for k, v in staging["acme-erp-staging-db"].items()
    }
    assert staging_db["PGUSER"] == "acme_erp_staging" and staging_db["PGPASSWORD"] != password
    staging_conf = base64.b64decode(staging["acme-erp-staging-config"]["odoo.conf"]).decode()
    assert "max_cron_threads = 0" in staging_conf
    assert "smtp_server = 127.0.0.1" in staging_conf and "smtp_port = 1" in staging_conf
    assert "acme-erp-staging-env" not in staging  # staging has no env file
    assert "kubectl apply -k" in done.stdout


def test_mistakes_are_sentences(acme: Path, tmp_path: Path) -> None:
    done = cli(acme, "nope", "-o", str(tmp_path / "x"))
    assert done.returncode == 1  # not found, as for every command naming an environment
    assert "No environment named 'nope'" in done.stderr and "Traceback" not in done.stderr
    config = acme / "odooplane.yaml"
    config.write_text(
        config.read_text().replace(
            "  server: 'postgresql://acme:s3cret@db.acme.example:5432/postgres?sslmode=require'\n",
            "  server: embedded\n",
        )
    )
    done = cli(acme, "-o", str(tmp_path / "y"), "--include-secrets")
    assert done.returncode == 1
    assert "pods cannot reach it" in done.stderr


def test_the_real_cluster_accepts_them(
    acme_reachable: Path, tmp_path: Path, kube: KubeClient, kube_namespace: str
) -> None:
    """Server-side dry run on the test cluster (1.20): admission and defaults included."""
    acme = acme_reachable
    out = tmp_path / "dry"
    assert cli(acme, "-o", str(out), "--include-secrets").returncode == 0
    for name in ("production.secrets.yaml", "production.yaml", "staging.yaml"):
        for doc in documents(out / name):
            doc["metadata"]["namespace"] = kube_namespace
            accepted = kube.apply(doc, dry_run=True)
            assert accepted["metadata"]["name"] == doc["metadata"]["name"]
