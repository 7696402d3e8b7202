"""What one neutralization needs: gathered from the project's neutralization section
and the environment (its URL, its env file), or defaults for a bare ``--db``."""

from __future__ import annotations

from pathlib import Path

import pytest

from odooplane.errors import NotFoundError
from odooplane.neutralize.settings import (
    DEFAULT_BASE_URL,
    NeutralizeSettings,
    resolve_env_file,
    settings_for,
)
from odooplane.project import load_project

CONFIG = """\
project: shop
odoo: {series: '17.0', source: /opt/odoo}
neutralization:
  cron_allowlist: [base.autovacuum_job, mail.ir_cron_mail_scheduler_action]
  param_allowlist: ['acme.*']
  reset_passwords: true
  safe_email_domain: example.test
  rules:
    - name: sandbox keys
      params: {acme.api_key: '$${ACME_KEY}'}
environments:
  production: {kind: production}
  staging:
    kind: staging
    url: https://staging.acme.test/
    env_file: .env.staging
  dev: {kind: development, env_file: /nonexistent/.env}
"""


def test_settings_of_an_environment(tmp_path: Path) -> None:
    (tmp_path / "odooplane.yaml").write_text(CONFIG)
    (tmp_path / ".env.staging").write_text("ACME_KEY=test-key\n")
    project = load_project(tmp_path)
    settings = settings_for(project, "staging", catcher=("127.0.0.1", 2599))
    assert settings.catcher == "127.0.0.1:2599"
    assert settings.base_url == "https://staging.acme.test"
    assert settings.base_url_given
    assert settings.environment == "staging"
    assert settings.cron_allowlist == ("base.autovacuum_job", "mail.ir_cron_mail_scheduler_action")
    assert settings.param_allowlist == ("acme.*",)
    assert settings.reset_passwords and settings.safe_email_domain == "example.test"
    assert [r.name for r in settings.rules] == ["sandbox keys"]
    assert settings.rules[0].params == {"acme.api_key": "${ACME_KEY}"}
    assert dict(settings.env_values) == {"ACME_KEY": "test-key"}
    assert settings.env_file == project.root / ".env.staging"


def test_an_explicit_url_wins_and_a_missing_env_file_gives_no_values(tmp_path: Path) -> None:
    (tmp_path / "odooplane.yaml").write_text(CONFIG)
    project = load_project(tmp_path)
    settings = settings_for(
        project,
        "dev",
        catcher=("127.0.0.1", "2600"),  # type: ignore[arg-type]
        base_url="http://dev.local:8069/",
        odoo_source_path=Path("/opt/odoo-src/17.0"),
    )
    assert settings.catcher_port == 2600
    assert settings.base_url == "http://dev.local:8069"
    assert settings.env_values == {} and settings.env_file == Path("/nonexistent/.env")
    assert settings.odoo_source == Path("/opt/odoo-src/17.0")
    with pytest.raises(NotFoundError):
        settings_for(project, "qa", catcher=("127.0.0.1", 1))


def test_without_a_project_or_environment_the_defaults_apply(tmp_path: Path) -> None:
    settings = settings_for(None, None, catcher=("127.0.0.1", 2599))
    assert settings.base_url == DEFAULT_BASE_URL and not settings.base_url_given
    assert settings.cron_allowlist == ("base.autovacuum_job",)
    assert settings.rules == () and settings.addons_paths == ()
    assert not settings.reset_passwords
    assert settings == NeutralizeSettings(
        catcher_host="127.0.0.1",
        catcher_port=2599,
        base_url=DEFAULT_BASE_URL,
        base_url_given=False,
    )


def test_env_file_paths_are_relative_to_the_project(tmp_path: Path) -> None:
    (tmp_path / "odooplane.yaml").write_text(CONFIG)
    project = load_project(tmp_path)
    assert resolve_env_file(project, None) is None
    assert resolve_env_file(project, "") is None
    assert resolve_env_file(project, "env/.staging") == project.root / "env" / ".staging"
    assert resolve_env_file(project, "/etc/odoo.env") == Path("/etc/odoo.env")
