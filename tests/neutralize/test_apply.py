"""Neutralizing the real Odoo 17 prodlike database, item by item, and running it twice."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from odooplane.config import ProjectRule
from odooplane.errors import ConfigError, RefusedError
from odooplane.neutralize import NeutralizationFailed, NeutralizeSettings, neutralize_with
from odooplane.neutralize.catalog import CATCHER_SERVER_NAME, WEBHOOK_MARKER
from odooplane.neutralize.record import RECORD_KEY
from odooplane.neutralize.rules import odoo_password_hash
from odooplane.postgres.server import DatabaseServer

Q = Callable[..., list[tuple[Any, ...]]]


def params(q: Q, db: str) -> dict[str, str]:
    return {k: v for k, v in q(db, "SELECT key, value FROM ir_config_parameter")}


def test_neutralize_prodlike_closes_every_item(
    pg_server: DatabaseServer, prodlike_db: str, q: Q, settings: Callable[..., NeutralizeSettings]
) -> None:
    before = params(q, prodlike_db)
    # A mail that production had queued when it was copied, and one forced on its server.
    q(
        prodlike_db,
        "INSERT INTO mail_mail (mail_message_id, state, email_to, create_date) "
        "SELECT min(id), 'outgoing', 'customer@example.org', now() FROM mail_message",
    )
    q(
        prodlike_db,
        "UPDATE mail_message SET mail_server_id = 1 WHERE id = (SELECT min(id) FROM mail_message)",
    )
    report = neutralize_with(pg_server, prodlike_db, settings())

    assert report.ok and report.verification is not None
    assert [c.id for c in report.verification.failures] == []
    assert report.changed > 0

    # Mail: one active server, the catcher; production's off, wiped, pointed at the catcher.
    servers = q(
        prodlike_db,
        "SELECT name, smtp_host, smtp_port, smtp_user, smtp_pass, active, smtp_encryption "
        "FROM ir_mail_server ORDER BY id",
    )
    active = [s for s in servers if s[5]]
    assert active == [(CATCHER_SERVER_NAME, "127.0.0.1", 2599, None, None, True, "none")]
    production = next(s for s in servers if s[0] == "Production SMTP")
    assert production[1:6] == ("127.0.0.1", 2599, None, None, False)
    fetch = q(prodlike_db, 'SELECT active, state, "user", password FROM fetchmail_server')
    assert fetch == [(False, "draft", None, None)]
    assert q(prodlike_db, "SELECT state FROM mail_mail") == [("cancel",)]
    assert q(prodlike_db, "SELECT count(*) FROM mail_message WHERE mail_server_id IS NOT NULL") == [
        (0,)
    ]
    assert q(
        prodlike_db, "SELECT count(*) FROM mail_template WHERE mail_server_id IS NOT NULL"
    ) == [(0,)]

    # Crons: only the autovacuum, and the neutralized flag.
    crons = q(
        prodlike_db,
        "SELECT d.module || '.' || d.name FROM ir_cron c JOIN ir_model_data d "
        "ON d.model = 'ir.cron' AND d.res_id = c.id WHERE c.active",
    )
    assert crons == [("base.autovacuum_job",)]
    after = params(q, prodlike_db)
    assert after["database.is_neutralized"].lower() == "true"

    # Payments: the enabled provider is disabled.
    states = dict(q(prodlike_db, "SELECT name->>'en_US', state FROM payment_provider"))
    assert states["Stripe"] == "disabled" and states["Demo"] == "test"
    assert "enabled" not in states.values()

    # Webhooks: URL replaced, the rule calling it off, incoming URL renewed.
    assert q(prodlike_db, "SELECT webhook_url FROM ir_act_server WHERE state = 'webhook'") == [
        (WEBHOOK_MARKER,)
    ]
    rules = dict(q(prodlike_db, "SELECT trigger, active FROM base_automation"))
    assert rules == {"on_create_or_write": False, "on_webhook": True}
    uuids_after = {r[0] for r in q(prodlike_db, "SELECT webhook_uuid FROM base_automation")}
    assert "348db57d-6989-4365-9f74-0acad1ba0cfe" not in uuids_after

    # System parameters.
    assert after["web.base.url"] == "https://staging.acme.test"
    assert after["web.base.url.freeze"] == "True"
    assert after["database.uuid"] != before["database.uuid"]
    assert after["database.secret"] != before["database.secret"]
    assert "database.enterprise_code" not in after
    assert after.get("mail.web_push_vapid_private_key", "") == ""
    assert after["mail.catchall.domain"] == before["mail.catchall.domain"]

    # The record keeps fingerprints of production's identity, never the values.
    record = json.loads(after[RECORD_KEY])
    assert record["environment"] == "staging"
    assert before["database.uuid"] not in after[RECORD_KEY]
    assert before["database.secret"] not in after[RECORD_KEY]
    digest = hashlib.sha256(before["database.uuid"].encode()).hexdigest()
    assert digest in record["production"]["database.uuid"]

    # Each rule reports what it changed.
    assert report.rule("mail.outgoing").changed >= 1
    assert report.rule("mail.incoming").changed == 1
    assert report.rule("webhooks").changed >= 2
    assert report.rule("params").changed >= 3
    if settings().odoo_source is not None:
        assert report.rule("odoo:base").changed >= 13  # the crons Odoo's own file switches off
        assert (
            report.skipped_statements
            and "INSERT INTO ir_mail_server" in report.skipped_statements[0]
        )


def test_second_run_changes_nothing(
    pg_server: DatabaseServer,
    neutralized_db: str,
    q: Q,
    settings: Callable[..., NeutralizeSettings],
) -> None:
    snapshot = q(neutralized_db, "SELECT key, value FROM ir_config_parameter ORDER BY key")
    report = neutralize_with(pg_server, neutralized_db, settings())
    assert report.changed == 0, [r for r in report.rules if r.changed]
    assert all(r.changed == 0 for r in report.rules)
    assert q(
        neutralized_db,
        "SELECT count(*) FROM ir_mail_server WHERE name = %s",
        (CATCHER_SERVER_NAME,),
    ) == [(1,)]
    assert q(neutralized_db, "SELECT count(*) FROM ir_mail_server WHERE active") == [(1,)]
    assert q(neutralized_db, "SELECT key, value FROM ir_config_parameter ORDER BY key") == snapshot


def test_rerun_after_a_leak_fixes_only_the_leak(
    pg_server: DatabaseServer,
    neutralized_db: str,
    q: Q,
    settings: Callable[..., NeutralizeSettings],
) -> None:
    q(
        neutralized_db,
        "UPDATE ir_cron SET active = true WHERE cron_name = 'Mail: Email Queue Manager'",
    )
    report = neutralize_with(pg_server, neutralized_db, settings())
    changed = {r.name: r.changed for r in report.rules if r.changed}
    # The cron, and the record noting when the database was last changed.
    assert changed.pop("record") == 1
    assert sum(changed.values()) == 1
    assert set(changed) <= {"odoo:base", "crons"}
    assert report.ok


def test_new_catcher_address_moves_the_server(
    pg_server: DatabaseServer,
    neutralized_db: str,
    q: Q,
    settings: Callable[..., NeutralizeSettings],
) -> None:
    report = neutralize_with(pg_server, neutralized_db, settings(catcher_port=2600))
    assert report.ok
    assert q(neutralized_db, "SELECT smtp_port FROM ir_mail_server WHERE active") == [(2600,)]
    assert q(neutralized_db, "SELECT DISTINCT smtp_port FROM ir_mail_server") == [(2600,)]


def test_allowlisted_crons_keep_their_state(
    pg_server: DatabaseServer, prodlike_db: str, q: Q, settings: Callable[..., NeutralizeSettings]
) -> None:
    allow = ("base.autovacuum_job", "mail.ir_cron_mail_scheduler_action", "acme.no_such_cron")
    report = neutralize_with(pg_server, prodlike_db, settings(cron_allowlist=allow))
    active = {
        r[0]
        for r in q(
            prodlike_db,
            "SELECT d.module || '.' || d.name FROM ir_cron c JOIN ir_model_data d "
            "ON d.model = 'ir.cron' AND d.res_id = c.id WHERE c.active",
        )
    }
    assert active == {"base.autovacuum_job", "mail.ir_cron_mail_scheduler_action"}
    assert any("acme.no_such_cron" in n for n in report.rule("crons").notes)
    again = neutralize_with(pg_server, prodlike_db, settings(cron_allowlist=allow))
    assert again.changed == 0


def test_optional_passwords_and_partner_emails(
    pg_server: DatabaseServer, prodlike_db: str, q: Q, settings: Callable[..., NeutralizeSettings]
) -> None:
    before = dict(
        q(prodlike_db, "SELECT login, password FROM res_users WHERE password IS NOT NULL")
    )
    report = neutralize_with(
        pg_server, prodlike_db, settings(reset_passwords=True, safe_email_domain="staging.invalid")
    )
    assert report.ok
    password = report.reset_password
    assert password and len(password) >= 12
    after = dict(q(prodlike_db, "SELECT login, password FROM res_users WHERE password IS NOT NULL"))
    assert after["admin"] != before["admin"]
    assert after["admin"].startswith("$pbkdf2-sha512$600000$")
    emails = [r[0] for r in q(prodlike_db, "SELECT email FROM res_partner WHERE email IS NOT NULL")]
    assert emails and all(e.endswith("@staging.invalid") for e in emails)
    assert report.verification is not None
    assert report.verification.check("users.passwords").status == "pass"
    assert report.verification.check("partners.emails").status == "pass"
    # Shown once: a second run neither changes the passwords nor shows a value again.
    again = neutralize_with(
        pg_server, prodlike_db, settings(reset_passwords=True, safe_email_domain="staging.invalid")
    )
    assert again.changed == 0 and again.reset_password is None
    assert (
        dict(q(prodlike_db, "SELECT login, password FROM res_users WHERE password IS NOT NULL"))
        == after
    )


def test_password_hash_is_passlib_pbkdf2_sha512() -> None:
    import base64
    import hashlib as h

    hashed = odoo_password_hash("s3cret", rounds=1000)
    _empty, scheme, rounds, salt, checksum = hashed.split("$")
    assert scheme == "pbkdf2-sha512" and rounds == "1000"

    def ab64_decode(text: str) -> bytes:
        text = text.replace(".", "+")
        return base64.b64decode(text + "=" * (-len(text) % 4))

    expected = h.pbkdf2_hmac("sha512", b"s3cret", ab64_decode(salt), 1000)
    assert ab64_decode(checksum) == expected


def test_project_rules_use_env_file_values(
    pg_server: DatabaseServer, prodlike_db: str, q: Q, settings: Callable[..., NeutralizeSettings]
) -> None:
    rules = (
        ProjectRule(
            name="crm-sync",
            sql=[
                "UPDATE res_partner SET comment = ${CRM_TEST_URL} WHERE email LIKE '%example%'",
            ],
            params={"acme.crm_endpoint": "${CRM_TEST_URL}/api", "acme.mode": "test"},
        ),
    )
    env = {"CRM_TEST_URL": "https://crm-sandbox.acme.test"}
    report = neutralize_with(pg_server, prodlike_db, settings(rules=rules, env_values=env))
    assert report.ok
    values = params(q, prodlike_db)
    assert values["acme.crm_endpoint"] == "https://crm-sandbox.acme.test/api"
    assert values["acme.mode"] == "test"
    comments = {
        r[0] for r in q(prodlike_db, "SELECT comment FROM res_partner WHERE email LIKE '%example%'")
    }
    assert comments == {"https://crm-sandbox.acme.test"}
    assert report.rule("project:crm-sync").changed > 0
    assert report.verification is not None
    assert report.verification.check("project.params").status == "pass"
    again = neutralize_with(pg_server, prodlike_db, settings(rules=rules, env_values=env))
    assert again.changed == 0


def test_project_rule_with_unknown_variable_changes_nothing(
    pg_server: DatabaseServer, prodlike_db: str, q: Q, settings: Callable[..., NeutralizeSettings]
) -> None:
    rules = (ProjectRule(name="slack", sql=["UPDATE res_partner SET comment = ${SLACK_HOOK}"]),)
    before = params(q, prodlike_db)
    with pytest.raises(ConfigError, match=r"rule 'slack' uses \$\{SLACK_HOOK\}"):
        neutralize_with(pg_server, prodlike_db, settings(rules=rules))
    # One transaction: nothing was changed, not even Odoo's layer.
    assert params(q, prodlike_db) == before


def test_failing_odoo_file_rolls_back(
    pg_server: DatabaseServer,
    prodlike_db: str,
    q: Q,
    settings: Callable[..., NeutralizeSettings],
    tmp_path: Path,
) -> None:
    from conftest import write_addon

    q(prodlike_db, "UPDATE ir_module_module SET state = 'installed' WHERE name = 'web_tour'")
    addons = tmp_path / "addons"
    write_addon(
        addons, "web_tour", extra={"data/neutralize.sql": "UPDATE no_such_table SET x = 1;"}
    )
    before = params(q, prodlike_db)
    with pytest.raises(Exception, match="no_such_table"):
        neutralize_with(pg_server, prodlike_db, settings(odoo_source=None, addons_paths=(addons,)))
    assert params(q, prodlike_db) == before


def test_project_addon_neutralize_file_runs(
    pg_server: DatabaseServer,
    prodlike_db: str,
    q: Q,
    settings: Callable[..., NeutralizeSettings],
    tmp_path: Path,
) -> None:
    from conftest import write_addon

    q(
        prodlike_db,
        "INSERT INTO ir_module_module (name, state) VALUES ('acme_crm', 'installed')",
    )
    q(
        prodlike_db,
        "INSERT INTO ir_config_parameter (key, value) VALUES ('acme_crm.endpoint', "
        "'https://crm.acme.com')",
    )
    addons = tmp_path / "addons"
    write_addon(
        addons,
        "acme_crm",
        extra={
            "data/neutralize.sql": "-- point the CRM sync at its sandbox\n"
            "UPDATE ir_config_parameter SET value = 'https://sandbox.crm.acme.com' "
            "WHERE key = 'acme_crm.endpoint';\n"
        },
    )
    report = neutralize_with(pg_server, prodlike_db, settings(addons_paths=(addons,)))
    assert report.rule("odoo:acme_crm").changed == 1
    assert params(q, prodlike_db)["acme_crm.endpoint"] == "https://sandbox.crm.acme.com"


def test_refuses_a_database_that_is_not_odoo(
    pg_server: DatabaseServer, pg_dbname: str, settings: Callable[..., NeutralizeSettings]
) -> None:
    from odooplane.postgres.databases import create_database

    create_database(pg_server, pg_dbname)
    with pytest.raises(RefusedError, match="not an Odoo database"):
        neutralize_with(pg_server, pg_dbname, settings())


def test_verification_failure_raises_with_the_report(
    pg_server: DatabaseServer, prodlike_db: str, q: Q, settings: Callable[..., NeutralizeSettings]
) -> None:
    # A project rule that re-opens a leak after odooplane's rules: fail-closed.
    rules = (ProjectRule(name="bad", sql=["UPDATE ir_cron SET active = true"]),)
    with pytest.raises(NeutralizationFailed, match=r"crons\.active") as caught:
        neutralize_with(pg_server, prodlike_db, settings(rules=rules))
    failed = caught.value.report
    assert not failed.ok
    assert "crons.active" in [
        c.id
        for c in (
            failed.verification.failures
            if hasattr(failed, "verification") and failed.verification
            else []
        )
    ]


def test_empty_cron_allowlist_switches_every_cron_off(
    pg_server: DatabaseServer, prodlike_db: str, q: Q, settings: Callable[..., NeutralizeSettings]
) -> None:
    report = neutralize_with(pg_server, prodlike_db, settings(cron_allowlist=()))
    assert report.ok
    assert q(prodlike_db, "SELECT count(*) FROM ir_cron WHERE active") == [(0,)]


def test_a_script_neutralizing_production_is_refused_unless_forced(
    pg_server: DatabaseServer,
    prodlike_db: str,
    q: Q,
    tmp_path: Path,
    settings: Callable[..., NeutralizeSettings],
) -> None:
    """The rule is the library's: a caller of neutralize_database gets the refusal."""
    from odooplane.config import ProjectConfig
    from odooplane.neutralize import neutralize_database
    from odooplane.project import Project

    project = Project(
        root=tmp_path,
        config=ProjectConfig(
            project="acme",
            odoo={"series": "17.0", "source": "/x"},
            environments={
                "production": {"kind": "production", "database": prodlike_db},
                "staging": {"kind": "staging"},
            },
        ),
    )
    staging = settings()
    before = params(q, prodlike_db)
    common: dict[str, Any] = {
        "project": project,
        "odoo_source_path": None,
        "catcher": (staging.catcher_host, staging.catcher_port),
        "base_url": staging.base_url,
    }
    with pytest.raises(RefusedError, match="belongs to production environment 'production'"):
        neutralize_database(pg_server, prodlike_db, environment=None, **common)
    with pytest.raises(RefusedError, match="'production' is a production environment"):
        neutralize_database(pg_server, prodlike_db, environment="production", **common)
    assert params(q, prodlike_db) == before
    report = neutralize_database(pg_server, prodlike_db, environment=None, force=True, **common)
    assert report.ok and report.changed > 0
    assert params(q, prodlike_db)["web.base.url"] == staging.base_url
