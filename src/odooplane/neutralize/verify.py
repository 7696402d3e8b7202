"""Verification: read-only, fail-closed proof that a database cannot reach the outside.

Every check reads the database in a READ ONLY transaction and names the records that
leak (table, id, name; never a secret value). A check that cannot tell (no
neutralization record, say) fails rather than passes. Checks of things a module adds
are skipped, with the reason, when the module is not installed.
"""

from __future__ import annotations

import configparser
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from psycopg import sql

from odooplane.config import EnvironmentKind
from odooplane.errors import RefusedError
from odooplane.neutralize import catalog
from odooplane.neutralize.record import (
    PASSWORD,
    RECORD_KEY,
    SECRET,
    UUID,
    WEBHOOK_UUID,
    NeutralizationRecord,
    load_record,
)
from odooplane.neutralize.report import Check, VerificationReport
from odooplane.neutralize.rules import (
    SECRET_PARAMS,
    allowlisted_cron_ids,
    domain_host,
    substitute,
    webhook_rule_ids_query,
)
from odooplane.neutralize.schema import Column, Cursor, Schema
from odooplane.neutralize.settings import NeutralizeSettings
from odooplane.project import Project
from odooplane.secrets import MIN_SECRET_LENGTH, check_secrets_visibility, production_only_values

MAX_NAMED = 10


@dataclass
class VerifyContext:
    cur: Cursor
    schema: Schema
    settings: NeutralizeSettings
    record: NeutralizationRecord | None
    production_values: dict[str, str] = field(default_factory=dict)
    catcher_ids: list[int] = field(default_factory=list)

    @property
    def allowed_values(self) -> set[str]:
        """Values the environment's own env file supplies (test keys written by rules)."""
        return {v for v in self.settings.env_values.values() if v}

    def rows(
        self, query: str | sql.SQL | sql.Composed, params: Sequence[Any] | None = None
    ) -> list[tuple[Any, ...]]:
        self.cur.execute(query, params)
        return list(self.cur.fetchall())


CheckFn = Callable[[VerifyContext], Check]


def named(items: Sequence[str]) -> str:
    shown = "; ".join(items[:MAX_NAMED])
    if len(items) > MAX_NAMED:
        shown += f"; and {len(items) - MAX_NAMED} more"
    return shown


def result(check_id: str, title: str, leaks: Sequence[str], ok_detail: str = "") -> Check:
    if leaks:
        return Check(check_id, title, "fail", named(leaks))
    return Check(check_id, title, "pass", ok_detail)


def skipped(check_id: str, title: str, reason: str) -> Check:
    return Check(check_id, title, "skip", reason)


def _name(value: Any) -> str:
    """Odoo 16+ stores translatable names as JSON: show the English one."""
    if isinstance(value, dict):
        return str(value.get("en_US") or next(iter(value.values()), ""))
    return str(value) if value is not None else ""


def is_live(value: Any) -> bool:
    """Python twin of :func:`catalog.live_value`."""
    if value is None:
        return False
    if isinstance(value, (bytes, memoryview)):
        return len(bytes(value)) > 0
    text = str(value).strip()
    return bool(text) and not text.lower().startswith("dummy") and not text.endswith("+disabled")


def live_credentials(
    ctx: VerifyContext, table: str, columns: Sequence[Column], label: str = "name"
) -> list[str]:
    """``table #id 'name': col1, col2`` for rows holding a credential not from the env file."""
    if not columns:
        return []
    name_expr = sql.Identifier(label) if ctx.schema.has(table, label) else sql.SQL("NULL")
    query = sql.SQL("SELECT id, {n}, {cols} FROM {t} WHERE {live} ORDER BY id").format(
        n=name_expr,
        cols=sql.SQL(", ").join(sql.Identifier(c.name) for c in columns),
        t=sql.Identifier(table),
        live=catalog.any_live(columns),
    )
    leaks: list[str] = []
    allowed = ctx.allowed_values
    for row in ctx.rows(query):
        bad = [
            col.name
            for col, value in zip(columns, row[2:], strict=True)
            if is_live(value) and not (isinstance(value, str) and value in allowed)
        ]
        if bad:
            leaks.append(f"{table} #{row[0]} '{_name(row[1])}': {', '.join(bad)}")
    return leaks


def _cols(schema: Schema, table: str, names: Iterable[str]) -> list[Column]:
    cols = schema.columns(table)
    return [cols[n] for n in names if n in cols]


# -- the record ---------------------------------------------------------------------------


def check_record(ctx: VerifyContext) -> Check:
    title = "Neutralized by odooplane (record present)"
    if ctx.record is None:
        return Check(
            "record",
            title,
            "fail",
            f"no valid '{RECORD_KEY}' system parameter: this database was never "
            "neutralized by odooplane, or its record was removed",
        )
    return Check(
        "record",
        title,
        "pass",
        f"neutralized {ctx.record.neutralized_at} for {ctx.record.environment or 'no environment'}",
    )


