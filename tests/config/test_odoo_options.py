"""odoo_options that weaken an environment are refused or warned about by config check;
nothing is silently written to odoo.conf or silently overridden (issue 10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures_config import VALID, issues_of, write
from odooplane.config import load_config_details


def _with_options(options: str, env: str = "production") -> str:
    marker = {"production": "    kind: production\n", "dev": "    data: demo\n"}[env]
    return VALID.replace(marker, marker + f"    odoo_options: {options}\n")


@pytest.mark.parametrize(
    ("options", "key", "says"),
    [
        ("{http_port: -1}", "http_port", "from 1024 to 65535"),
        ("{http_port: 70000}", "http_port", "from 1024 to 65535"),
        ("{http_port: 80}", "http_port", "unprivileged user"),
        ("{gevent_port: 'x'}", "gevent_port", "'x' is not a valid gevent_port"),
        ("{workers: -2}", "workers", "from 0"),
        ("{limit_time_cpu: 1.5}", "limit_time_cpu", "whole number"),
        ("{admin_passwd: admin}", "admin_passwd", "default or shorter than 16"),
        ("{admin_passwd: short-one}", "admin_passwd", "default or shorter than 16"),
        ("{list_db: true}", "list_db", "database manager stays closed"),
        ("{dbfilter: '.*'}", "dbfilter", "odooplane writes 'dbfilter' itself"),
        ("{db_name: other}", "db_name", "odooplane writes 'db_name' itself"),
        ("{db_user: odooplane}", "db_user", "its own role"),
        ("{db_password: x}", "db_password", "its own role"),
        ("{db_host: 10.0.0.1}", "db_host", "database.server"),
        ("{data_dir: /tmp/x}", "data_dir", "filestore"),
        ("{http_interface: ''}", "http_interface", "every interface without saying so"),
        ("{dev_mode: 'reload,werkzeug'}", "dev_mode", "interactive debugger"),
    ],
)
def test_weakening_options_are_refused(tmp_path: Path, options: str, key: str, says: str) -> None:
    path = write(tmp_path, _with_options(options))
    issues = [i for i in issues_of(path) if i.path == f"environments.production.odoo_options.{key}"]
    assert len(issues) == 1, issues
    assert says in issues[0].message + issues[0].fix
    assert issues[0].line == 8


def test_sound_options_pass_and_warnings_are_said(tmp_path: Path) -> None:
    (tmp_path / "prod.env").write_text("ADMIN_PASSWD=" + "k" * 24 + "\n")
    text = _with_options(
        "{http_port: 8069, workers: 2, limit_time_cpu: 600, admin_passwd: '${ADMIN_PASSWD}', "
        "http_interface: 0.0.0.0, smtp_password: literal-secret}"
    ).replace("    kind: production\n", "    kind: production\n    env_file: prod.env\n")
    loaded = load_config_details(write(tmp_path, text), environ={})
    warned = {issue.path: issue.message for issue in loaded.warnings}
    assert set(warned) == {
        "environments.production.odoo_options.http_interface",
        "environments.production.odoo_options.smtp_password",
    }
    assert "every interface" in warned["environments.production.odoo_options.http_interface"]
    assert "committed" in warned["environments.production.odoo_options.smtp_password"]
    # From the env file: not "written in odooplane.yaml".
    assert "environments.production.odoo_options.admin_passwd" not in warned


def test_development_may_debug(tmp_path: Path) -> None:
    path = write(tmp_path, _with_options("{dev_mode: 'reload,werkzeug'}", env="dev"))
    assert load_config_details(path, environ={}).config.environments["dev"].odoo_options
