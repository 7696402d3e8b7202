"""odooplane's neutralization rules: what Odoo's own ``neutralize.sql`` leaves open.

Each rule is a function of a :class:`RuleContext`. Rules are written to be re-run: their
statements only touch rows that are not yet in the neutralized state, so a second run
over a neutralized database writes nothing. Every write goes through
:meth:`RuleContext.run`, which credits the changed rows to the rule (see ``changes.py``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from psycopg import sql

from odooplane.config import ProjectRule
from odooplane.errors import ConfigError
from odooplane.neutralize import catalog
from odooplane.neutralize.changes import ChangeTracker
from odooplane.neutralize.odoo_sql import tables_written
from odooplane.neutralize.record import (
    PASSWORD,
    SECRET,
    UUID,
    WEBHOOK_UUID,
    NeutralizationRecord,
)
from odooplane.neutralize.schema import Column, Cursor, Schema
from odooplane.neutralize.settings import NeutralizeSettings

Query = str | sql.SQL | sql.Composed
SECRET_PARAMS = "ir_config_parameter.secret"
_VAR_RE = re.compile(r"'?\$\{([A-Za-z_][A-Za-z0-9_]*)\}'?")
# Odoo 17's default work factor for pbkdf2_sha512 (res_users.MIN_ROUNDS).
PASSWORD_ROUNDS = 600_000


@dataclass
class RuleContext:
    cur: Cursor
    schema: Schema
    settings: NeutralizeSettings
    tracker: ChangeTracker
    prior: NeutralizationRecord | None
    record: NeutralizationRecord
    rule: str = ""
    notes: dict[str, list[str]] = field(default_factory=dict)
    catcher_id: int | None = None
    # Captured before Odoo's layer switches every cron off.
    allowlisted_crons: dict[int, bool] = field(default_factory=dict)
    # Secret-looking parameters as production had them (Odoo's layer deletes some).
    production_params: list[tuple[str, str, datetime | None]] = field(default_factory=list)
    reset_password: str | None = None
    returned: list[tuple[Any, ...]] = field(default_factory=list)

    def run(
        self, table: str, query: Query, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> int:
        """Execute one write to ``table`` and credit its changes to the current rule."""
        return self.run_on([table], query, params)

    def run_on(
        self,
        tables: list[str],
        query: Query,
        params: Sequence[Any] | Mapping[str, Any] | None = None,
    ) -> int:
        tracked = [t for t in tables if t in self.tracker.start]
        before = self.tracker.before(tracked) if tracked else {}
        self.cur.execute(query, params)
        count = max(self.cur.rowcount, 0)
        # RETURNING rows must be read before the snapshot queries reuse the cursor.
        self.returned = self.cur.fetchall() if self.cur.description is not None else []
        if tracked:
            self.tracker.after(self.rule, before)
        else:
            self.tracker.add_direct(self.rule, count)
        return count

    def note(self, text: str) -> None:
        self.notes.setdefault(self.rule, []).append(text)

    def created_after_neutralization(self, created: datetime | None) -> bool:
        """Rows created in this environment after its first neutralization are its own."""
        if self.prior is None or created is None:
            return False
        first = datetime.fromisoformat(self.prior.neutralized_at).replace(tzinfo=None)
        return created > first


RuleFn = Callable[[RuleContext], None]


@dataclass(frozen=True)
class Rule:
    name: str
    title: str
    apply: RuleFn


def _distinct(column: str, value: Any) -> sql.Composable:
    return sql.SQL("{} IS DISTINCT FROM {}").format(sql.Identifier(column), sql.Literal(value))


def _audit_columns(schema: Schema, table: str) -> dict[str, sql.Composable]:
    """create/write dates and users for rows odooplane inserts (OdooBot is id 1)."""
    values: dict[str, sql.Composable] = {}
    for column in ("create_date", "write_date"):
        if schema.has(table, column):
            values[column] = sql.SQL("(now() at time zone 'UTC')")
    for column in ("create_uid", "write_uid"):
        if schema.has(table, column):
            values[column] = sql.SQL("(SELECT id FROM res_users WHERE id = 1)")
    return values


def insert_row(ctx: RuleContext, table: str, values: dict[str, Any]) -> int:
    row: dict[str, sql.Composable] = {
        k: v if isinstance(v, sql.Composable) else sql.Literal(v)
        for k, v in values.items()
        if ctx.schema.has(table, k)
    }
    row.update({k: v for k, v in _audit_columns(ctx.schema, table).items() if k not in row})
    query = sql.SQL("INSERT INTO {t} ({cols}) VALUES ({vals}) RETURNING id").format(
        t=sql.Identifier(table),
        cols=sql.SQL(", ").join(sql.Identifier(k) for k in row),
        vals=sql.SQL(", ").join(row.values()),
    )
    ctx.run(table, query)
    return int(ctx.returned[0][0]) if ctx.returned else 0


def write_param(cur: Cursor, schema: Schema, key: str, value: str) -> None:
    """Upsert a system parameter outside change tracking (for the record itself)."""
    audit = _audit_columns(schema, "ir_config_parameter")
    query = sql.SQL(
        "INSERT INTO ir_config_parameter (key, value{cols}) VALUES (%s, %s{vals}) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
    ).format(
        cols=sql.SQL("").join(sql.SQL(", ") + sql.Identifier(k) for k in audit),
        vals=sql.SQL("").join(sql.SQL(", ") + v for v in audit.values()),
    )
    cur.execute(query, (key, value))


def get_param(cur: Cursor, key: str) -> str | None:
    cur.execute("SELECT value FROM ir_config_parameter WHERE key = %s", (key,))
    row = cur.fetchone()
    return None if row is None else str(row[0])


def set_param(ctx: RuleContext, key: str, value: str) -> None:
    current = get_param(ctx.cur, key)
    if current is None:
        insert_row(ctx, "ir_config_parameter", {"key": key, "value": value})
    elif current != value:
        ctx.run(
            "ir_config_parameter",
            "UPDATE ir_config_parameter SET value = %s WHERE key = %s",
            (value, key),
        )


def delete_params(ctx: RuleContext, keys: Sequence[str], prefixes: Sequence[str] = ()) -> None:
    conditions = [sql.SQL("key = ANY({})").format(sql.Literal(list(keys)))]
    conditions += [
        sql.SQL("key LIKE {}").format(sql.Literal(p.replace("_", r"\_") + "%")) for p in prefixes
    ]
    ctx.run(
        "ir_config_parameter",
        sql.SQL("DELETE FROM ir_config_parameter WHERE {}").format(
            sql.SQL(" OR ").join(conditions)
        ),
    )


def wipe_columns(
    ctx: RuleContext,
    table: str,
    columns: Sequence[Column],
    where: sql.Composable | None = None,
) -> None:
    """Blank every live credential of ``columns`` in ``table``."""
    if not columns:
        return
    sets = sql.SQL(", ").join(
        sql.SQL("{c} = CASE WHEN {live} THEN {wiped} ELSE {c} END").format(
            c=sql.Identifier(col.name), live=catalog.live_value(col), wiped=catalog.wiped_value(col)
        )
        for col in columns
    )
    condition = catalog.any_live(columns)
    if where is not None:
        condition = sql.SQL("({}) AND ({})").format(where, condition)
    ctx.run(
        table,
        sql.SQL("UPDATE {t} SET {s} WHERE {w}").format(
            t=sql.Identifier(table), s=sets, w=condition
        ),
    )


def _columns(schema: Schema, table: str, names: Sequence[str]) -> list[Column]:
    cols = schema.columns(table)
    return [cols[n] for n in names if n in cols]


# -- mail ---------------------------------------------------------------------------------


def rule_mail_outgoing(ctx: RuleContext) -> None:
    """Exactly one active SMTP server, the catcher; every other one off and wiped."""
    schema = ctx.schema
    if not schema.has_table("ir_mail_server"):
        return
    host, port = ctx.settings.catcher_host, ctx.settings.catcher_port
    creds = _columns(schema, "ir_mail_server", catalog.MAIL_SERVER_CREDENTIALS)
    target: dict[str, Any] = {
        "smtp_host": host,
        "smtp_port": port,
        "smtp_encryption": "none",
        "smtp_authentication": "login",
    }
    target = {k: v for k, v in target.items() if schema.has("ir_mail_server", k)}
    ctx.cur.execute(
        "SELECT id FROM ir_mail_server WHERE name = %s ORDER BY id LIMIT 1",
        (catalog.CATCHER_SERVER_NAME,),
    )
    row = ctx.cur.fetchone()
    catcher_target = {**target, "active": True, "from_filter": None, "smtp_debug": False}
    catcher_target = {k: v for k, v in catcher_target.items() if schema.has("ir_mail_server", k)}
    if row is None:
        ctx.catcher_id = insert_row(
            ctx,
            "ir_mail_server",
            {"name": catalog.CATCHER_SERVER_NAME, "sequence": 0, **catcher_target},
        )
    else:
        ctx.catcher_id = int(row[0])
        differs = [_distinct(k, v) for k, v in catcher_target.items()]
        differs.append(catalog.any_live(creds))
        sets = [
            sql.SQL("{} = {}").format(sql.Identifier(k), sql.Literal(v))
            for k, v in catcher_target.items()
        ]
        sets += [
            sql.SQL("{} = {}").format(sql.Identifier(c.name), catalog.wiped_value(c)) for c in creds
        ]
        ctx.run(
            "ir_mail_server",
            sql.SQL("UPDATE ir_mail_server SET {s} WHERE id = {id} AND ({d})").format(
                s=sql.SQL(", ").join(sets),
                id=sql.Literal(ctx.catcher_id),
                d=sql.SQL(" OR ").join(differs),
            ),
        )
    # Other servers: off, wiped, and pointed at the catcher too, so that even a mail
    # forced onto an archived server (Odoo 16 sends through it) cannot leave.
    others = {**target, "active": False}
    differs = [_distinct(k, v) for k, v in others.items()]
    differs.append(catalog.any_live(creds))
    sets = [sql.SQL("{} = {}").format(sql.Identifier(k), sql.Literal(v)) for k, v in others.items()]
    sets += [
        sql.SQL("{} = {}").format(sql.Identifier(c.name), catalog.wiped_value(c)) for c in creds
    ]
    ctx.run(
        "ir_mail_server",
        sql.SQL("UPDATE ir_mail_server SET {s} WHERE id <> {id} AND ({d})").format(
            s=sql.SQL(", ").join(sets),
            id=sql.Literal(ctx.catcher_id),
            d=sql.SQL(" OR ").join(differs),
        ),
    )


def rule_mail_incoming(ctx: RuleContext) -> None:
    """Incoming (IMAP/POP) servers off, unconfirmed and wiped."""
    schema = ctx.schema
    if not schema.has_table("fetchmail_server"):
        return
    creds = _columns(schema, "fetchmail_server", catalog.FETCHMAIL_CREDENTIALS)
    sets: list[sql.Composable] = [sql.SQL("active = false")]
    differs: list[sql.Composable] = [sql.SQL("active")]
    if schema.has("fetchmail_server", "state"):
        # Odoo's fetch cron only reads confirmed ('done') servers.
        sets.append(sql.SQL("state = 'draft'"))
        differs.append(sql.SQL("state IS DISTINCT FROM 'draft'"))
    sets += [
        sql.SQL("{c} = CASE WHEN {live} THEN {w} ELSE {c} END").format(
            c=sql.Identifier(c.name), live=catalog.live_value(c), w=catalog.wiped_value(c)
        )
        for c in creds
    ]
    differs.append(catalog.any_live(creds))
    ctx.run(
        "fetchmail_server",
        sql.SQL("UPDATE fetchmail_server SET {} WHERE {}").format(
            sql.SQL(", ").join(sets), sql.SQL(" OR ").join(differs)
        ),
    )


def rule_mail_queue(ctx: RuleContext) -> None:
    """Queued outgoing mails, SMS and letters from production are cancelled, never sent."""
    for table, column, queued, cancelled in catalog.QUEUES:
        if not ctx.schema.has(table, column):
            continue
        ctx.run(
            table,
            sql.SQL("UPDATE {t} SET {c} = {x} WHERE {c} = ANY({q})").format(
                t=sql.Identifier(table),
                c=sql.Identifier(column),
                x=sql.Literal(cancelled),
                q=sql.Literal(list(queued)),
            ),
        )
    if ctx.prior is not None:
        ctx.record.mail_mail_max_id = ctx.prior.mail_mail_max_id
    elif ctx.schema.has_table("mail_mail"):
        ctx.cur.execute("SELECT coalesce(max(id), 0) FROM mail_mail")
        fetched = ctx.cur.fetchone()
        ctx.record.mail_mail_max_id = int(fetched[0]) if fetched else 0


def rule_mail_forced_servers(ctx: RuleContext) -> None:
    """Templates, mailings, messages and queued mails forced onto another server."""
    for table in catalog.tables_with_mail_server(ctx.schema):
        ctx.run(
            table,
            sql.SQL(
                "UPDATE {t} SET mail_server_id = NULL "
                "WHERE mail_server_id IS NOT NULL AND mail_server_id IS DISTINCT FROM {c}"
            ).format(t=sql.Identifier(table), c=sql.Literal(ctx.catcher_id)),
        )
    # mass_mailing's "dedicated server" setting.
    current = get_param(ctx.cur, "mass_mailing.mail_server_id")
    if current is not None and current != str(ctx.catcher_id):
        delete_params(ctx, ["mass_mailing.mail_server_id"])


# -- crons --------------------------------------------------------------------------------


def allowlisted_cron_ids(cur: Cursor, allowlist: Sequence[str]) -> dict[str, int]:
    if not allowlist:
        return {}
    cur.execute(
        "SELECT module || '.' || name, res_id FROM ir_model_data "
        "WHERE model = 'ir.cron' AND module || '.' || name = ANY(%s)",
        (list(allowlist),),
    )
    return {str(xmlid): int(res_id) for xmlid, res_id in cur.fetchall()}


def capture_crons(ctx: RuleContext) -> None:
    """Remember the allowlisted crons' state before Odoo's layer switches them off."""
    if not ctx.schema.has("ir_cron", "active"):
        return
    ids = allowlisted_cron_ids(ctx.cur, ctx.settings.cron_allowlist)
    if not ids:
        return
    ctx.cur.execute("SELECT id, active FROM ir_cron WHERE id = ANY(%s)", (list(ids.values()),))
    ctx.allowlisted_crons = {int(i): bool(a) for i, a in ctx.cur.fetchall()}


def rule_crons(ctx: RuleContext) -> None:
    """Every scheduled action off except the allowlist; ``database.is_neutralized`` set."""
    if ctx.schema.has("ir_cron", "active"):
        known = allowlisted_cron_ids(ctx.cur, ctx.settings.cron_allowlist)
        for xmlid in ctx.settings.cron_allowlist:
            if xmlid not in known:
                ctx.note(f"allowlisted cron {xmlid} does not exist in this database")
        # "<> ALL" rather than "NOT IN (...)": an empty allowlist must switch off every cron.
        ctx.run(
            "ir_cron",
            "UPDATE ir_cron SET active = false WHERE active AND id <> ALL(%s::int[])",
            (sorted(known.values()),),
        )
        for cron_id, was_active in sorted(ctx.allowlisted_crons.items()):
            ctx.run(
                "ir_cron",
                "UPDATE ir_cron SET active = %s WHERE id = %s AND active IS DISTINCT FROM %s",
                (was_active, cron_id, was_active),
            )
    # Odoo itself then refuses to run crons (and IAP calls) as a side effect.
    current = get_param(ctx.cur, "database.is_neutralized")
    if current is None or current.strip().lower() not in ("true", "1"):
        set_param(ctx, "database.is_neutralized", "True")


# -- integrations -------------------------------------------------------------------------


def rule_payments(ctx: RuleContext) -> None:
    """Payment providers disabled unless in test mode; every credential wiped."""
    table = ctx.schema.payment_table()
    if table is None:
        return
    if ctx.schema.has(table, "state"):
        ctx.run(
            table,
            sql.SQL(
                "UPDATE {} SET state = 'disabled' WHERE state NOT IN ('test', 'disabled')"
            ).format(sql.Identifier(table)),
        )
    wipe_columns(ctx, table, catalog.provider_credential_columns(ctx.schema, table))


def rule_shipping(ctx: RuleContext) -> None:
    """Carriers off production endpoints; external carriers off; credentials wiped."""
    schema = ctx.schema
    if schema.has("delivery_carrier", "prod_environment"):
        ctx.run(
            "delivery_carrier",
            "UPDATE delivery_carrier SET prod_environment = false WHERE prod_environment",
        )
    if schema.has("delivery_carrier", "active", "delivery_type"):
        ctx.run(
            "delivery_carrier",
            "UPDATE delivery_carrier SET active = false WHERE active "
            "AND delivery_type NOT IN ('fixed', 'base_on_rule')",
        )
    wipe_columns(
        ctx, "delivery_carrier", catalog.provider_credential_columns(schema, "delivery_carrier")
    )
    # Point-of-sale payment terminals: test mode, credentials wiped.
    test_flags = [
        n
        for n, c in schema.columns("pos_payment_method").items()
        if c.data_type == "boolean" and n.endswith("_test_mode")
    ]
    for flag in sorted(test_flags):
        ctx.run(
            "pos_payment_method",
            sql.SQL("UPDATE pos_payment_method SET {f} = true WHERE {f} IS NOT TRUE").format(
                f=sql.Identifier(flag)
            ),
        )
    wipe_columns(
        ctx, "pos_payment_method", catalog.provider_credential_columns(schema, "pos_payment_method")
    )


def rule_edi(ctx: RuleContext) -> None:
    """Electronic invoicing proxies and localizations on their test endpoints, wiped."""
    schema = ctx.schema
    if schema.has("account_edi_proxy_client_user", "edi_mode"):
        ctx.run(
            "account_edi_proxy_client_user",
            "UPDATE account_edi_proxy_client_user SET edi_mode = 'test' WHERE edi_mode = 'prod'",
        )
    if not schema.has_table("res_company"):
        return
    for flag in catalog.company_flags(schema, catalog.COMPANY_PRODUCTION_FLAG_RE):
        ctx.run(
            "res_company",
            sql.SQL("UPDATE res_company SET {f} = false WHERE {f}").format(f=sql.Identifier(flag)),
        )
    for flag in catalog.company_flags(schema, catalog.COMPANY_TEST_FLAG_RE):
        ctx.run(
            "res_company",
            sql.SQL("UPDATE res_company SET {f} = true WHERE {f} IS NOT TRUE").format(
                f=sql.Identifier(flag)
            ),
        )
    for column, production, safe in catalog.COMPANY_MODES:
        if schema.has("res_company", column):
            ctx.run(
                "res_company",
                sql.SQL("UPDATE res_company SET {c} = {s} WHERE {c} = ANY({p})").format(
                    c=sql.Identifier(column), s=sql.Literal(safe), p=sql.Literal(list(production))
                ),
            )
    for column in catalog.COMPANY_ADDRESSES:
        if schema.has("res_company", column):
            ctx.run(
                "res_company",
                sql.SQL("UPDATE res_company SET {c} = '' WHERE coalesce({c}, '') <> ''").format(
                    c=sql.Identifier(column)
                ),
            )
    wipe_columns(ctx, "res_company", catalog.company_credential_columns(schema))


def rule_oauth_calendar(ctx: RuleContext) -> None:
    """OAuth login providers off; calendar synchronizations stopped; tokens wiped."""
    schema = ctx.schema
    if schema.has("auth_oauth_provider", "enabled"):
        ctx.run(
            "auth_oauth_provider", "UPDATE auth_oauth_provider SET enabled = false WHERE enabled"
        )
    for table, names in catalog.CALENDAR_TOKENS:
        wipe_columns(ctx, table, _columns(schema, table, names))
    for table in catalog.CALENDAR_STOP_FLAGS:
        if schema.has(table, "synchronization_stopped"):
            ctx.run(
                table,
                sql.SQL(
                    "UPDATE {} SET synchronization_stopped = true "
                    "WHERE synchronization_stopped IS NOT TRUE"
                ).format(sql.Identifier(table)),
            )


def rule_iap(ctx: RuleContext) -> None:
    """In-app purchase accounts (SMS, snailmail, partner autocomplete) disabled."""
    if not ctx.schema.has("iap_account", "account_token"):
        return
    ctx.run(
        "iap_account",
        "UPDATE iap_account "
        r"SET account_token = REGEXP_REPLACE(account_token, '(\+.*)?$', '+disabled') "
        "WHERE account_token NOT LIKE '%+disabled' AND LENGTH(account_token) <= 33",
    )
    ctx.run(
        "iap_account",
        "UPDATE iap_account SET account_token = 'dummy_value+disabled' "
        "WHERE account_token NOT LIKE '%+disabled' AND LENGTH(account_token) > 33",
    )


# -- webhooks -----------------------------------------------------------------------------


def webhook_rule_ids_query(schema: Schema) -> sql.Composable | None:
    """Automation rules one of whose actions (or their children) is an outgoing webhook."""
    if not schema.has("ir_act_server", "state") or not schema.has("base_automation", "active"):
        return None
    if schema.has("ir_act_server", "base_automation_id"):
        roots = (
            "SELECT a.base_automation_id, a.id FROM ir_act_server a "
            "WHERE a.base_automation_id IS NOT NULL"
        )
    elif schema.has("base_automation", "action_server_id"):
        roots = "SELECT b.id, b.action_server_id FROM base_automation b"
    else:
        return None
    children = (
        " UNION SELECT tree.root, r.action_id FROM rel_server_actions r "
        "JOIN tree ON r.server_id = tree.action"
        if schema.has("rel_server_actions", "server_id", "action_id")
        else ""
    )
    return sql.SQL(
        "WITH RECURSIVE tree(root, action) AS (" + roots + children + ") "
        "SELECT DISTINCT tree.root FROM tree JOIN ir_act_server x ON x.id = tree.action "
        "WHERE x.state = 'webhook'"
    )


def rule_webhooks(ctx: RuleContext) -> None:
    """Outgoing webhook URLs replaced, their automation rules off, incoming URLs renewed."""
    schema = ctx.schema
    if schema.has("ir_act_server", "webhook_url"):
        ctx.run(
            "ir_act_server",
            "UPDATE ir_act_server SET webhook_url = %s "
            "WHERE coalesce(webhook_url, '') <> '' AND webhook_url <> %s",
            (catalog.WEBHOOK_MARKER, catalog.WEBHOOK_MARKER),
        )
    rules = webhook_rule_ids_query(schema)
    if rules is not None:
        ctx.run(
            "base_automation",
            sql.SQL("UPDATE base_automation SET active = false WHERE active AND id IN ({})").format(
                rules
            ),
        )
    if schema.has("base_automation", "webhook_uuid"):
        # The incoming webhook URL is /web/hook/<uuid>: production's must not work here.
        ctx.cur.execute(
            "SELECT id, webhook_uuid FROM base_automation WHERE coalesce(webhook_uuid, '') <> ''"
        )
        for rule_id, value in ctx.cur.fetchall():
            if ctx.prior is None or ctx.prior.is_production(WEBHOOK_UUID, value):
                ctx.record.remember(WEBHOOK_UUID, value)
                ctx.run(
                    "base_automation",
                    "UPDATE base_automation SET webhook_uuid = %s WHERE id = %s",
                    (str(uuid.uuid4()), rule_id),
                )


def rule_website(ctx: RuleContext) -> None:
    """Websites lose production's domain (links and redirects would point there)."""
    if not ctx.schema.has("website", "domain"):
        return
    own = urlparse(ctx.settings.base_url).hostname or ""
    ctx.cur.execute("SELECT id, domain FROM website WHERE coalesce(domain, '') <> ''")
    foreign = [int(i) for i, domain in ctx.cur.fetchall() if domain_host(str(domain)) != own]
    if foreign:
        ctx.run("website", "UPDATE website SET domain = NULL WHERE id = ANY(%s)", (foreign,))
    if ctx.schema.has("website", "cdn_activated"):
        ctx.run("website", "UPDATE website SET cdn_activated = false WHERE cdn_activated")