# -- mail ---------------------------------------------------------------------------------


def check_mail_catcher(ctx: VerifyContext) -> Check:
    title = "Exactly one active outgoing mail server: the catcher"
    schema = ctx.schema
    if not schema.has_table("ir_mail_server"):
        return skipped("mail.catcher", title, "no ir_mail_server table")
    host, port = ctx.settings.catcher_host, ctx.settings.catcher_port
    auth = "smtp_authentication" if schema.has("ir_mail_server", "smtp_authentication") else "NULL"
    rows = ctx.rows(
        f"SELECT id, name, smtp_host, smtp_port, smtp_encryption, {auth}, active "
        "FROM ir_mail_server ORDER BY id"
    )
    # Only an active server can stand in for the catcher: mail forced onto an archived
    # one fails in Odoo 17 and is sent through it by Odoo 16.
    ctx.catcher_ids = [
        r[0] for r in rows if r[6] and (r[2] or "") == host and r[3] == port and r[5] != "cli"
    ]
    active = [r for r in rows if r[6]]
    leaks: list[str] = []
    for sid, name, shost, sport, enc, method, _ in active:
        where = f"ir_mail_server #{sid} '{name}' ({shost}:{sport})"
        if (shost or "") != host or sport != port:
            leaks.append(f"{where} is active and does not point at the catcher {host}:{port}")
        elif method == "cli":
            leaks.append(f"{where} is active and takes its SMTP settings from odoo.conf")
        elif enc not in (None, "none"):
            leaks.append(f"{where} uses encryption '{enc}', which the catcher does not speak")
    if not active:
        leaks.append(
            "no active outgoing mail server: Odoo would fall back to the smtp_server of odoo.conf"
        )
    elif len(active) > 1:
        ids = ", ".join(str(r[0]) for r in active)
        leaks.append(
            f"{len(active)} active outgoing mail servers (ids {ids}); exactly one is allowed"
        )
    return result("mail.catcher", title, leaks, f"sends to {host}:{port}")


def check_mail_outgoing_credentials(ctx: VerifyContext) -> Check:
    title = "Outgoing mail servers hold no credentials"
    cols = _cols(ctx.schema, "ir_mail_server", catalog.MAIL_SERVER_CREDENTIALS)
    if not cols:
        return skipped("mail.outgoing_credentials", title, "no credential columns")
    return result("mail.outgoing_credentials", title, live_credentials(ctx, "ir_mail_server", cols))


def check_mail_outgoing_hosts(ctx: VerifyContext) -> Check:
    title = "Inactive outgoing mail servers point at the catcher too"
    if not ctx.schema.has("ir_mail_server", "smtp_host", "smtp_port"):
        return skipped("mail.outgoing_hosts", title, "no ir_mail_server table")
    host, port = ctx.settings.catcher_host, ctx.settings.catcher_port
    rows = ctx.rows(
        "SELECT id, name, smtp_host, smtp_port FROM ir_mail_server "
        "WHERE coalesce(smtp_host, '') <> %s OR smtp_port IS DISTINCT FROM %s ORDER BY id",
        (host, port),
    )
    return result(
        "mail.outgoing_hosts",
        title,
        [f"ir_mail_server #{r[0]} '{r[1]}' points at {r[2]}:{r[3]}" for r in rows],
    )


def check_mail_incoming(ctx: VerifyContext) -> Check:
    title = "Incoming mail servers are inactive"
    if not ctx.schema.has("fetchmail_server", "active"):
        return skipped("mail.incoming", title, "the mail module is not installed")
    rows = ctx.rows("SELECT id, name, server, port FROM fetchmail_server WHERE active ORDER BY id")
    return result(
        "mail.incoming",
        title,
        [f"fetchmail_server #{r[0]} '{r[1]}' ({r[2]}:{r[3]}) is active" for r in rows],
    )


def check_mail_incoming_credentials(ctx: VerifyContext) -> Check:
    title = "Incoming mail servers hold no credentials"
    cols = _cols(ctx.schema, "fetchmail_server", catalog.FETCHMAIL_CREDENTIALS)
    if not cols:
        return skipped("mail.incoming_credentials", title, "the mail module is not installed")
    return result(
        "mail.incoming_credentials", title, live_credentials(ctx, "fetchmail_server", cols)
    )


