"""One environment and what running it takes: its paths and database, its secrets kept
0600, and the odoo.conf odooplane writes (the options it owns always win)."""

from __future__ import annotations

import configparser
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from odooplane.config import EnvironmentKind, load_config
from odooplane.environments.builds import Build
from odooplane.environments.context import OWNED_OPTIONS, EnvContext, conf_options, render_odoo_conf
from odooplane.environments.ports import PortPair
from odooplane.errors import NotFoundError
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project

ODOO = Path("/opt/odoo-src/17.0")


@pytest.fixture
def project(make_git_repo: Callable[..., Path], pg_server: DatabaseServer) -> Project:
    repo = make_git_repo("shop", {"addons/shop_sale/__manifest__.py": "{'name': 's'}\n",
                                  "addons/shop_sale/__init__.py": ""})  # fmt: skip
    (repo / ".env.staging").write_text("ACME_KEY=sandbox\n")
    (repo / "odooplane.yaml").write_text(
        "project: shop\n"
        f"odoo: {{series: '17.0', source: {ODOO}}}\n"
        f"database: {{server: '{pg_server.url(redact=False)}'}}\n"
        "environments:\n"
        "  production: {kind: production, url: 'https://erp.example.com/', workers: 2}\n"
        "  staging:\n"
        "    kind: staging\n"
        "    data: {copy: production}\n"
        "    env_file: .env.staging\n"
        "    odoo_options: {limit_time_real: 600, smtp_server: smtp.acme.com, gevent_port: 9998}\n"
        "  dev: {kind: development, data: demo}\n"
    )
    return Project(root=repo, config=load_config(repo / "odooplane.yaml"))


def _build(project: Project) -> Build:
    return Build(
        sha="e" * 40,
        ref="main",
        branch="main",
        subject="s",
        message="s",
        author_name="A",
        author_email="a@example.com",
        committed_at="2026-01-01T00:00:00+00:00",
        authored_at="2026-01-01T00:00:00+00:00",
        odoo_series="17.0",
        odoo_revision="r",
        odoo_path=str(ODOO),
        deps_hash="d",
        runtime_path="/nonexistent",
        python="python3",
        code_dir=str(project.root),
        project_subdir="",
    )


def test_paths_kind_and_data(project: Project) -> None:
    staging = EnvContext(project, "staging")
    assert staging.kind is EnvironmentKind.staging and not staging.is_production
    assert staging.database == project.config.database_name("staging")
    assert staging.dir == project.state_dir / "environments" / "staging"
    assert staging.conf_path == staging.dir / "odoo.conf"
    assert staging.log_path == staging.dir / "odoo.log"
    assert staging.filestore_root == project.odoo_data_dir / "filestore"
    assert staging.copy_source == "production" and not staging.demo
    assert staging.env_file_path == project.root / ".env.staging"
    assert staging.env_values() == {"ACME_KEY": "sandbox"}
    dev = EnvContext(project, "dev")
    assert dev.demo and dev.copy_source is None
    assert dev.env_file_path is None and dev.env_values() == {}
    assert EnvContext(project, "production").is_production
    with pytest.raises(NotFoundError):
        EnvContext(project, "qa")


def test_urls(project: Project) -> None:
    ports = PortPair(18069, 18072)
    assert EnvContext(project, "production").url(ports) == "https://erp.example.com"
    assert EnvContext(project, "staging").url(ports) == "http://localhost:18069"
    assert EnvContext(project, "staging").url(None) == ""
    assert EnvContext(project, "staging").local_url(ports) == "http://127.0.0.1:18069"


def test_admin_password_is_made_once_and_private(project: Project) -> None:
    ctx = EnvContext(project, "staging")
    first = ctx.admin_password()
    assert len(first) >= 24
    path = ctx.dir / "secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert EnvContext(project, "staging").admin_password() == first
    assert EnvContext(project, "dev").admin_password() != first
    path.write_text("[]")  # damaged: a new one is made rather than failing
    assert ctx.admin_password() not in ("", first)


def test_conf_options_owned_options_win(project: Project, pg_server: DatabaseServer) -> None:
    ctx = EnvContext(project, "staging")
    ports = PortPair(18069, 18072)
    options = conf_options(ctx, _build(project), ports, pg_server, catcher=("127.0.0.1", 2599))
    assert options["db_name"] == ctx.database
    assert options["dbfilter"] == f"^{ctx.database}$"
    assert options["list_db"] is False
    assert options["data_dir"] == project.odoo_data_dir
    assert (options["http_port"], options["gevent_port"]) == (18069, 18072)  # not 9998
    assert options["limit_time_real"] == 600  # the project's own option is kept
    assert options["http_interface"] == "127.0.0.1" and options["proxy_mode"] is True
    assert options["max_cron_threads"] == 0  # a neutralized copy runs no cron by itself
    assert (options["smtp_server"], options["smtp_port"], options["smtp_user"]) == (
        "127.0.0.1",
        2599,
        False,
    )
    assert options["db_host"] == pg_server.host
    addons = [Path(p) for p in options["addons_path"]]
    assert addons[0] == (project.root / "addons").resolve()
    assert (ODOO / "odoo" / "addons").resolve() in addons
    assert set(OWNED_OPTIONS) <= set(options)


def test_without_a_server_no_db_options_are_written(project: Project) -> None:
    dev = EnvContext(project, "dev")
    options = conf_options(dev, _build(project), PortPair(1, 2), None, catcher=None)
    assert not any(key.startswith("db_") and key != "db_name" for key in options)
    assert "smtp_server" not in options and "max_cron_threads" not in options
    assert options["demo"] is True


def test_render_odoo_conf_is_a_readable_ini(project: Project, pg_server: DatabaseServer) -> None:
    ctx = EnvContext(project, "staging")
    text = render_odoo_conf(
        ctx, _build(project), PortPair(18069, 18072), pg_server, catcher=("127.0.0.1", 2599)
    )
    assert text.startswith(f"; Written by odooplane for environment 'staging' (build {'e' * 12}).")
    parser = configparser.RawConfigParser()
    parser.read_string(text)
    conf = dict(parser.items("options"))
    assert conf["db_name"] == ctx.database
    assert conf["http_port"] == "18069"
    assert conf["list_db"] == "False"
    assert conf["without_demo"] == "all" or conf.get("with_demo") == "False"
