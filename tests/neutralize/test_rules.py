"""The rules, one at a time, on a small real database: parameters written and counted,
project rules bound to the env file, optional password and e-mail rewrites."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from odooplane.config import ProjectRule
from odooplane.errors import ConfigError
from odooplane.neutralize.changes import ChangeTracker
from odooplane.neutralize.record import PASSWORD, NeutralizationRecord
from odooplane.neutralize.rules import (
    RULES,
    RuleContext,
    apply_project_rule,
    bind_variables,
    delete_params,
    domain_host,
    get_param,
    insert_row,
    odoo_password_hash,
    rule_partners,
    rule_users,
    set_param,
    substitute,
    write_param,
)
from odooplane.neutralize.schema import Schema
from odooplane.neutralize.settings import NeutralizeSettings

TABLES = """
CREATE TABLE res_users (id serial PRIMARY KEY, login varchar, active boolean,
                        password varchar, totp_secret varchar);
INSERT INTO res_users (id, login, active, password, totp_secret) VALUES
    (1, '__system__', false, NULL, NULL),
    (2, 'admin', true, '$pbkdf2-sha512$prod-admin', 'TOTP'),
    (3, 'old', false, '$pbkdf2-sha512$prod-old', NULL),
    (4, 'portal', false, '', NULL);
CREATE TABLE ir_config_parameter (id serial PRIMARY KEY, key varchar UNIQUE NOT NULL,
    value text, create_uid integer, create_date timestamp, write_date timestamp);
CREATE TABLE res_partner (id serial PRIMARY KEY, email varchar, email_normalized varchar);
INSERT INTO res_partner (email, email_normalized) VALUES
    ('Jane@Acme.com', 'jane@acme.com'), (NULL, NULL), ('bob@safe.test', 'bob@safe.test');