def check_mail_queue(ctx: VerifyContext) -> Check:
    title = "No mail, SMS or letter from production is still queued"
    leaks: list[str] = []
    record = ctx.record
    first = datetime.fromisoformat(record.neutralized_at).replace(tzinfo=None) if record else None
    found_any = False
    for table, column, queued, _cancelled in catalog.QUEUES:
        if not ctx.schema.has(table, column):
            continue
        found_any = True
        has_date = ctx.schema.has(table, "create_date")
        conditions = [
            sql.SQL("{c} = ANY({q})").format(c=sql.Identifier(column), q=sql.Literal(list(queued)))
        ]
        if record is not None:
            # Queued after neutralization means queued by this environment (to the catcher).
            older: list[sql.Composable] = []
            if has_date:
                older.append(sql.SQL("create_date <= {}").format(sql.Literal(first)))
            if table == "mail_mail":
                older.append(sql.SQL("id <= {}").format(sql.Literal(record.mail_mail_max_id)))
            if older:
                conditions.append(sql.SQL("(") + sql.SQL(" OR ").join(older) + sql.SQL(")"))
        rows = ctx.rows(
            sql.SQL("SELECT id FROM {t} WHERE {w} ORDER BY id").format(
                t=sql.Identifier(table), w=sql.SQL(" AND ").join(conditions)
            )
        )
        if rows:
            ids = ", ".join(str(r[0]) for r in rows[:MAX_NAMED])
            more = f" and {len(rows) - MAX_NAMED} more" if len(rows) > MAX_NAMED else ""
            leaks.append(f"{len(rows)} queued {table} from production (ids {ids}{more})")
    if not found_any:
        return skipped("mail.queue", title, "no mail queue tables")
    return result("mail.queue", title, leaks)


def check_mail_forced_servers(ctx: VerifyContext) -> Check:
    title = "Nothing is forced onto a mail server other than the catcher"
    leaks: list[str] = []
    catcher = ctx.catcher_ids or [-1]
    for table in catalog.tables_with_mail_server(ctx.schema):
        rows = ctx.rows(
            sql.SQL(
                "SELECT id, mail_server_id FROM {t} WHERE mail_server_id IS NOT NULL "
                "AND NOT mail_server_id = ANY({c}) ORDER BY id"
            ).format(t=sql.Identifier(table), c=sql.Literal(catcher))
        )
        leaks += [f"{table} #{r[0]} is forced onto ir_mail_server #{r[1]}" for r in rows]
    rows = ctx.rows(
        "SELECT value FROM ir_config_parameter WHERE key = 'mass_mailing.mail_server_id'"
    )
    if rows and rows[0][0] and str(rows[0][0]) not in {str(c) for c in catcher}:
        leaks.append(
            f"mass_mailing.mail_server_id forces mailings onto ir_mail_server #{rows[0][0]}"
        )
    return result("mail.forced_servers", title, leaks)


# -- crons --------------------------------------------------------------------------------


def check_crons(ctx: VerifyContext) -> Check:
    title = "Scheduled actions: only the allowlist is active"
    if not ctx.schema.has("ir_cron", "active"):
        return skipped("crons.active", title, "no ir_cron table")
    allowed = allowlisted_cron_ids(ctx.cur, ctx.settings.cron_allowlist)
    name = "c.cron_name" if ctx.schema.has("ir_cron", "cron_name") else "NULL"
    rows = ctx.rows(
        f"SELECT c.id, {name}, d.module || '.' || d.name FROM ir_cron c "
        "LEFT JOIN ir_model_data d ON d.model = 'ir.cron' AND d.res_id = c.id "
        "WHERE c.active AND c.id <> ALL(%s::int[]) ORDER BY c.id",
        (list(allowed.values()),),
    )
    leaks = [f"ir_cron #{r[0]} {r[2] or '(no xml id)'} '{_name(r[1])}' is active" for r in rows]
    return result(
        "crons.active",
        title,
        leaks,
        f"allowlist: {', '.join(ctx.settings.cron_allowlist) or 'none'}",
    )


def check_neutralized_flag(ctx: VerifyContext) -> Check:
    title = "database.is_neutralized is set"
    rows = ctx.rows("SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'")
    if not rows:
        return Check("crons.neutralized_flag", title, "fail", "database.is_neutralized is missing")
    if str(rows[0][0]).strip().lower() not in ("true", "1"):
        return Check("crons.neutralized_flag", title, "fail", "database.is_neutralized is not true")
    return Check("crons.neutralized_flag", title, "pass")


# -- integrations -------------------------------------------------------------------------


def check_payments_enabled(ctx: VerifyContext) -> Check:
    title = "Payment providers are disabled or in test mode"
    table = ctx.schema.payment_table()
    if table is None or not ctx.schema.has(table, "state"):
        return skipped("payments.enabled", title, "the payment module is not installed")
    code = "code" if ctx.schema.has(table, "code") else "provider"
    rows = ctx.rows(
        sql.SQL(
            "SELECT id, name, {c}, state FROM {t} "
            "WHERE state NOT IN ('test', 'disabled') ORDER BY id"
        ).format(c=sql.Identifier(code), t=sql.Identifier(table))
    )
    return result(
        "payments.enabled",
        title,
        [f"{table} #{r[0]} '{_name(r[1])}' (code {r[2]}) is {r[3]}" for r in rows],
    )