def domain_host(domain: str) -> str:
    """``www.acme.com`` or ``https://www.acme.com/`` -> ``www.acme.com``."""
    return urlparse(domain if "://" in domain else f"//{domain}").hostname or ""


# -- system parameters --------------------------------------------------------------------


def capture_params(ctx: RuleContext) -> None:
    """Secret-looking parameters as they were, before Odoo's layer deletes some."""
    ctx.cur.execute("SELECT key, value, create_date FROM ir_config_parameter ORDER BY key")
    ctx.production_params = [
        (str(k), str(v), created)
        for k, v, created in ctx.cur.fetchall()
        if catalog.looks_like_secret_param(str(k), str(v), ctx.settings.param_allowlist)
    ]


def _own_param(ctx: RuleContext, value: str, created: datetime | None) -> bool:
    """A secret this environment made itself (web push keys Odoo generates on demand)."""
    return ctx.created_after_neutralization(created) and not ctx.record.is_production(
        SECRET_PARAMS, value
    )


def rule_params(ctx: RuleContext) -> None:
    """web.base.url, identity, enterprise code and secret-looking parameters."""
    settings = ctx.settings
    set_param(ctx, "web.base.url", settings.base_url)
    set_param(ctx, "web.base.url.freeze", "True")
    # Odoo makes database.uuid with uuid1 and database.secret with uuid4.
    fresh = {UUID: str(uuid.uuid1()), SECRET: str(uuid.uuid4())}
    for key, new_value in fresh.items():
        current = get_param(ctx.cur, key)
        if not current or ctx.prior is None or ctx.prior.is_production(key, current):
            ctx.record.remember(key, current)
            set_param(ctx, key, new_value)
    delete_params(ctx, catalog.ENTERPRISE_PARAMS, catalog.ENTERPRISE_PARAM_PREFIXES)
    allowed_values = {v for v in settings.env_values.values() if v}
    # Odoo's layer deleted some of these already: fingerprint them as production had them.
    for _key, value, created in ctx.production_params:
        if value not in allowed_values and not _own_param(ctx, value, created):
            ctx.record.remember(SECRET_PARAMS, value)
    ctx.cur.execute("SELECT id, key, value, create_date FROM ir_config_parameter ORDER BY key")
    to_blank: list[int] = []
    for param_id, key, value, created in ctx.cur.fetchall():
        if not catalog.looks_like_secret_param(str(key), str(value), settings.param_allowlist):
            continue
        if str(value) in allowed_values:
            continue
        if not _own_param(ctx, str(value), created):
            ctx.record.remember(SECRET_PARAMS, str(value))
            to_blank.append(int(param_id))
    if to_blank:
        ctx.run(
            "ir_config_parameter",
            "UPDATE ir_config_parameter SET value = '' WHERE id = ANY(%s) AND value <> ''",
            (to_blank,),
        )


