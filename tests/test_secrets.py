"""Secrets separation: production-only keys and values never visible to other environments."""

from __future__ import annotations

from pathlib import Path

import pytest

from odooplane.project import Project, load_project
from odooplane.secrets import check_secrets_visibility, production_only_values

CONFIG = """\
project: acme
odoo:
  series: "17.0"
  source: ./odoo
environments:
  production:
    kind: production
    env_file: .env.production
  staging:
    kind: staging
    env_file: {staging_env}
  preview:
    kind: preview
secrets:
  production_only: [STRIPE_LIVE_KEY, SMTP_PASSWORD]
"""
PROD_ENV = "STRIPE_LIVE_KEY=sk_live_51Habcdef\nSMTP_PASSWORD=prod-smtp-secret\nDEBUG=0\n"


def make_project(root: Path, staging_env: str = ".env.staging", staging_text: str = "") -> Project:
    (root / "odoo").mkdir(exist_ok=True)
    (root / "odooplane.yaml").write_text(CONFIG.format(staging_env=staging_env))
    (root / ".env.production").write_text(PROD_ENV)
    if staging_env != ".env.production":
        (root / staging_env).write_text(staging_text)
    return load_project(root)


def test_clean_environment_has_no_findings(tmp_path: Path) -> None:
    project = make_project(tmp_path, staging_text="STRIPE_TEST_KEY=sk_test_123\nSMTP_PASSWORD=\n")
    assert check_secrets_visibility(project, "staging") == []
    assert check_secrets_visibility(project, "preview") == []
    # Production sees its own secrets: nothing to report.
    assert check_secrets_visibility(project, "production") == []


def test_production_only_key_in_staging_env_file(tmp_path: Path) -> None:
    project = make_project(tmp_path, staging_text="STRIPE_LIVE_KEY=sk_live_other\n")
    findings = check_secrets_visibility(project, "staging")
    assert [(f.key, f.where) for f in findings] == [("STRIPE_LIVE_KEY", ".env.staging")]
    assert "sk_live" not in findings[0].message


def test_production_value_under_another_name(tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        staging_text="STRIPE_KEY=sk_live_51Habcdef\nMAIL_URL=smtp://u:prod-smtp-secret@h\n",
    )
    findings = check_secrets_visibility(project, "staging")
    messages = sorted(f.message for f in findings)
    assert messages == [
        "the value of production-only SMTP_PASSWORD appears in .env.staging under MAIL_URL",
        "the value of production-only STRIPE_LIVE_KEY appears in .env.staging under STRIPE_KEY",
    ]
    for finding in findings:
        assert (
            "sk_live_51Habcdef" not in finding.message and "prod-smtp-secret" not in finding.message
        )


def test_reading_production_env_file_is_a_finding(tmp_path: Path) -> None:
    project = make_project(tmp_path, staging_env=".env.production")
    findings = check_secrets_visibility(project, "staging")
    assert any(
        f.key == "*" and "production environment 'production'" in f.message for f in findings
    )
    assert {f.key for f in findings} >= {"STRIPE_LIVE_KEY", "SMTP_PASSWORD"}


def test_odoo_conf_and_process_environment(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    conf = tmp_path / "odoo.conf"
    conf.write_text("[options]\nsmtp_password = prod-smtp-secret\n")
    findings = check_secrets_visibility(
        project, "staging", odoo_conf=conf, process_env={"STRIPE_LIVE_KEY": "x", "HOME": "/root"}
    )
    assert sorted((f.key, f.where) for f in findings) == [
        ("SMTP_PASSWORD", "odoo.conf"),
        ("STRIPE_LIVE_KEY", "the process environment it is started with"),
    ]


def test_a_key_from_the_env_file_is_not_blamed_on_the_process_environment(
    tmp_path: Path,
) -> None:
    """The process environment of an environment holds its env file's variables: a key
    found there is the env file's, said once (it was also said to be 'set in the process
    environment', which it was not)."""
    project = make_project(tmp_path, staging_text="STRIPE_LIVE_KEY=sk_live_other\n")
    process_env = {"HOME": "/root", "STRIPE_LIVE_KEY": "sk_live_other"}
    findings = check_secrets_visibility(project, "staging", process_env=process_env)
    assert [(f.key, f.where) for f in findings] == [("STRIPE_LIVE_KEY", ".env.staging")]
    assert not any("process environment" in f.message for f in findings)


def test_without_production_env_file_only_keys_are_checked(tmp_path: Path) -> None:
    project = make_project(tmp_path, staging_text="STRIPE_KEY=sk_live_51Habcdef\n")
    (tmp_path / ".env.production").unlink()
    assert production_only_values(project) == {}
    assert check_secrets_visibility(project, "staging") == []


def test_unknown_environment_is_a_sentence(tmp_path: Path) -> None:
    from odooplane.errors import NotFoundError

    project = make_project(tmp_path)
    with pytest.raises(NotFoundError, match="No environment named 'qa'"):
        check_secrets_visibility(project, "qa")