def check_payments_credentials(ctx: VerifyContext) -> Check:
    title = "Payment providers hold no credentials"
    table = ctx.schema.payment_table()
    if table is None:
        return skipped("payments.credentials", title, "the payment module is not installed")
    cols = catalog.provider_credential_columns(ctx.schema, table)
    return result(
        "payments.credentials",
        title,
        live_credentials(ctx, table, cols),
        "" if cols else "no provider module with credentials is installed",
    )


def check_shipping(ctx: VerifyContext) -> Check:
    title = "Shipping carriers and payment terminals: test endpoints, no credentials"
    schema = ctx.schema
    if not schema.has_table("delivery_carrier") and not schema.has_table("pos_payment_method"):
        return skipped("shipping", title, "delivery and point of sale are not installed")
    leaks: list[str] = []
    if schema.has("delivery_carrier", "prod_environment"):
        rows = ctx.rows("SELECT id, name FROM delivery_carrier WHERE prod_environment ORDER BY id")
        leaks += [
            f"delivery_carrier #{r[0]} '{_name(r[1])}' uses the production environment"
            for r in rows
        ]
    leaks += live_credentials(
        ctx, "delivery_carrier", catalog.provider_credential_columns(schema, "delivery_carrier")
    )
    for flag in sorted(
        n
        for n, c in schema.columns("pos_payment_method").items()
        if c.data_type == "boolean" and n.endswith("_test_mode")
    ):
        rows = ctx.rows(
            sql.SQL(
                "SELECT id, name FROM pos_payment_method WHERE {} IS NOT TRUE ORDER BY id"
            ).format(sql.Identifier(flag))
        )
        leaks += [
            f"pos_payment_method #{r[0]} '{_name(r[1])}' is not in test mode ({flag})" for r in rows
        ]
    leaks += live_credentials(
        ctx, "pos_payment_method", catalog.provider_credential_columns(schema, "pos_payment_method")
    )
    return result("shipping", title, leaks)


def check_edi(ctx: VerifyContext) -> Check:
    title = "Electronic invoicing on test endpoints, no credentials"
    schema = ctx.schema
    leaks: list[str] = []
    relevant = False
    if schema.has("account_edi_proxy_client_user", "edi_mode"):
        relevant = True
        rows = ctx.rows(
            "SELECT id, proxy_type FROM account_edi_proxy_client_user "
            "WHERE edi_mode = 'prod' ORDER BY id"
        )
        leaks += [
            f"account_edi_proxy_client_user #{r[0]} ({r[1]}) is in production mode" for r in rows
        ]
    for flag in catalog.company_flags(schema, catalog.COMPANY_PRODUCTION_FLAG_RE):
        relevant = True
        rows = ctx.rows(
            sql.SQL("SELECT id, name FROM res_company WHERE {} ORDER BY id").format(
                sql.Identifier(flag)
            )
        )
        leaks += [f"res_company #{r[0]} '{r[1]}': {flag} is true" for r in rows]
    for flag in catalog.company_flags(schema, catalog.COMPANY_TEST_FLAG_RE):
        relevant = True
        rows = ctx.rows(
            sql.SQL("SELECT id, name FROM res_company WHERE {} IS NOT TRUE ORDER BY id").format(
                sql.Identifier(flag)
            )
        )
        leaks += [f"res_company #{r[0]} '{r[1]}': {flag} is false" for r in rows]
    for column, production, _safe in catalog.COMPANY_MODES:
        if schema.has("res_company", column):
            relevant = True
            rows = ctx.rows(
                sql.SQL(
                    "SELECT id, name, {c} FROM res_company WHERE {c} = ANY(%s) ORDER BY id"
                ).format(c=sql.Identifier(column)),
                (list(production),),
            )
            leaks += [f"res_company #{r[0]} '{r[1]}': {column} is '{r[2]}'" for r in rows]
    for column in catalog.COMPANY_ADDRESSES:
        if schema.has("res_company", column):
            relevant = True
            rows = ctx.rows(
                sql.SQL(
                    "SELECT id, name FROM res_company WHERE coalesce({c}, '') <> '' ORDER BY id"
                ).format(c=sql.Identifier(column))
            )
            leaks += [f"res_company #{r[0]} '{r[1]}': {column} is set" for r in rows]
    creds = catalog.company_credential_columns(schema)
    if creds:
        relevant = True
        leaks += live_credentials(ctx, "res_company", creds)
    if not relevant:
        return skipped("edi", title, "no electronic invoicing module is installed")
    return result("edi", title, leaks)


def check_oauth(ctx: VerifyContext) -> Check:
    title = "OAuth login providers are disabled"
    if not ctx.schema.has("auth_oauth_provider", "enabled"):
        return skipped("oauth.providers", title, "auth_oauth is not installed")
    rows = ctx.rows("SELECT id, name FROM auth_oauth_provider WHERE enabled ORDER BY id")
    return result(
        "oauth.providers",
        title,
        [f"auth_oauth_provider #{r[0]} '{_name(r[1])}' is enabled" for r in rows],
    )


