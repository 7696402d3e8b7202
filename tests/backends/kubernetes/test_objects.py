"""From a project and a build to what the Kubernetes manifests are made of: namespace,
cluster settings, the image as nodes pull it, the pods' odoo.conf with the image's paths,
and Odoo's command lines (no cluster needed: the objects are data)."""

from __future__ import annotations

import configparser
from collections.abc import Callable
from pathlib import Path

import pytest

from odooplane.backends.kubernetes import objects
from odooplane.config import load_config
from odooplane.environments.builds import Build
from odooplane.environments.context import EnvContext
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project

ODOO = "/opt/odoo-src/17.0"


def _project(repo: Path, kubernetes: str = "") -> Project:
    (repo / "odooplane.yaml").write_text(
        "project: acme_shop\n"
        f"odoo: {{series: '17.0', source: {ODOO}}}\n" + kubernetes + "environments:\n"
        "  production:\n"
        "    kind: production\n"
        "    url: https://erp.acme.example/\n"
        "    workers: 2\n"
        "    resources: {requests: {cpu: 250m}, limits: {cpu: '2'}}\n"
        "  staging: {kind: staging, data: {copy: production}, env_file: .env.staging}\n"
    )
    (repo / ".env.staging").write_text("ACME_KEY=sandbox\n")
    return Project(root=repo, config=load_config(repo / "odooplane.yaml"))


@pytest.fixture
def repo(make_git_repo: Callable[..., Path]) -> Path:
    return make_git_repo(
        "acme",
        {"addons/acme_sale/__manifest__.py": "{'name': 'a'}\n", "addons/acme_sale/__init__.py": ""},
    )


def _build(repo: Path) -> Build:
    return Build(
        sha="ab" * 20,
        ref="main",
        branch="main",
        subject="s",
        message="s",
        author_name="A",
        author_email="a@example.com",
        committed_at="2026-01-01T00:00:00+00:00",
        authored_at="2026-01-01T00:00:00+00:00",
        odoo_series="17.0",
        odoo_revision="1234567890abcdef",
        odoo_path=ODOO,
        deps_hash="d3p5",
        runtime_path="/nonexistent",
        python="python3",
        code_dir=str(repo),
        project_subdir="",
    )


def test_namespace_defaults_to_the_project_as_a_dns_label(repo: Path) -> None:
    assert objects.namespace_of(_project(repo)) == "acme-shop"
    assert objects.namespace_of(_project(repo, "kubernetes: {namespace: erp}\n")) == "erp"


def test_cluster_settings_take_the_environment_s_resources(repo: Path) -> None:
    project = _project(repo, "kubernetes: {ingress_class: nginx, service_type: NodePort}\n")
    prod = objects.cluster_settings(project, "production")
    assert prod.namespace == "acme-shop" and prod.ingress_class == "nginx"
    assert prod.service_type == "NodePort"
    assert prod.resources.requests["cpu"] == "250m" and prod.resources.limits["cpu"] == "2"
    staging = objects.cluster_settings(project, "staging")
    assert staging.resources.requests == dict(project.config.kubernetes.resources.requests)


def test_image_reference_with_and_without_a_registry(repo: Path) -> None:
    build = _build(repo)
    assert objects.image_reference(_project(repo), build) == f"odooplane/acme_shop:{'ab' * 6}"
    pushed = _project(repo, "kubernetes: {image_registry: 'registry.example.com/team/'}\n")
    assert (
        objects.image_reference(pushed, build) == f"registry.example.com/team/acme_shop:{'ab' * 6}"
    )
    layout = objects.image_layout(pushed, build)
    assert layout.odoo_command == ["/opt/odoo/venv/bin/python", "/opt/odoo/src/odoo-bin"]
    assert (layout.conf_dir, layout.data_dir, layout.uid) == ("/etc/odoo", "/var/lib/odoo", 10001)


def test_container_conf_uses_the_image_paths_and_no_server(repo: Path) -> None:
    project = _project(repo)
    build = _build(repo)
    text = objects.container_conf(EnvContext(project, "staging"), build)
    assert "The database server comes from the PG* variables of the pod." in text
    parser = configparser.RawConfigParser()
    parser.read_string(text)
    conf = dict(parser.items("options"))
    assert not any(k in conf for k in ("db_host", "db_user", "db_password"))
    assert conf["data_dir"] == "/var/lib/odoo"
    assert conf["http_interface"] == "0.0.0.0" and conf["http_port"] == "8069"
    # A neutralized copy mails nowhere: the pod's own loopback, port 1.
    assert (conf["smtp_server"], conf["smtp_port"]) == ("127.0.0.1", "1")
    paths = conf["addons_path"].split(",")
    assert paths[0] == "/opt/odoo/project/addons"
    assert all(p.startswith(("/opt/odoo/project/", "/opt/odoo/src/")) for p in paths)
    prod = dict(_parse(objects.container_conf(EnvContext(project, "production"), build)))
    assert "smtp_server" not in prod and prod["workers"] == "2"


def _parse(text: str) -> list[tuple[str, str]]:
    parser = configparser.RawConfigParser()
    parser.read_string(text)
    return parser.items("options")


def test_command_lines_run_the_image_s_odoo(repo: Path) -> None:
    project = _project(repo)
    ctx = EnvContext(project, "staging")
    build = _build(repo)
    odoo = ["/opt/odoo/venv/bin/python", "/opt/odoo/src/odoo-bin"]
    conf = ["-c", "/etc/odoo/odoo.conf", "-d", ctx.database]
    assert objects.init_argv(ctx, build, ["base", "acme_sale"]) == [
        *odoo, *conf, "-i", "base,acme_sale", "--without-demo=all", "--stop-after-init",
        "--no-http",
    ]  # fmt: skip
    assert objects.update_argv(ctx, build, install=["acme_new"], update=["acme_sale"]) == [
        *odoo, *conf, "-i", "acme_new", "-u", "acme_sale", "--stop-after-init", "--no-http",
    ]  # fmt: skip
    assert objects.neutralize_argv(ctx, build) == [*odoo, "neutralize", *conf]
    assert objects.shell_argv(ctx, build) == [*odoo, "shell", *conf, "--no-http"]
    runtime, source = objects.image_runtime(build)
    assert str(runtime.python) == "/opt/odoo/venv/bin/python"
    assert (str(source.path), source.revision) == ("/opt/odoo/src", "1234567890abcdef")


def test_environment_spec_without_secrets(repo: Path) -> None:
    project = _project(repo)
    spec = objects.environment_spec(
        EnvContext(project, "production"), _build(repo), server=None, replicas=2
    )
    assert (spec.project, spec.environment, spec.kind) == ("acme_shop", "production", "production")
    assert spec.host == "erp.acme.example" and spec.workers == 2 and spec.replicas == 2
    assert spec.db_env == {}
    assert spec.build["image"] == f"odooplane/acme_shop:{'ab' * 6}"
    staging = objects.environment_spec(EnvContext(project, "staging"), _build(repo), server=None)
    assert staging.env_vars == {"ACME_KEY": "sandbox"} and staging.host is None


def test_db_env_has_no_database_name(pg_server: DatabaseServer) -> None:
    env = objects.db_env(pg_server)
    assert "PGDATABASE" not in env
    assert env["PGHOST"] == pg_server.host and env["PGPORT"] == str(pg_server.port)
