"""One test per kind of leak: re-open it on a neutralized copy; the check must fail and
name it; neutralizing again must close it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from odooplane.neutralize import NeutralizeSettings, neutralize_with, verify_database_with
from odooplane.neutralize.catalog import CATCHER_SERVER_NAME
from odooplane.postgres.server import DatabaseServer

Q = Callable[..., list[tuple[Any, ...]]]

# Values the prodlike fixture holds in production (see shared/fixtures/README.md).
PROD_UUID = "4ad1a612-e8f9-11f1-99a4-02fc00000001"
PROD_SECRET = "6cd562c3-aeb4-4334-bd2b-03be4a103263"
PROD_HOOK_UUID = "348db57d-6989-4365-9f74-0acad1ba0cfe"
PROD_VAPID = "pFN2KvnQhJyuL5pYpJd1SV2srPJVvDwHS73MTC9vwAg"
PROD_WEBHOOK = "https://hooks.example.com/odoo/partner-sync?token=prod-webhook-token"


@dataclass(frozen=True)
class Leak:
    name: str
    statements: tuple[str, ...]
    check: str
    names: str  # what the failing check's detail must mention


LEAKS = (
    Leak(
        "cron re-activated",
        ("UPDATE ir_cron SET active = true WHERE cron_name = 'Mail: Email Queue Manager'",),
        "crons.active",
        "mail.ir_cron_mail_scheduler_action",
    ),
    Leak(
        "production SMTP server re-activated",
        (
            "UPDATE ir_mail_server SET active = true, smtp_host = 'smtp.example.com', smtp_port = "
            "587 "
            "WHERE name = 'Production SMTP'",
        ),
        "mail.catcher",
        "'Production SMTP' (smtp.example.com:587) is active",
    ),
    Leak(
        "a second active server, even pointing at the catcher",
        ("UPDATE ir_mail_server SET active = true WHERE name = 'Production SMTP'",),
        "mail.catcher",
        "2 active outgoing mail servers",
    ),
    Leak(
        "SMTP credentials restored",
        (
            "UPDATE ir_mail_server SET smtp_user = 'odoo@example.com', smtp_pass = "
            "'prod-smtp-secret' "
            "WHERE name = 'Production SMTP'",
        ),
        "mail.outgoing_credentials",
        "'Production SMTP': smtp_user, smtp_pass",
    ),
    Leak(
        "Gmail OAuth token restored",
        (
            "UPDATE ir_mail_server SET google_gmail_refresh_token = '1//0prod' WHERE name = "
            "'Production SMTP'",
        ),
        "mail.outgoing_credentials",
        "google_gmail_refresh_token",
    ),
    Leak(
        "production host on an archived server",
        (
            "UPDATE ir_mail_server SET smtp_host = 'smtp.example.com' WHERE name = 'Production "
            "SMTP'",
        ),
        "mail.outgoing_hosts",
        "'Production SMTP' points at smtp.example.com",
    ),
    Leak(
        "catcher switched off (Odoo falls back to odoo.conf)",
        (f"UPDATE ir_mail_server SET active = false WHERE name = '{CATCHER_SERVER_NAME}'",),
        "mail.catcher",
        "no active outgoing mail server",
    ),
    Leak(
        "catcher told to use odoo.conf's SMTP settings",
        (
            f"UPDATE ir_mail_server SET smtp_authentication = 'cli' WHERE name = "
            f"'{CATCHER_SERVER_NAME}'",
        ),
        "mail.catcher",
        "takes its SMTP settings from odoo.conf",
    ),
    Leak(
        "IMAP server re-activated",
        ("UPDATE fetchmail_server SET active = true, state = 'done'",),
        "mail.incoming",
        "'Production IMAP' (imap.example.com:993) is active",
    ),
    Leak(
        "IMAP password restored",
        ("UPDATE fetchmail_server SET password = 'prod-imap-secret'",),
        "mail.incoming_credentials",
        "'Production IMAP': password",
    ),
    Leak(
        "production mail still queued",
        (
            "INSERT INTO mail_mail (mail_message_id, state, email_to, create_date) "
            "SELECT min(id), 'outgoing', 'customer@example.org', '2024-07-01' FROM mail_message",
        ),
        "mail.queue",
        "1 queued mail_mail from production",
    ),
    Leak(
        "template forced onto the production server",
        (
            "UPDATE mail_template SET mail_server_id = "
            "(SELECT id FROM ir_mail_server WHERE name = 'Production SMTP')",
        ),
        "mail.forced_servers",
        "mail_template #",
    ),
    Leak(
        "mailings forced onto the production server",
        (
            "INSERT INTO ir_config_parameter (key, value) SELECT 'mass_mailing.mail_server_id', "
            "id::text "
            "FROM ir_mail_server WHERE name = 'Production SMTP'",
        ),
        "mail.forced_servers",
        "mass_mailing.mail_server_id",
    ),
    Leak(
        "database.is_neutralized removed",
        ("DELETE FROM ir_config_parameter WHERE key = 'database.is_neutralized'",),
        "crons.neutralized_flag",
        "database.is_neutralized is missing",
    ),
    Leak(
        "payment provider enabled",
        ("UPDATE payment_provider SET state = 'enabled' WHERE name->>'en_US' = 'Stripe'",),
        "payments.enabled",
        "'Stripe' (code none) is enabled",
    ),
    Leak(
        "payment credentials restored",
        (
            # As payment_stripe would have it.
            "ALTER TABLE payment_provider ADD COLUMN stripe_secret_key varchar",
            "UPDATE payment_provider SET stripe_secret_key = 'sk_live_51Hprod' WHERE "
            "name->>'en_US' = 'Stripe'",
        ),
        "payments.credentials",
        "'Stripe': stripe_secret_key",
    ),
    Leak(
        "webhook URL restored",
        (f"UPDATE ir_act_server SET webhook_url = '{PROD_WEBHOOK}' WHERE state = 'webhook'",),
        "webhooks.actions",
        "posts to hooks.example.com",
    ),
    Leak(
        "webhook automation rule re-activated",
        ("UPDATE base_automation SET active = true WHERE trigger = 'on_create_or_write'",),
        "webhooks.rules",
        "'Push partner changes to CRM (webhook)' is active",
    ),
    Leak(
        "production's incoming webhook URL restored",
        (
            f"UPDATE base_automation SET webhook_uuid = '{PROD_HOOK_UUID}' WHERE trigger = "
            f"'on_webhook'",
        ),
        "webhooks.incoming",
        "'Incoming webhook: tag partner' still answers production's",
    ),
    Leak(
        "web.base.url restored",
        (
            "UPDATE ir_config_parameter SET value = 'https://erp.example.com' WHERE key = "
            "'web.base.url'",
        ),
        "params.base_url",
        "web.base.url is https://erp.example.com",
    ),
    Leak(
        "web.base.url no longer frozen",
        ("DELETE FROM ir_config_parameter WHERE key = 'web.base.url.freeze'",),
        "params.base_url",
        "web.base.url.freeze is not set",
    ),
    Leak(
        "database.uuid restored",
        (f"UPDATE ir_config_parameter SET value = '{PROD_UUID}' WHERE key = 'database.uuid'",),
        "params.uuid",
        "database.uuid is production's",
    ),
    Leak(
        "database.secret restored",
        (f"UPDATE ir_config_parameter SET value = '{PROD_SECRET}' WHERE key = 'database.secret'",),
        "params.secret",
        "database.secret is production's",
    ),
    Leak(
        "enterprise code restored",
        (
            "INSERT INTO ir_config_parameter (key, value) VALUES ('database.enterprise_code', "
            "'FAKE-CODE')",
        ),
        "params.enterprise",
        "database.enterprise_code is set",
    ),
    Leak(
        "secret parameter restored with production's value",
        (
            "INSERT INTO ir_config_parameter (key, value, create_date) "
            f"VALUES ('mail.web_push_vapid_private_key', '{PROD_VAPID}', now() at time zone 'UTC')",
        ),
        "params.secrets",
        "mail.web_push_vapid_private_key is not blank",
    ),
    Leak(
        "an old secret-looking parameter",
        (
            "INSERT INTO ir_config_parameter (key, value, create_date) "
            "VALUES ('acme.stripe_api_key', 'sk_live_51Hprod', '2024-01-01')",
        ),
        "params.secrets",
        "acme.stripe_api_key is not blank",
    ),
    Leak(
        "neutralization record removed",
        ("DELETE FROM ir_config_parameter WHERE key = 'odooplane.neutralization'",),
        "record",
        "never neutralized by odooplane",
    ),
    Leak(
        "IAP account with a live token",
        ("INSERT INTO iap_account (service_name, account_token) VALUES ('sms', 'a1b2c3d4e5f6')",),
        "iap",
        "(sms) has a live token",
    ),
)


@pytest.mark.parametrize("leak", LEAKS, ids=[leak.name for leak in LEAKS])
def test_check_fails_and_names_the_leak(
    leak: Leak,
    pg_server: DatabaseServer,
    neutralized_db: str,
    q: Q,
    settings: Callable[..., NeutralizeSettings],
) -> None:
    clean = verify_database_with(pg_server, neutralized_db, settings())
    assert clean.ok, [c.to_dict() for c in clean.failures]
    for statement in leak.statements:
        q(neutralized_db, statement)

    report = verify_database_with(pg_server, neutralized_db, settings())
    assert not report.ok
    failed = {c.id: c.detail for c in report.failures}
    assert leak.check in failed, f"{leak.check} passed; failures: {failed}"
    assert leak.names in failed[leak.check]
    # Secrets are named by key, never shown.
    for secret in (
        "prod-smtp-secret",
        "prod-imap-secret",
        "sk_live_51Hprod",
        PROD_VAPID,
        "prod-webhook-token",
    ):
        assert all(secret not in c.detail for c in report.checks)

    # Neutralizing again closes the leak.
    fixed = neutralize_with(pg_server, neutralized_db, settings())
    assert fixed.ok
    assert fixed.changed > 0