def check_tokens(ctx: VerifyContext) -> Check:
    title = "Calendar synchronization and OAuth tokens are wiped"
    leaks: list[str] = []
    relevant = False
    for table, names in catalog.CALENDAR_TOKENS:
        cols = _cols(ctx.schema, table, names)
        if cols:
            relevant = True
            label = "login" if table == "res_users" else "id"
            leaks += live_credentials(ctx, table, cols, label=label)
    for table in catalog.CALENDAR_STOP_FLAGS:
        if ctx.schema.has(table, "synchronization_stopped"):
            relevant = True
            rows = ctx.rows(
                sql.SQL(
                    "SELECT id FROM {} WHERE synchronization_stopped IS NOT TRUE ORDER BY id"
                ).format(sql.Identifier(table))
            )
            leaks += [f"{table} #{r[0]} is still synchronizing" for r in rows]
    if not relevant:
        return skipped("calendar.tokens", title, "no calendar or OAuth module is installed")
    return result("calendar.tokens", title, leaks)


def check_iap(ctx: VerifyContext) -> Check:
    title = "In-app purchase accounts are disabled"
    if not ctx.schema.has("iap_account", "account_token"):
        return skipped("iap", title, "iap is not installed")
    # The service is a column up to 17.0, a many2one to iap_service from 18.0 on.
    if ctx.schema.has("iap_account", "service_name"):
        service = "a.service_name"
    elif ctx.schema.has("iap_account", "service_id") and ctx.schema.has(
        "iap_service", "technical_name"
    ):
        service = "(SELECT s.technical_name FROM iap_service s WHERE s.id = a.service_id)"
    else:
        service = "a.name"
    rows = ctx.rows(
        f"SELECT a.id, {service} FROM iap_account a "
        "WHERE coalesce(a.account_token, '') <> '' AND a.account_token NOT LIKE '%+disabled' "
        "ORDER BY a.id"
    )
    return result("iap", title, [f"iap_account #{r[0]} ({r[1]}) has a live token" for r in rows])


# -- webhooks -----------------------------------------------------------------------------


def check_webhook_actions(ctx: VerifyContext) -> Check:
    title = "No server action posts to a webhook URL"
    if not ctx.schema.has("ir_act_server", "webhook_url"):
        return skipped("webhooks.actions", title, "this Odoo version has no webhook actions")
    # requests.post() needs a scheme: anything without one cannot leave.
    rows = ctx.rows(
        "SELECT id, name, webhook_url FROM ir_act_server "
        "WHERE webhook_url ~* '^\\s*[a-z][a-z0-9+.-]*://' ORDER BY id"
    )
    leaks = [
        f"ir_act_server #{r[0]} '{_name(r[1])}' posts to "
        f"{urlparse(str(r[2]).strip()).hostname or 'a URL'}"
        for r in rows
    ]
    return result("webhooks.actions", title, leaks)


def check_webhook_rules(ctx: VerifyContext) -> Check:
    title = "Automation rules that call webhooks are inactive"
    query = webhook_rule_ids_query(ctx.schema)
    if query is None:
        return skipped(
            "webhooks.rules", title, "base_automation is not installed or has no webhooks"
        )
    rows = ctx.rows(
        sql.SQL(
            "SELECT id, name FROM base_automation WHERE active AND id IN ({}) ORDER BY id"
        ).format(query)
    )
    return result(
        "webhooks.rules",
        title,
        [f"base_automation #{r[0]} '{_name(r[1])}' is active and calls a webhook" for r in rows],
    )


def check_webhook_incoming(ctx: VerifyContext) -> Check:
    title = "Incoming webhook URLs differ from production's"
    if not ctx.schema.has("base_automation", "webhook_uuid"):
        return skipped("webhooks.incoming", title, "this Odoo version has no incoming webhooks")
    rows = ctx.rows(
        "SELECT id, name, webhook_uuid FROM base_automation "
        "WHERE coalesce(webhook_uuid, '') <> '' ORDER BY id"
    )
    if ctx.record is None:
        leaks = [
            f"base_automation #{r[0]} '{_name(r[1])}': no record to tell its URL from production's"
            for r in rows
        ]
    else:
        leaks = [
            f"base_automation #{r[0]} '{_name(r[1])}' still answers production's /web/hook/ URL"
            for r in rows
            if ctx.record.is_production(WEBHOOK_UUID, str(r[2]))
        ]
    return result("webhooks.incoming", title, leaks)


# -- system parameters --------------------------------------------------------------------


def _params(ctx: VerifyContext) -> dict[str, tuple[str, datetime | None]]:
    rows = ctx.rows("SELECT key, value, create_date FROM ir_config_parameter")
    return {str(k): (str(v), created) for k, v, created in rows}


def expected_base_url(ctx: VerifyContext) -> str:
    if not ctx.settings.base_url_given and ctx.record is not None and ctx.record.base_url:
        return ctx.record.base_url
    return ctx.settings.base_url


