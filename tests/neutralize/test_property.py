"""Property: whatever production looked like, after ``neutralize`` the check passes; and
whatever leak is re-opened afterwards, the check fails and names it.

Each example clones the prodlike fixture (CREATE DATABASE ... TEMPLATE), applies a random
production-like state as SQL, neutralizes, verifies, re-opens random leaks, verifies again.
"""

from __future__ import annotations

import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from odooplane.neutralize import NeutralizeSettings, neutralize_with, verify_database_with
from odooplane.neutralize.catalog import CATCHER_SERVER_NAME
from odooplane.postgres.databases import clone_database, drop_database
from odooplane.postgres.server import DatabaseServer

pytestmark = pytest.mark.slow

Q = Callable[..., list[tuple[Any, ...]]]
PROD_UUID = "4ad1a612-e8f9-11f1-99a4-02fc00000001"
SECRET_KEYS = (
    "acme.api_key",
    "slack.webhook_token",
    "n8n.secret",
    "stripe.private_key",
    "google_gmail_client_secret",
    "acme_crm.password",
)
words = st.text(alphabet=string.ascii_letters + string.digits, min_size=8, max_size=24)
hosts = st.sampled_from(["smtp.example.com", "mail.acme.io", "10.0.0.5", "smtp.sendgrid.net"])


@dataclass(frozen=True)
class Step:
    check: str  # the check that must fail once this leak is re-opened
    sql: str
    params: tuple[Any, ...] = ()


# -- production-like states ---------------------------------------------------------------


@st.composite
def production_states(draw: st.DrawFn) -> list[Step]:
    steps: list[Step] = []
    auth = draw(st.sampled_from([None, "login", "cli", "certificate"]))
    if auth is not None:
        steps.append(
            Step(
                "",
                "INSERT INTO ir_mail_server (name, smtp_host, smtp_port, smtp_authentication, "
                "smtp_encryption, smtp_user, smtp_pass, google_gmail_refresh_token, active, "
                "sequence) "
                "VALUES ('Marketing SMTP', %s, 465, %s, 'ssl', %s, %s, %s, true, 5)",
                (draw(hosts), auth, draw(words), draw(words), draw(st.none() | words)),
            )
        )
    if draw(st.booleans()):
        steps.append(
            Step(
                "",
                'INSERT INTO fetchmail_server (name, server, port, server_type, "user", password, '
                "state, active) VALUES ('Support IMAP', 'imap.acme.io', 993, 'imap', %s, %s, "
                "'done', true)",
                (draw(words), draw(words)),
            )
        )
    for _ in range(draw(st.integers(0, 3))):
        steps.append(
            Step(
                "",
                "INSERT INTO mail_mail (mail_message_id, state, email_to, create_date) "
                "SELECT min(id), 'outgoing', %s, now() FROM mail_message",
                (f"{draw(words)}@customer.example",),
            )
        )
    for _ in range(draw(st.integers(0, 2))):
        steps.append(
            Step(
                "",
                "INSERT INTO sms_sms (number, body, state) VALUES ('+4912345', 'hi', 'outgoing')",
            )
        )
    if draw(st.booleans()):
        steps.append(
            Step(
                "", "UPDATE mail_template SET mail_server_id = (SELECT min(id) FROM ir_mail_server)"
            )
        )
    if draw(st.booleans()):
        steps.append(Step("", "UPDATE ir_cron SET active = true"))
    if draw(st.booleans()):
        steps.append(Step("", "UPDATE payment_provider SET state = 'enabled' WHERE code = 'demo'"))
    if draw(st.booleans()):
        # A rule whose action is a multi-action with a webhook child: found recursively.
        steps.append(
            Step(
                "",
                "WITH multi AS (INSERT INTO ir_act_server (name, type, binding_type, model_id, "
                "usage, state, base_automation_id) "
                "SELECT '{\"en_US\": \"Notify\"}', type, binding_type, model_id, usage, 'multi', 2 "
                "FROM ir_act_server WHERE id = 178 RETURNING id), "
                "hook AS (INSERT INTO ir_act_server (name, type, binding_type, model_id, usage, "
                "state, webhook_url) "
                'SELECT \'{"en_US": "Hook"}\', type, binding_type, model_id, '
                "'ir_actions_server', 'webhook', %s FROM ir_act_server WHERE id = 178 RETURNING "
                "id) "
                "INSERT INTO rel_server_actions (server_id, action_id) SELECT multi.id, hook.id "
                "FROM multi, hook",
                (f"https://{draw(hosts)}/hook?token={draw(words)}",),
            )
        )
    for key, value in draw(
        st.lists(
            st.tuples(st.sampled_from(SECRET_KEYS), words), max_size=3, unique_by=lambda t: t[0]
        )
    ):
        steps.append(
            Step("", "INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s)", (key, value))
        )
    base = draw(st.sampled_from(["https://erp.example.com", "http://10.1.2.3:8069", None]))
    if base is None:
        steps.append(Step("", "DELETE FROM ir_config_parameter WHERE key LIKE 'web.base.url%%'"))
    else:
        steps.append(
            Step(
                "", "UPDATE ir_config_parameter SET value = %s WHERE key = 'web.base.url'", (base,)
            )
        )
    if draw(st.booleans()):
        steps.append(
            Step(
                "",
                "INSERT INTO ir_config_parameter (key, value) VALUES ('database.expiration_date', "
                "'2031-01-01')",
            )
        )
    token = draw(st.none() | words)
    if token is not None:
        steps.append(
            Step(
                "",
                "INSERT INTO iap_account (service_name, account_token) VALUES ('sms', %s)",
                (token,),
            )
        )
    return steps