"""


def _context(cur: Any, **settings: Any) -> RuleContext:
    cur.execute(TABLES)
    schema = Schema.load(cur)
    values: dict[str, Any] = {
        "catcher_host": "127.0.0.1",
        "catcher_port": 2599,
        "base_url": "https://staging.acme.test",
        "environment": "staging",
    }
    values.update(settings)
    record = NeutralizationRecord("staging", "t", "t", "127.0.0.1:2599", values["base_url"])
    return RuleContext(
        cur=cur,
        schema=schema,
        settings=NeutralizeSettings(**values),
        tracker=ChangeTracker(cur, schema),
        prior=None,
        record=record,
    )


def test_domain_host() -> None:
    assert domain_host("www.acme.com") == "www.acme.com"
    assert domain_host("https://WWW.acme.com:443/shop") == "www.acme.com"
    assert domain_host("") == ""


def test_odoo_password_hash_is_pbkdf2_sha512_in_passlib_form() -> None:
    hashed = odoo_password_hash("s3cret", rounds=1000)
    scheme, rounds, salt, digest = hashed.split("$")[1:]
    assert (scheme, rounds) == ("pbkdf2-sha512", "1000")

    def unab64(text: str) -> bytes:
        text = text.replace(".", "+")
        return base64.b64decode(text + "=" * (-len(text) % 4))

    expected = hashlib.pbkdf2_hmac("sha512", b"s3cret", unab64(salt), 1000)
    assert unab64(digest) == expected
    assert odoo_password_hash("s3cret", rounds=1000) != hashed  # fresh salt each time


def test_rules_have_unique_names_and_titles() -> None:
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    assert names[0] == "mail.outgoing" and names[-2:] == ["users", "partners"]
    assert all(r.title and callable(r.apply) for r in RULES)


def test_bind_variables_and_substitute() -> None:
    rule = ProjectRule(name="keys")
    env = {"KEY": "k'1%", "URL": "https://sandbox"}
    query, params = bind_variables(
        rule, "UPDATE t SET a = '${KEY}', b = ${URL} WHERE c LIKE 'x%'", env, "here"
    )
    assert query == "UPDATE t SET a = %(KEY)s, b = %(URL)s WHERE c LIKE 'x%%'"
    assert params == {"KEY": "k'1%", "URL": "https://sandbox"}
    assert bind_variables(rule, "DELETE FROM t", env, "here") == ("DELETE FROM t", None)
    assert substitute(rule, "${URL}/hook?k=${KEY}", env, "here") == "https://sandbox/hook?k=k'1%"
    with pytest.raises(ConfigError) as info:
        bind_variables(rule, "SELECT ${NOPE}", env, "the env file .env.staging")
    assert str(info.value.message) == (
        "neutralization rule 'keys' uses ${NOPE}, which the env file .env.staging does not define."
    )
    assert info.value.hint is not None and "$${NOPE}" in info.value.hint
    with pytest.raises(ConfigError, match="uses \\$\\{X\\}"):
        substitute(rule, "${X}", env, "here")


def test_parameters_are_written_once_and_counted(cur: Any) -> None:
    ctx = _context(cur)
    ctx.tracker.track(["ir_config_parameter"])
    ctx.rule = "params"
    set_param(ctx, "web.base.url", "https://staging.acme.test")
    set_param(ctx, "web.base.url", "https://staging.acme.test")  # unchanged: no write
    write_param(cur, ctx.schema, "odooplane.neutralization", "{}")
    write_param(cur, ctx.schema, "odooplane.neutralization", "{1}")
    assert get_param(cur, "odooplane.neutralization") == "{1}"
    assert get_param(cur, "missing") is None
    cur.execute("SELECT create_uid, create_date IS NOT NULL FROM ir_config_parameter")
    assert set(cur.fetchall()) == {(1, True)}  # audit columns filled in, OdooBot
    for key in ("database.enterprise_code", "database.already_linked_x", "database_keep"):
        insert_row(ctx, "ir_config_parameter", {"key": key, "value": "v", "nope": 1})
    delete_params(ctx, ["database.enterprise_code"], ["database.already_linked_"])
    cur.execute("SELECT key FROM ir_config_parameter ORDER BY key")
    assert [r[0] for r in cur.fetchall()] == [
        "database_keep",
        "odooplane.neutralization",
        "web.base.url",
    ]
    # The record's own write is not a change of the rule; web.base.url and
    # database_keep are (the other two came and went within the run).
    assert ctx.tracker.totals() == {"params": 2, "other": 1}


def test_created_after_neutralization(cur: Any) -> None:
    ctx = _context(cur)
    assert not ctx.created_after_neutralization(datetime(2030, 1, 1))
    ctx.prior = NeutralizationRecord("staging", "2026-03-14T07:30:00+00:00", "x", "c", "u")
    assert ctx.created_after_neutralization(datetime(2026, 3, 14, 8, 0))
    assert not ctx.created_after_neutralization(datetime(2026, 3, 14, 7, 0))
    assert not ctx.created_after_neutralization(None)


def test_rule_users_resets_every_password_but_the_superuser(cur: Any) -> None:
    ctx = _context(cur, reset_passwords=True)
    ctx.rule = "users"
    rule_users(ctx)
    assert ctx.reset_password and ctx.record.passwords_reset
    assert ctx.record.is_production(PASSWORD, "$pbkdf2-sha512$prod-admin")
    assert ctx.record.is_production(PASSWORD, "$pbkdf2-sha512$prod-old")
    cur.execute("SELECT id, password LIKE '$pbkdf2-sha512$600000$%', totp_secret FROM res_users")
    rows = {r[0]: (r[1], r[2]) for r in cur.fetchall()}
    assert rows[1] == (None, None)
    assert rows[2] == (True, None) and rows[3] == (True, None)
    assert rows[4] == (False, None)  # inactive without a password: left alone
    # A second run keeps the first run's password (shown once, then).
    again = _context_on(cur, ctx, prior_reset=True)
    rule_users(again)
    assert again.reset_password is None and again.record.passwords_reset
    assert again.notes["users"][0].startswith("passwords were already reset")


def _context_on(cur: Any, ctx: RuleContext, *, prior_reset: bool) -> RuleContext:
    prior = NeutralizationRecord("staging", "t", "t", "c", "u", passwords_reset=prior_reset)
    record = NeutralizationRecord("staging", "t", "t", "c", "u")
    return RuleContext(cur, ctx.schema, ctx.settings, ctx.tracker, prior, record, rule="users")


def test_rule_users_is_off_by_default(cur: Any) -> None:
    ctx = _context(cur)
    rule_users(ctx)
    cur.execute("SELECT password FROM res_users WHERE id = 2")
    assert cur.fetchone() == ("$pbkdf2-sha512$prod-admin",)
    assert ctx.reset_password is None


def test_rule_partners_rewrites_emails_to_the_safe_domain(cur: Any) -> None:
    ctx = _context(cur, safe_email_domain="safe.test")
    ctx.tracker.track(["res_partner"])
    ctx.rule = "partners"
    rule_partners(ctx)
    cur.execute("SELECT email, email_normalized FROM res_partner ORDER BY id")
    assert cur.fetchall() == [
        ("jane_acme.com@safe.test", "jane_acme.com@safe.test"),
        (None, None),
        ("bob@safe.test", "bob@safe.test"),
    ]
    assert ctx.record.safe_email_domain == "safe.test"
    assert ctx.tracker.totals() == {"partners": 1}


def test_project_rules_bind_the_env_file_and_name_failures(cur: Any, tmp_path: Path) -> None:
    ctx = _context(cur, env_values={"ACME_KEY": "test-key"}, env_file=tmp_path / ".env.staging")
    ctx.rule = "project:acme"
    rule = ProjectRule(
        name="acme",
        sql=["UPDATE res_partner SET email = '${ACME_KEY}' || '@x.test' WHERE id = 1"],
        params={"acme.api_key": "${ACME_KEY}", "acme.mode": "sandbox"},
    )
    apply_project_rule(ctx, rule)
    cur.execute("SELECT email FROM res_partner WHERE id = 1")
    assert cur.fetchone() == ("test-key@x.test",)
    assert get_param(cur, "acme.api_key") == "test-key"
    assert get_param(cur, "acme.mode") == "sandbox"

    broken = ProjectRule(name="broken", sql=["UPDATE no_such_table SET a = 1"])
    with pytest.raises(ConfigError) as info:
        apply_project_rule(ctx, broken)
    assert info.value.message.startswith("neutralization rule 'broken' failed: relation")
    assert info.value.hint == "Statement: UPDATE no_such_table SET a = 1"

    missing = ProjectRule(name="m", params={"k": "${OTHER}"})
    with pytest.raises(ConfigError, match=r"env file .*\.env\.staging of environment 'staging'"):
        apply_project_rule(ctx, missing)