# -- optional -----------------------------------------------------------------------------


def _ab64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii").rstrip("=").replace("+", ".")


def odoo_password_hash(password: str, *, rounds: int = PASSWORD_ROUNDS) -> str:
    """The passlib ``pbkdf2_sha512`` hash Odoo stores in ``res_users.password``."""
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, rounds)
    return f"$pbkdf2-sha512${rounds}${_ab64(salt)}${_ab64(digest)}"


def rule_users(ctx: RuleContext) -> None:
    """Optional: every user's password reset to one per-environment value, shown once."""
    if not ctx.settings.reset_passwords or not ctx.schema.has("res_users", "password"):
        return
    if ctx.prior is not None and ctx.prior.passwords_reset:
        ctx.record.passwords_reset = True
        ctx.note("passwords were already reset by an earlier run; the value was shown then")
        return
    ctx.cur.execute("SELECT password FROM res_users WHERE coalesce(password, '') <> ''")
    for (hashed,) in ctx.cur.fetchall():
        ctx.record.remember(PASSWORD, str(hashed))
    password = secrets.token_urlsafe(12)
    sets: list[sql.Composable] = [
        sql.SQL("password = {}").format(sql.Literal(odoo_password_hash(password)))
    ]
    if ctx.schema.has("res_users", "totp_secret"):
        # Production's second factor would still lock users out (and is itself a secret).
        sets.append(sql.SQL("totp_secret = NULL"))
    condition = sql.SQL("id <> 1 AND (active OR coalesce(password, '') <> '')")
    ctx.run(
        "res_users",
        sql.SQL("UPDATE res_users SET {} WHERE {}").format(sql.SQL(", ").join(sets), condition),
    )
    ctx.record.passwords_reset = True
    ctx.reset_password = password