def check_base_url(ctx: VerifyContext) -> Check:
    title = "web.base.url is the environment's URL, frozen"
    params = _params(ctx)
    expected = expected_base_url(ctx)
    leaks: list[str] = []
    current = params.get("web.base.url", ("", None))[0]
    if current.rstrip("/") != expected.rstrip("/"):
        leaks.append(f"web.base.url is {current or 'missing'}, expected {expected}")
    freeze = params.get("web.base.url.freeze", ("", None))[0]
    if freeze.strip().lower() not in ("true", "1"):
        leaks.append(
            "web.base.url.freeze is not set: Odoo rewrites the URL on the first admin login"
        )
    return result("params.base_url", title, leaks, expected)


def _identity(ctx: VerifyContext, key: str, check_id: str) -> Check:
    title = f"{key} is not production's"
    value = _params(ctx).get(key, ("", None))[0]
    if not value:
        return Check(check_id, title, "fail", f"{key} is missing")
    if ctx.record is None:
        return Check(
            check_id, title, "fail", f"no neutralization record to tell {key} from production's"
        )
    if ctx.record.is_production(key, value):
        return Check(check_id, title, "fail", f"{key} is production's")
    return Check(check_id, title, "pass")


def check_uuid(ctx: VerifyContext) -> Check:
    return _identity(ctx, UUID, "params.uuid")


def check_secret(ctx: VerifyContext) -> Check:
    return _identity(ctx, SECRET, "params.secret")


def check_enterprise(ctx: VerifyContext) -> Check:
    title = "No enterprise code or subscription keys"
    params = _params(ctx)
    leaks = [
        f"{key} is set"
        for key, (value, _created) in sorted(params.items())
        if value.strip()
        and (key in catalog.ENTERPRISE_PARAMS or key.startswith(catalog.ENTERPRISE_PARAM_PREFIXES))
    ]
    return result("params.enterprise", title, leaks)


def check_secret_params(ctx: VerifyContext) -> Check:
    title = "Secret-looking system parameters are blank"
    first = (
        datetime.fromisoformat(ctx.record.neutralized_at).replace(tzinfo=None)
        if ctx.record
        else None
    )
    allowed = ctx.allowed_values
    leaks: list[str] = []
    for key, (value, created) in sorted(_params(ctx).items()):
        if not catalog.looks_like_secret_param(key, value, ctx.settings.param_allowlist):
            continue
        if value in allowed:
            continue
        own = (
            ctx.record is not None
            and first is not None
            and created is not None
            and created > first
            and not ctx.record.is_production(SECRET_PARAMS, value)
        )
        if not own:
            leaks.append(f"{key} is not blank")
    return result(
        "params.secrets",
        title,
        leaks,
        "allowlisted: " + ", ".join(ctx.settings.param_allowlist)
        if ctx.settings.param_allowlist
        else "",
    )


def check_website(ctx: VerifyContext) -> Check:
    title = "Websites have no production domain"
    if not ctx.schema.has("website", "domain"):
        return skipped("website.domains", title, "website is not installed")
    own = urlparse(expected_base_url(ctx)).hostname or ""
    rows = ctx.rows(
        "SELECT id, name, domain FROM website WHERE coalesce(domain, '') <> '' ORDER BY id"
    )
    leaks = [
        f"website #{r[0]} '{_name(r[1])}' has domain {r[2]}"
        for r in rows
        if domain_host(str(r[2])) != own
    ]
    return result("website.domains", title, leaks)


# -- optional rules and the project's -----------------------------------------------------


def check_passwords(ctx: VerifyContext) -> Check:
    title = "User passwords were reset (neutralization.reset_passwords)"
    if not ctx.settings.reset_passwords:
        return skipped("users.passwords", title, "reset_passwords is off")
    if ctx.record is None or not ctx.record.passwords_reset:
        return Check("users.passwords", title, "fail", "passwords were never reset")
    rows = ctx.rows(
        "SELECT id, login, password FROM res_users WHERE coalesce(password, '') <> '' ORDER BY id"
    )
    leaks = [
        f"res_users #{r[0]} '{r[1]}' has production's password"
        for r in rows
        if ctx.record.is_production(PASSWORD, str(r[2]))
    ]
    return result("users.passwords", title, leaks)


def check_partner_emails(ctx: VerifyContext) -> Check:
    title = "Partner emails are on the safe domain (neutralization.safe_email_domain)"
    domain = ctx.settings.safe_email_domain
    if not domain:
        return skipped("partners.emails", title, "safe_email_domain is not set")
    rows = ctx.rows(
        "SELECT id FROM res_partner WHERE coalesce(email, '') <> '' AND email NOT ILIKE %s "
        "ORDER BY id",
        ("%@" + domain,),
    )
    ids = ", ".join(str(r[0]) for r in rows[:MAX_NAMED])
    leaks = [f"{len(rows)} partners have an email outside {domain} (ids {ids})"] if rows else []
    return result("partners.emails", title, leaks)