# -- leaks re-opened after neutralization -------------------------------------------------


@st.composite
def leaks(draw: st.DrawFn) -> Step:
    kind = draw(
        st.sampled_from(
            [
                "cron",
                "server",
                "credentials",
                "imap",
                "queue",
                "payment",
                "webhook_url",
                "webhook_rule",
                "base_url",
                "secret_param",
                "enterprise",
                "uuid",
                "flag",
                "record",
            ]
        )
    )
    pick = draw(st.integers(0, 1000))
    if kind == "cron":
        return Step(
            "crons.active",
            "UPDATE ir_cron SET active = true WHERE id = (SELECT c.id FROM ir_cron c "
            "WHERE c.id NOT IN (SELECT res_id FROM ir_model_data WHERE model = 'ir.cron' AND name "
            "= 'autovacuum_job') "
            "ORDER BY c.id OFFSET %s %% 14 LIMIT 1)",
            (pick,),
        )
    if kind == "server":
        return Step(
            "mail.catcher",
            "UPDATE ir_mail_server SET active = true, smtp_host = %s WHERE id = (SELECT id FROM "
            "ir_mail_server "
            "WHERE name <> %s ORDER BY id OFFSET %s %% (SELECT count(*) - 1 FROM ir_mail_server) "
            "LIMIT 1)",
            (draw(hosts), CATCHER_SERVER_NAME, pick),
        )
    if kind == "credentials":
        column = draw(st.sampled_from(["smtp_user", "smtp_pass", "google_gmail_refresh_token"]))
        return Step(
            "mail.outgoing_credentials",
            f"UPDATE ir_mail_server SET {column} = %s WHERE id = (SELECT id FROM ir_mail_server "
            "ORDER BY id OFFSET %s %% (SELECT count(*) FROM ir_mail_server) LIMIT 1)",
            (draw(words), pick),
        )
    if kind == "imap":
        return Step("mail.incoming", "UPDATE fetchmail_server SET active = true, state = 'done'")
    if kind == "queue":
        return Step(
            "mail.queue",
            "INSERT INTO mail_mail (mail_message_id, state, email_to, create_date) "
            "SELECT min(id), 'outgoing', 'x@customer.example', now() - interval '30 days' FROM "
            "mail_message",
        )
    if kind == "payment":
        return Step(
            "payments.enabled",
            "UPDATE payment_provider SET state = 'enabled' WHERE id = (SELECT id FROM "
            "payment_provider "
            "ORDER BY id OFFSET %s %% 16 LIMIT 1)",
            (pick,),
        )
    if kind == "webhook_url":
        return Step(
            "webhooks.actions",
            "UPDATE ir_act_server SET webhook_url = %s WHERE state = 'webhook'",
            (f"https://{draw(hosts)}/{draw(words)}",),
        )
    if kind == "webhook_rule":
        return Step("webhooks.rules", "UPDATE base_automation SET active = true")
    if kind == "base_url":
        return Step(
            "params.base_url",
            "UPDATE ir_config_parameter SET value = %s WHERE key = 'web.base.url'",
            (f"https://{draw(hosts)}",),
        )
    if kind == "secret_param":
        return Step(
            "params.secrets",
            "INSERT INTO ir_config_parameter (key, value, create_date) VALUES (%s, %s, "
            "'2023-05-01') "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, create_date = "
            "EXCLUDED.create_date",
            (
                f"leak{pick}.{draw(st.sampled_from(['api_key', 'secret', 'token', 'password']))}",
                draw(words),
            ),
        )
    if kind == "enterprise":
        return Step(
            "params.enterprise",
            "INSERT INTO ir_config_parameter (key, value) VALUES ('database.enterprise_code', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (draw(words),),
        )
    if kind == "uuid":
        return Step(
            "params.uuid",
            "UPDATE ir_config_parameter SET value = %s WHERE key = 'database.uuid'",
            (PROD_UUID,),
        )
    if kind == "flag":
        return Step(
            "crons.neutralized_flag",
            "UPDATE ir_config_parameter SET value = 'False' WHERE key = 'database.is_neutralized'",
        )
    return Step("record", "DELETE FROM ir_config_parameter WHERE key = 'odooplane.neutralization'")


@hsettings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(state=production_states(), reopened=st.lists(leaks(), min_size=1, max_size=4))
def test_neutralize_then_check_passes_and_every_leak_fails_it(
    pg_server: DatabaseServer,
    prodlike_template: str,
    q: Q,
    settings: Callable[..., NeutralizeSettings],
    state: list[Step],
    reopened: list[Step],
) -> None:
    name = f"prop_{uuid.uuid4().hex[:10]}"
    clone_database(pg_server, prodlike_template, name)
    try:
        for step in state:
            q(name, step.sql, step.params or None)
        # Production as it is: the check never passes.
        assert not verify_database_with(pg_server, name, settings()).ok

        report = neutralize_with(pg_server, name, settings())
        assert report.ok
        assert neutralize_with(pg_server, name, settings()).changed == 0

        for step in reopened:
            q(name, step.sql, step.params or None)
        leaked = verify_database_with(pg_server, name, settings())
        failed = {c.id for c in leaked.failures}
        assert not leaked.ok
        assert {s.check for s in reopened} <= failed, (failed, reopened)
    finally:
        drop_database(pg_server, name, terminate=True, missing_ok=True)