def safe_email_expression(domain: str) -> sql.Composable:
    return sql.SQL(
        "left(lower(regexp_replace(btrim(email), '[^A-Za-z0-9.+-]+', '_', 'g')), 60) || '@' || {}"
    ).format(sql.Literal(domain))


def rule_partners(ctx: RuleContext) -> None:
    """Optional: partner emails rewritten to a safe domain (``jane_acme.com@safe``)."""
    domain = ctx.settings.safe_email_domain
    ctx.record.safe_email_domain = domain
    if not domain or not ctx.schema.has("res_partner", "email"):
        return
    new = safe_email_expression(domain)
    sets = [sql.SQL("email = {}").format(new)]
    if ctx.schema.has("res_partner", "email_normalized"):
        sets.append(sql.SQL("email_normalized = {}").format(new))
    ctx.run(
        "res_partner",
        sql.SQL(
            "UPDATE res_partner SET {} WHERE coalesce(email, '') <> '' AND email NOT ILIKE {}"
        ).format(sql.SQL(", ").join(sets), sql.Literal("%@" + domain)),
    )


# -- the project's own rules --------------------------------------------------------------


def _missing_variable(rule: ProjectRule, name: str, where: str) -> ConfigError:
    return ConfigError(
        f"neutralization rule '{rule.name}' uses ${{{name}}}, which {where} does not define.",
        hint=f"Add {name}=... to that env file, or remove it from the rule in odooplane.yaml "
        "(there, write it $${" + name + "} so the loader leaves it to neutralization).",
    )


