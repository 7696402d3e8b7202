"""Integrations of modules the prodlike fixture does not install, and other Odoo layouts.

The tables are created as the Odoo 17 modules define them (the columns neutralization
reads), filled with production values, then neutralized and verified; one leak of each
is re-opened afterwards. Older and newer layouts (``payment_acquirer``, no webhooks) are
made by altering the real fixture.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from odooplane.neutralize import NeutralizeSettings, neutralize_with, verify_database_with
from odooplane.postgres.server import DatabaseServer

Q = Callable[..., list[tuple[Any, ...]]]

MODULE_TABLES = (
    # auth_oauth
    "CREATE TABLE auth_oauth_provider (id serial PRIMARY KEY, name varchar, enabled boolean, "
    "client_id varchar)",
    "ALTER TABLE res_users ADD COLUMN oauth_access_token varchar",
    "INSERT INTO auth_oauth_provider (name, enabled, client_id) VALUES ('Google', true, "
    "'prod-client')",
    "UPDATE res_users SET oauth_access_token = 'ya29.prod-access' WHERE login = 'admin'",
    # google_calendar / microsoft_calendar
    "CREATE TABLE google_calendar_credentials (id serial PRIMARY KEY, calendar_rtoken varchar, "
    "calendar_token varchar, calendar_sync_token varchar, synchronization_stopped boolean)",
    "INSERT INTO google_calendar_credentials (calendar_rtoken, calendar_token, "
    "synchronization_stopped) "
    "VALUES ('1//prod-refresh', 'ya29.prod', false)",
    "ALTER TABLE res_users ADD COLUMN microsoft_calendar_rtoken varchar, ADD COLUMN "
    "microsoft_calendar_token varchar",
    "UPDATE res_users SET microsoft_calendar_rtoken = 'M.prod-refresh' WHERE login = 'admin'",
    # account_edi_proxy_client and localizations on res_company
    "CREATE TABLE account_edi_proxy_client_user (id serial PRIMARY KEY, proxy_type varchar, "
    "edi_mode varchar)",
    "INSERT INTO account_edi_proxy_client_user (proxy_type, edi_mode) VALUES ('l10n_it_edi', "
    "'prod')",
    "ALTER TABLE res_company ADD COLUMN l10n_in_edi_production_env boolean, "
    "ADD COLUMN l10n_in_edi_password varchar, ADD COLUMN l10n_es_edi_test_env boolean, "
    "ADD COLUMN l10n_hu_edi_server_mode varchar, ADD COLUMN l10n_sa_api_mode varchar, "
    "ADD COLUMN l10n_ke_cu_proxy_address varchar, ADD COLUMN l10n_eg_client_secret varchar",
    "UPDATE res_company SET l10n_in_edi_production_env = true, l10n_in_edi_password = 'prod-gst', "
    "l10n_es_edi_test_env = false, l10n_hu_edi_server_mode = 'production', l10n_sa_api_mode = "
    "'prod', "
    "l10n_ke_cu_proxy_address = 'http://192.168.1.20:8000', l10n_eg_client_secret = 'prod-eta'",
    # delivery + a carrier module
    "CREATE TABLE delivery_carrier (id serial PRIMARY KEY, name jsonb, active boolean, "
    "delivery_type varchar, "
    "prod_environment boolean, fedex_developer_password varchar, fedex_account_number varchar, "
    "integration_level varchar)",
    "INSERT INTO delivery_carrier (name, active, delivery_type, prod_environment, "
    "fedex_developer_password, "
    "fedex_account_number, integration_level) VALUES "
    "('{\"en_US\": \"FedEx\"}', true, 'fedex', true, 'prod-fedex', '510087020', 'rate_and_ship'), "
    "('{\"en_US\": \"Flat rate\"}', true, 'fixed', false, NULL, NULL, 'rate')",
    # point of sale terminals
    "CREATE TABLE pos_payment_method (id serial PRIMARY KEY, name jsonb, use_payment_terminal "
    "varchar, "
    "adyen_test_mode boolean, adyen_api_key varchar)",
    "INSERT INTO pos_payment_method (name, use_payment_terminal, adyen_test_mode, adyen_api_key) "
    "VALUES ('{\"en_US\": \"Adyen\"}', 'adyen', false, 'AQE-prod')",
    # website
    "CREATE TABLE website (id serial PRIMARY KEY, name varchar, domain varchar)",
    "INSERT INTO website (name, domain) VALUES ('Acme', 'https://www.acme.example')",
    # payment provider modules
    "ALTER TABLE payment_provider ADD COLUMN stripe_secret_key varchar, "
    "ADD COLUMN stripe_publishable_key varchar, ADD COLUMN paypal_email_account varchar",
    "UPDATE payment_provider SET stripe_secret_key = 'sk_live_prod', stripe_publishable_key = "
    "'pk_live_prod' "
    "WHERE name->>'en_US' = 'Stripe'",
    "UPDATE payment_provider SET paypal_email_account = 'billing@acme.example', state = 'test' "
    "WHERE name->>'en_US' = 'PayPal'",
)


def test_integrations_are_neutralized_then_each_leak_is_caught(
    pg_server: DatabaseServer, prodlike_db: str, q: Q, settings: Callable[..., NeutralizeSettings]
) -> None:
    for statement in MODULE_TABLES:
        q(prodlike_db, statement)
    before = verify_database_with(pg_server, prodlike_db, settings())
    for check in (
        "oauth.providers",
        "calendar.tokens",
        "edi",
        "shipping",
        "website.domains",
        "payments.credentials",
    ):
        assert before.check(check).status == "fail", check

    report = neutralize_with(pg_server, prodlike_db, settings())
    assert report.ok, (
        [c.to_dict() for c in report.verification.failures] if report.verification else None
    )
    assert q(prodlike_db, "SELECT enabled FROM auth_oauth_provider") == [(False,)]
    assert q(
        prodlike_db,
        "SELECT count(*) FROM res_users WHERE oauth_access_token IS NOT NULL "
        "OR microsoft_calendar_rtoken IS NOT NULL",
    ) == [(0,)]
    assert q(
        prodlike_db,
        "SELECT calendar_rtoken, calendar_token, synchronization_stopped "
        "FROM google_calendar_credentials",
    ) == [(None, None, True)]
    assert q(prodlike_db, "SELECT edi_mode FROM account_edi_proxy_client_user") == [("test",)]
    assert q(
        prodlike_db,
        "SELECT l10n_in_edi_production_env, l10n_in_edi_password, l10n_es_edi_test_env, "
        "l10n_hu_edi_server_mode, l10n_sa_api_mode, l10n_ke_cu_proxy_address, "
        "l10n_eg_client_secret FROM res_company",
    ) == [(False, None, True, "test", "sandbox", "", None)]
    carriers = q(
        prodlike_db,
        "SELECT delivery_type, active, prod_environment, fedex_developer_password, "
        "fedex_account_number FROM delivery_carrier ORDER BY id",
    )
    assert carriers == [("fedex", False, False, None, None), ("fixed", True, False, None, None)]
    assert q(prodlike_db, "SELECT adyen_test_mode, adyen_api_key FROM pos_payment_method") == [
        (True, None)
    ]
    assert q(
        prodlike_db,
        "SELECT count(*) FROM payment_provider WHERE stripe_secret_key IS NOT NULL "
        "OR stripe_publishable_key IS NOT NULL OR paypal_email_account IS NOT NULL",
    ) == [(0,)]
    assert neutralize_with(pg_server, prodlike_db, settings()).changed == 0

    leaks = {
        "oauth.providers": ("UPDATE auth_oauth_provider SET enabled = true", "'Google' is enabled"),
        "calendar.tokens": (
            "UPDATE google_calendar_credentials SET calendar_rtoken = '1//prod-refresh'",
            "calendar_rtoken",
        ),
        "edi": ("UPDATE res_company SET l10n_sa_api_mode = 'prod'", "l10n_sa_api_mode is 'prod'"),
        "shipping": (
            "UPDATE delivery_carrier SET prod_environment = true WHERE delivery_type = 'fedex'",
            "'FedEx' uses the production environment",
        ),
        "website.domains": (
            "UPDATE website SET domain = 'www.acme.example'",
            "has domain www.acme.example",
        ),
        "payments.credentials": (
            "UPDATE payment_provider SET paypal_email_account = 'billing@acme.example' WHERE "
            "name->>'en_US' = 'PayPal'",
            "'PayPal': paypal_email_account",
        ),
    }
    for check, (statement, named) in leaks.items():
        q(prodlike_db, statement)
        leaked = verify_database_with(pg_server, prodlike_db, settings())
        assert check in {c.id for c in leaked.failures}, check
        assert named in leaked.check(check).detail
        assert neutralize_with(pg_server, prodlike_db, settings()).ok


def test_test_keys_from_the_env_file_are_allowed(
    pg_server: DatabaseServer, prodlike_db: str, q: Q, settings: Callable[..., NeutralizeSettings]
) -> None:
    """A project rule may put the environment's own test key in; the check accepts it."""
    from odooplane.config import ProjectRule

    q(prodlike_db, "ALTER TABLE payment_provider ADD COLUMN stripe_secret_key varchar")
    q(
        prodlike_db,
        "UPDATE payment_provider SET stripe_secret_key = 'sk_live_prod' WHERE name->>'en_US' = "
        "'Stripe'",
    )
    rule = ProjectRule(
        name="stripe-test",
        sql=[
            "UPDATE payment_provider SET stripe_secret_key = ${STRIPE_TEST_KEY}, state = 'test' "
            "WHERE name->>'en_US' = 'Stripe'"
        ],
    )
    env = {"STRIPE_TEST_KEY": "sk_test_staging123"}
    report = neutralize_with(pg_server, prodlike_db, settings(rules=(rule,), env_values=env))
    assert report.ok
    assert q(
        prodlike_db,
        "SELECT state, stripe_secret_key FROM payment_provider WHERE name->>'en_US' = 'Stripe'",
    ) == [("test", "sk_test_staging123")]
    # Without the env file, the same key is a leak.
    assert "payments.credentials" in {
        c.id for c in verify_database_with(pg_server, prodlike_db, settings()).failures
    }


