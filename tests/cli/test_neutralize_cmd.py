"""`odooplane neutralize`, `verify` and `mail`, run as the real command line."""

from __future__ import annotations

import json
import os
import smtplib
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from odooplane.postgres.server import DatabaseServer

ODOO_SRC = Path(os.environ.get("ODOOPLANE_TEST_ODOO_SRC", "/opt/odoo-src/17.0"))


def run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "odooplane", "-C", str(project), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=300,
    )


@pytest.fixture
def project(tmp_path: Path, pg_server: DatabaseServer, prodlike_db: str) -> Iterator[Path]:
    root = tmp_path / "acme"
    root.mkdir()
    (root / "odooplane.yaml").write_text(
        f"""\
project: acme
odoo:
  series: "17.0"
  source: {ODOO_SRC}
database:
  server: {pg_server.url(redact=False)}
environments:
  production:
    kind: production
    database: acme_production
    env_file: .env.production
  staging:
    kind: staging
    database: {prodlike_db}
    url: https://staging.acme.example
    env_file: .env.staging
secrets:
  production_only: [SMTP_PASSWORD]
"""
    )
    (root / ".env.production").write_text("SMTP_PASSWORD=prod-smtp-secret\n")
    (root / ".env.staging").write_text("CRM_URL=https://crm-sandbox.acme.example\n")
    yield root
    run(root, "mail", "stop")


def test_verify_neutralize_verify(project: Path, prodlike_db: str, tmp_path: Path) -> None:
    before = run(project, "verify", "staging", "--json")
    assert before.returncode == 1, before.stderr
    data = json.loads(before.stdout)
    failed = {c["id"] for c in data["checks"] if c["status"] == "fail"}
    assert {
        "record",
        "mail.catcher",
        "crons.active",
        "payments.enabled",
        "webhooks.rules",
        "params.base_url",
    } <= failed
    assert "is not safe" in before.stderr

    done = run(project, "neutralize", "staging", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and report["changed"] > 0 and report["verification"]["ok"]
    assert report["database"] == prodlike_db

    junit = tmp_path / "verify.xml"
    after = run(project, "neutralize", "--check", "staging", "--junit", str(junit))
    assert after.returncode == 0, after.stdout + after.stderr
    assert "Verified:" in after.stdout
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
    names = {c.get("name") for c in suite.findall("testcase")}
    assert {"files.odoo_conf", "files.env_file", "secrets.visible", "mail.catcher"} <= names

    again = run(project, "neutralize", "staging")
    assert again.returncode == 0
    assert "0 row(s) changed" in again.stdout and "nothing to do" in again.stdout


def test_check_fails_and_names_a_reopened_leak(
    project: Path, pg_server: DatabaseServer, prodlike_db: str
) -> None:
    assert run(project, "neutralize", "staging").returncode == 0
    with pg_server.connect(prodlike_db) as conn:
        conn.execute("UPDATE fetchmail_server SET active = true")
    result = run(project, "verify", "staging")
    assert result.returncode == 1
    assert (
        "✗ mail.incoming: fetchmail_server #1 'Production IMAP' (imap.example.com:993) is active"
        in result.stdout
    )


def test_production_secret_in_staging_env_file_fails(project: Path) -> None:
    assert run(project, "neutralize", "staging").returncode == 0
    (project / ".env.staging").write_text("MAIL_PASS=prod-smtp-secret\n")
    result = run(project, "verify", "staging", "--json")
    assert result.returncode == 1
    check = {c["id"]: c for c in json.loads(result.stdout)["checks"]}["secrets.visible"]
    assert check["status"] == "fail" and "SMTP_PASSWORD" in check["detail"]
    assert "prod-smtp-secret" not in result.stdout


def test_refusals_and_usage_errors(project: Path) -> None:
    refused = run(project, "neutralize", "production")
    assert refused.returncode == 1 and "never neutralized" in refused.stderr
    by_name = run(project, "neutralize", "--db", "acme_production")
    assert (
        by_name.returncode == 1
        and "belongs to production environment 'production'" in by_name.stderr
    )
    usage = run(project, "neutralize")
    assert usage.returncode == 2 and "--db NAME" in usage.stderr
    bad = run(project, "neutralize", "staging", "--catcher", "nohost")
    assert bad.returncode == 2 and "HOST:PORT" in bad.stderr
    unknown = run(project, "verify", "qa")
    assert unknown.returncode == 1 and "No environment named 'qa'" in unknown.stderr


def test_neutralize_by_database_name(project: Path, prodlike_db: str) -> None:
    result = run(
        project, "neutralize", "--db", prodlike_db, "--url", "http://localhost:9999", "--json"
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["environment"] is None and data["ok"]
    check = run(project, "verify", "--db", prodlike_db, "--url", "http://localhost:9999")
    assert check.returncode == 0, check.stdout
    status = json.loads(run(project, "mail", "status", "--json").stdout)
    assert f"db-{prodlike_db}" in status["ports"]


def test_mail_commands(project: Path) -> None:
    served = run(project, "mail", "serve", "--json")
    assert served.returncode == 0, served.stderr
    status = json.loads(served.stdout)
    assert (
        status["running"] and "staging" in status["ports"] and "production" not in status["ports"]
    )
    port = status["ports"]["staging"]
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.sendmail(
            "notifications@acme.example",
            ["jane@customer.example"],
            "From: notifications@acme.example\r\nTo: jane@customer.example\r\n"
            "Subject: Your order S00042\r\n\r\nThank you for your order.\r\n",
        )
    listed = json.loads(run(project, "mail", "list", "staging", "--json").stdout)
    assert [m["subject"] for m in listed] == ["Your order S00042"]
    shown = run(project, "mail", "show", "staging")
    assert shown.returncode == 0 and "Thank you for your order." in shown.stdout
    raw = run(project, "mail", "show", "staging", listed[0]["id"], "--raw")
    assert raw.stdout.startswith("From: notifications@acme.example")
    assert run(project, "mail", "list", "nowhere").returncode == 1
    table = run(project, "mail", "list", "staging")
    assert "Your order S00042" in table.stdout
    stopped = json.loads(run(project, "mail", "stop", "--json").stdout)
    assert stopped["running"] is False
    help_text = run(project, "neutralize", "--help").stdout
    assert "--check" in help_text and "--junit" in help_text