def bind_variables(
    rule: ProjectRule, text: str, env: Mapping[str, str], where: str
) -> tuple[str, dict[str, str] | None]:
    """Turn ``${NAME}`` into a bound parameter taken from the environment's env file."""
    names = [m.group(1) for m in _VAR_RE.finditer(text)]
    if not names:
        return text, None
    missing = [n for n in names if n not in env]
    if missing:
        raise _missing_variable(rule, missing[0], where)
    query = text.replace("%", "%%")
    query = _VAR_RE.sub(lambda m: f"%({m.group(1)})s", query)
    return query, {n: env[n] for n in names}


def substitute(rule: ProjectRule, text: str, env: Mapping[str, str], where: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise _missing_variable(rule, name, where)
        return env[name]

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", value, text)


def apply_project_rule(ctx: RuleContext, rule: ProjectRule) -> None:
    settings = ctx.settings
    where = (
        f"the env file {settings.env_file} of environment '{settings.environment}'"
        if settings.env_file
        else f"environment '{settings.environment}' (it has no env file)"
        if settings.environment
        else "the command line (no environment was given, so no env file was read)"
    )
    for statement in rule.sql:
        query, params = bind_variables(rule, statement, settings.env_values, where)
        tables = tables_written([statement])
        ctx.tracker.track(tables)
        try:
            ctx.run_on(tables, query, params)
        except Exception as exc:  # psycopg errors: name the rule and the statement
            raise ConfigError(
                f"neutralization rule '{rule.name}' failed: {str(exc).strip().splitlines()[0]}",
                hint=f"Statement: {statement.strip()[:200]}",
            ) from None
    for key, raw in sorted(rule.params.items()):
        set_param(ctx, key, substitute(rule, raw, settings.env_values, where))


RULES: tuple[Rule, ...] = (
    Rule("mail.outgoing", "Outgoing mail servers: only the catcher is active", rule_mail_outgoing),
    Rule("mail.incoming", "Incoming mail servers: inactive, credentials wiped", rule_mail_incoming),
    Rule("mail.queue", "Queued mails, SMS and letters: cancelled", rule_mail_queue),
    Rule(
        "mail.forced_servers",
        "Templates and mails forced onto a server: cleared",
        rule_mail_forced_servers,
    ),
    Rule("crons", "Scheduled actions: inactive except the allowlist", rule_crons),
    Rule("payments", "Payment providers: disabled or test, credentials wiped", rule_payments),
    Rule(
        "shipping",
        "Shipping carriers and terminals: test endpoints, credentials wiped",
        rule_shipping,
    ),
    Rule("edi", "Electronic invoicing: test endpoints, credentials wiped", rule_edi),
    Rule(
        "oauth_calendar",
        "OAuth providers and calendar sync: off, tokens wiped",
        rule_oauth_calendar,
    ),
    Rule("iap", "In-app purchase accounts: disabled", rule_iap),
    Rule(
        "webhooks", "Webhooks: URLs replaced, rules inactive, incoming URLs renewed", rule_webhooks
    ),
    Rule("website", "Websites: production domain and CDN removed", rule_website),
    Rule("params", "System parameters: URL, identity, enterprise code, secrets", rule_params),
    Rule("users", "User passwords reset (optional)", rule_users),
    Rule("partners", "Partner emails on a safe domain (optional)", rule_partners),
)
