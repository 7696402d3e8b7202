"""${VAR} interpolation: env files, then the process environment; secrets masked."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fixtures_config import VALID, assert_at, issues_of, one_issue, write
from odooplane.config import (
    ConfigFileError,
    load_config,
    load_config_details,
)

# -- interpolation ------------------------------------------------------------------------


def env_config(extra: str) -> str:
    return VALID.replace("    data: demo\n", "    data: demo\n" + textwrap.indent(extra, "    "))


def test_process_environment_is_interpolated(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("source: /opt/odoo", "source: ${ODOO_SRC}/17.0"))
    config = load_config(path, environ={"ODOO_SRC": "/srv/odoo"})
    assert config.odoo.source == "/srv/odoo/17.0"


def test_env_file_comes_before_the_process_environment(tmp_path: Path) -> None:
    (tmp_path / "dev.env").write_text("HOST=from-file.example.com\nWORKERS=3\n")
    path = write(
        tmp_path,
        env_config("env_file: dev.env\nurl: https://${HOST}\nworkers: ${WORKERS}\n"),
    )
    config = load_config(path, environ={"HOST": "from-process.example.com", "WORKERS": "1"})
    assert config.environments["dev"].url == "https://from-file.example.com"
    assert config.environments["dev"].workers == 3


def test_env_file_only_serves_its_own_environment(tmp_path: Path) -> None:
    (tmp_path / "dev.env").write_text("HOST=dev.example.com\n")
    text = env_config("env_file: dev.env\n").replace(
        "kind: production\n", "kind: production\n    url: https://${HOST}\n"
    )
    path = write(tmp_path, text)
    issue = one_issue(path)
    assert_at(issue, path, 8, 10, "environments.production.url")
    assert "${HOST} is not set (looked in the process environment)" in issue.message


def test_escaped_dollar_and_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        env_config("odoo_options: {a: 'x$${LITERAL}y', b: '${UNSET:-fallback}', c: 'cost $5'}\n"),
    )
    options = load_config(path, environ={}).environments["dev"].odoo_options
    assert options == {"a": "x${LITERAL}y", "b": "fallback", "c": "cost $5"}


def test_missing_variable_names_it_and_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, env_config("env_file: dev.env\nurl: https://${DEV_HOST}/odoo\n"))
    issue = one_issue(path)
    assert_at(issue, path, 16, 10, "environments.dev.url")
    assert "${DEV_HOST} is not set" in issue.message
    assert f"env file {tmp_path / 'dev.env'}, which does not exist" in issue.message


def test_malformed_references(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        env_config("odoo_options: {a: '${1X}', b: 'x ${OPEN'}\n"),
    )
    issues = issues_of(path)
    assert [(i.line, i.column, i.path) for i in issues] == [
        (15, 23, "environments.dev.odoo_options.a"),
        (15, 35, "environments.dev.odoo_options.b"),
    ]
    assert "'${1X}' is not a variable reference" in issues[0].message
    assert "never closed" in issues[1].message
    assert "$${" in issues[0].fix


def test_env_file_syntax_error_names_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / "dev.env"
    env_file.write_text("OK=1\nthis line is wrong\n")
    path = write(tmp_path, env_config("env_file: dev.env\n"))
    issue = one_issue(path)
    assert (issue.file, issue.line, issue.path) == (str(env_file), 2, "environments.dev.env_file")
    assert "not a KEY=VALUE line" in issue.message


def test_env_file_path_may_use_process_variables(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "dev.env").write_text("HOST=dev.example.com\n")
    path = write(tmp_path, env_config("env_file: ${SECRETS}/dev.env\nurl: https://${HOST}\n"))
    loaded = load_config_details(path, environ={"SECRETS": "secrets"})
    assert loaded.config.environments["dev"].url == "https://dev.example.com"
    assert loaded.env_files["dev"] == tmp_path / "secrets" / "dev.env"


def test_errors_never_show_a_secret_value(tmp_path: Path) -> None:
    (tmp_path / "dev.env").write_text("WORKERS=hunter2\n")
    path = write(tmp_path, env_config("env_file: dev.env\nworkers: ${WORKERS}\n"))
    with pytest.raises(ConfigFileError) as info:
        load_config(path, environ={})
    assert "hunter2" not in str(info.value)
    assert "'****' (filled in from an env file)" in str(info.value)