@pytest.mark.parametrize("layout", ["payment_acquirer (Odoo 15)", "no webhooks (Odoo 16)"])
def test_other_layouts(
    layout: str,
    pg_server: DatabaseServer,
    prodlike_db: str,
    q: Q,
    settings: Callable[..., NeutralizeSettings],
) -> None:
    if layout.startswith("payment_acquirer"):
        q(prodlike_db, "ALTER TABLE payment_provider RENAME TO payment_acquirer")
        q(prodlike_db, "ALTER TABLE payment_acquirer RENAME COLUMN code TO provider")
    else:
        q(prodlike_db, "ALTER TABLE ir_act_server DROP COLUMN webhook_url")
        q(prodlike_db, "ALTER TABLE base_automation DROP COLUMN webhook_uuid")
        q(prodlike_db, "ALTER TABLE ir_act_server DROP COLUMN base_automation_id CASCADE")
        q(prodlike_db, "ALTER TABLE base_automation ADD COLUMN action_server_id integer")
    # Odoo's own files are for Odoo 17's layout: run odooplane's rules alone.
    report = neutralize_with(pg_server, prodlike_db, settings(odoo_source=None))
    assert report.ok
    assert report.rule("odoo").notes
    assert report.verification is not None
    if layout.startswith("payment_acquirer"):
        assert q(prodlike_db, "SELECT count(*) FROM payment_acquirer WHERE state = 'enabled'") == [
            (0,)
        ]
        assert report.verification.check("payments.enabled").status == "pass"
    else:
        assert report.verification.check("webhooks.actions").status == "skip"
        assert report.verification.check("webhooks.incoming").status == "skip"
    assert neutralize_with(pg_server, prodlike_db, settings(odoo_source=None)).changed == 0