def check_project_params(ctx: VerifyContext) -> Check:
    title = "The project's parameter overrides are in place"
    wanted: list[tuple[str, str, str]] = []
    for rule in ctx.settings.rules:
        for key, raw in sorted(rule.params.items()):
            try:
                value = substitute(rule, raw, ctx.settings.env_values, "the env file")
            except Exception as exc:  # a missing variable is a failure to report, not a crash
                return Check("project.params", title, "fail", str(exc))
            wanted.append((rule.name, key, value))
    if not wanted:
        return skipped("project.params", title, "no project rule overrides a parameter")
    params = _params(ctx)
    leaks = [
        f"{key} (rule '{rule}') does not hold its override"
        for rule, key, value in wanted
        if params.get(key, (None, None))[0] != value
    ]
    return result("project.params", title, leaks)


def check_production_values(ctx: VerifyContext) -> Check:
    title = "No production-only secret value is stored in the database"
    values = {k: v for k, v in ctx.production_values.items() if len(v) >= MIN_SECRET_LENGTH}
    if not values:
        return skipped("secrets.database", title, "no production-only key has a value to look for")
    targets: list[tuple[str, Column]] = [
        ("ir_config_parameter", ctx.schema.columns("ir_config_parameter")["value"])
    ]
    for table, names in (
        ("ir_mail_server", catalog.MAIL_SERVER_CREDENTIALS),
        ("fetchmail_server", catalog.FETCHMAIL_CREDENTIALS),
        ("ir_act_server", ("webhook_url",)),
    ):
        targets += [(table, c) for c in _cols(ctx.schema, table, names)]
    for table in catalog.PROVIDER_TABLES:
        targets += [(table, c) for c in catalog.provider_credential_columns(ctx.schema, table)]
    targets += [("res_company", c) for c in catalog.company_credential_columns(ctx.schema)]
    leaks: list[str] = []
    for table, col in targets:
        if col.data_type == "bytea":
            continue
        label = "key" if table == "ir_config_parameter" else "id"
        for env_key, value in sorted(values.items()):
            rows = ctx.rows(
                sql.SQL("SELECT {l} FROM {t} WHERE strpos({c}::text, %s) > 0 ORDER BY 1").format(
                    l=sql.Identifier(label), t=sql.Identifier(table), c=sql.Identifier(col.name)
                ),
                (value,),
            )
            leaks += [
                f"{table} {r[0]} ({col.name}) holds the value of production-only {env_key}"
                for r in rows
            ]
    return result("secrets.database", title, leaks)


CHECKS: tuple[CheckFn, ...] = (
    check_record,
    check_mail_catcher,
    check_mail_outgoing_credentials,
    check_mail_outgoing_hosts,
    check_mail_incoming,
    check_mail_incoming_credentials,
    check_mail_queue,
    check_mail_forced_servers,
    check_crons,
    check_neutralized_flag,
    check_payments_enabled,
    check_payments_credentials,
    check_shipping,
    check_edi,
    check_oauth,
    check_tokens,
    check_iap,
    check_webhook_actions,
    check_webhook_rules,
    check_webhook_incoming,
    check_base_url,
    check_uuid,
    check_secret,
    check_enterprise,
    check_secret_params,
    check_website,
    check_passwords,
    check_partner_emails,
    check_project_params,
    check_production_values,
)


def run_checks(
    cur: Cursor, settings: NeutralizeSettings, production_values: dict[str, str]
) -> list[Check]:
    schema = Schema.load(cur)
    if not schema.has_table("ir_config_parameter"):
        return [
            Check(
                "database",
                "The database is an Odoo database",
                "fail",
                "no ir_config_parameter table",
            )
        ]
    ctx = VerifyContext(
        cur=cur,
        schema=schema,
        settings=settings,
        record=load_record(cur),
        production_values=production_values,
    )
    return [check(ctx) for check in CHECKS]


def verify_cursor_readonly(cur: Cursor) -> None:
    """Verification never writes: refuse to run outside a READ ONLY transaction."""
    cur.execute("SHOW transaction_read_only")
    row = cur.fetchone()
    if not row or row[0] != "on":
        raise RefusedError("Verification must run in a READ ONLY transaction; it did not.")


# -- files around the database ------------------------------------------------------------


def read_odoo_conf(path: Path) -> dict[str, str]:
    parser = configparser.RawConfigParser()
    parser.read_string(path.read_text("utf-8"), source=str(path))
    return dict(parser.items("options")) if parser.has_section("options") else {}


def _conf_empty(value: str | None) -> bool:
    return value is None or value.strip() in ("", "False", "false", "None")


def verify_environment_files(
    project: Project,
    environment: str,
    *,
    catcher: tuple[str, int],
    odoo_conf: Path | None,
) -> list[Check]:
    """Checks of what surrounds the database: odoo.conf, env files, visible secrets."""
    checks: list[Check] = []
    host, port = catcher
    title = "odoo.conf sends mail to the catcher"
    if odoo_conf is None or not odoo_conf.is_file():
        checks.append(
            skipped("files.odoo_conf", title, "no odoo.conf rendered for this environment yet")
        )
        conf: dict[str, str] = {}
        conf_text = ""
    else:
        conf = read_odoo_conf(odoo_conf)
        conf_text = odoo_conf.read_text("utf-8")
        leaks: list[str] = []
        # Odoo's defaults when the option is absent: localhost:25.
        server = conf.get("smtp_server", "localhost (default)")
        if server != host:
            leaks.append(f"{odoo_conf}: smtp_server is {server}, expected {host}")
        smtp_port = conf.get("smtp_port", "25 (default)")
        if str(smtp_port) != str(port):
            leaks.append(f"{odoo_conf}: smtp_port is {smtp_port}, expected {port}")
        for key in ("smtp_user", "smtp_password"):
            if not _conf_empty(conf.get(key)):
                leaks.append(f"{odoo_conf}: {key} is set")
        if conf.get("smtp_ssl", "False").strip().lower() in ("true", "1"):
            leaks.append(f"{odoo_conf}: smtp_ssl is on; the catcher speaks plain SMTP")
        checks.append(result("files.odoo_conf", title, leaks, f"{host}:{port}"))
    checks.append(_check_env_file(project, environment, odoo_conf, conf_text))
    findings = check_secrets_visibility(project, environment, odoo_conf=odoo_conf)
    checks.append(
        result(
            "secrets.visible",
            "No production-only secret is visible to the environment",
            [f.message for f in findings],
        )
    )
    return checks


def _check_env_file(
    project: Project, environment: str, odoo_conf: Path | None, conf_text: str
) -> Check:
    from odooplane.neutralize.settings import resolve_env_file

    title = "The environment reads no production env file"
    env = project.environment(environment)
    own = resolve_env_file(project, env.env_file)
    leaks: list[str] = []
    for name, other in sorted(project.config.environments.items()):
        if other.kind != EnvironmentKind.production or not other.env_file:
            continue
        prod_file = resolve_env_file(project, other.env_file)
        if prod_file is None:
            continue
        if own is not None and own.resolve() == prod_file.resolve():
            leaks.append(
                f"env_file {env.env_file} is the env file of production environment '{name}'"
            )
        if conf_text and (str(prod_file) in conf_text or prod_file.name in conf_text):
            leaks.append(f"{odoo_conf} references {prod_file.name}, the env file of '{name}'")
    return result("files.env_file", title, leaks, str(own) if own else "no env file")


def verify_database_with(
    server: Any,
    database: str,
    settings: NeutralizeSettings,
    *,
    project: Project | None = None,
) -> VerificationReport:
    """Run every database check in one READ ONLY transaction."""
    started = time.monotonic()
    production_values = production_only_values(project) if project is not None else {}
    if project is not None and settings.environment is not None:
        env = project.environment(settings.environment)
        if env.kind == EnvironmentKind.production:
            production_values = {}
    with server.connect(database, autocommit=False) as conn:
        conn.read_only = True
        try:
            with conn.cursor() as cur:
                verify_cursor_readonly(cur)
                checks = run_checks(cur, settings, production_values)
        finally:
            conn.rollback()
    return VerificationReport(
        database=database,
        environment=settings.environment,
        checks=checks,
        seconds=time.monotonic() - started,
    )


def verify_database(
    server: Any,
    database: str,
    *,
    project: Project | None,
    environment: str | None,
    catcher: tuple[str, int],
    base_url: str | None = None,
) -> VerificationReport:
    """Read-only verification of ``database``; never raises for a leak (see ``.ok``)."""
    from odooplane.neutralize.settings import settings_for

    settings = settings_for(project, environment, catcher=catcher, base_url=base_url)
    return verify_database_with(server, database, settings, project=project)


def verify_environment(
    project: Project,
    environment: str,
    *,
    server: Any,
    catcher: tuple[str, int] | None = None,
    base_url: str | None = None,
    odoo_conf: Path | None = None,
) -> VerificationReport:
    """Everything ``odooplane verify ENV`` checks: the environment's database, then its
    odoo.conf, env file and the production-only secrets it can see."""
    from odooplane.mailcatcher import catcher_address

    address = catcher or catcher_address(project.state_dir, environment)
    if odoo_conf is None:
        candidate = project.state_dir / "environments" / environment / "odoo.conf"
        odoo_conf = candidate if candidate.is_file() else None
    report = verify_database(
        server,
        project.config.database_name(environment),
        project=project,
        environment=environment,
        catcher=address,
        base_url=base_url,
    )
    report.checks += verify_environment_files(
        project, environment, catcher=address, odoo_conf=odoo_conf
    )
    return report
