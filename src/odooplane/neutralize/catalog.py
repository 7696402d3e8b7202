"""Where Odoo 16 to 19 keep things that reach the outside, shared by rules and checks.

Rules write these tables and columns; checks read the same ones, so a thing the rules
neutralize is always a thing the checks prove. Every entry is looked up in the schema
first: a module that is not installed simply has no table or column.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable

from psycopg import sql

from odooplane.neutralize.schema import Column, Schema

CATCHER_SERVER_NAME = "odooplane mail catcher"
WEBHOOK_MARKER = "neutralization - disable webhook"

MAIL_SERVER_CREDENTIALS = (
    "smtp_user",
    "smtp_pass",
    "smtp_ssl_certificate",
    "smtp_ssl_private_key",
    "google_gmail_authorization_code",
    "google_gmail_refresh_token",
    "google_gmail_access_token",
    "microsoft_outlook_refresh_token",
    "microsoft_outlook_access_token",
)
FETCHMAIL_CREDENTIALS = (
    "user",
    "password",
    "google_gmail_authorization_code",
    "google_gmail_refresh_token",
    "google_gmail_access_token",
    "microsoft_outlook_refresh_token",
    "microsoft_outlook_access_token",
)
# Queues of things sent to the outside later by a cron: (table, state column, queued
# states, cancelled state).
QUEUES = (
    ("mail_mail", "state", ("outgoing",), "cancel"),
    ("sms_sms", "state", ("outgoing",), "canceled"),
    ("snailmail_letter", "state", ("pending",), "canceled"),
)
CALENDAR_TOKENS = (
    ("google_calendar_credentials", ("calendar_rtoken", "calendar_token", "calendar_sync_token")),
    ("microsoft_calendar_credentials", ("calendar_sync_token",)),
    (
        "res_users",
        (
            "microsoft_calendar_token",
            "microsoft_calendar_rtoken",
            "microsoft_calendar_sync_token",
            "google_calendar_rtoken",
            "google_calendar_token",
            "google_calendar_sync_token",
            "oauth_access_token",
        ),
    ),
)
CALENDAR_STOP_FLAGS = ("google_calendar_credentials", "microsoft_calendar_credentials")

# Tables holding one integration each per row, with vendor-prefixed credential columns
# (``stripe_secret_key``, ``fedex_developer_password``, ``adyen_api_key``...).
PROVIDER_TABLES = ("payment_provider", "payment_acquirer", "delivery_carrier", "pos_payment_method")
PROVIDER_CREDENTIAL_RE = re.compile(
    r"(key|secret|token|passw|pwd|signature|login|merchant|pspid|userid|salt|access_code|"
    r"sha_(in|out|request|response)|seller_email|email_account|account_id|account_number|"
    r"api_|client_id|username|bearer|hash)",
    re.I,
)
PROVIDER_NOT_CREDENTIALS = frozenset(
    {
        "code",
        "state",
        "name",
        "module_state",
        "delivery_type",
        "provider",
        "use_payment_terminal",
        "integration_level",
        "invoice_policy",
    }
)
# res_company columns of Odoo's EDI localizations.
COMPANY_CREDENTIAL_RE = re.compile(
    r"^l10n_\w*(password|secret|token|username|signature_key|replacement_key|api_key)$"
)
COMPANY_PRODUCTION_FLAG_RE = re.compile(r"^l10n_\w*production_env$")
COMPANY_TEST_FLAG_RE = re.compile(r"^l10n_\w*test_env$")
# (column, value that means "production", value to set) for selection fields.
COMPANY_MODES = (
    ("l10n_hu_edi_server_mode", ("production",), "test"),
    ("l10n_sa_api_mode", ("prod", "preprod"), "sandbox"),
)
COMPANY_ADDRESSES = ("l10n_ke_cu_proxy_address",)

ENTERPRISE_PARAMS = (
    "database.enterprise_code",
    "database.expiration_date",
    "database.expiration_reason",
)
ENTERPRISE_PARAM_PREFIXES = ("database.already_linked_",)
SECRET_PARAM_RE = re.compile(
    r"(api[_.-]?key|apikey|secret|token|passw|pwd|private[_.-]?key|access[_.-]?key|"
    r"credential|auth[_.-]?key|signing[_.-]?key|server[_.-]?key|webhook[_.-]?key)",
    re.I,
)
# Parameters whose key looks secret but whose value is a setting, or that other rules
# own (database.secret is regenerated, not blanked).
BUILTIN_PARAM_ALLOWLIST = (
    "database.secret",
    "database.is_neutralized",
    "password.hashing.rounds",
    "auth_signup.reset_password",
    "auth_password_policy.minlength",
    "odooplane.neutralization",
)
_FLAG_VALUE_RE = re.compile(r"(?i)\s*(true|false|none|\d{1,4})?\s*")


def looks_like_secret_param(key: str, value: str, allowlist: Iterable[str]) -> bool:
    """A system parameter that must be blank in a neutralized database."""
    if not SECRET_PARAM_RE.search(key):
        return False
    if any(fnmatch.fnmatchcase(key, pattern) for pattern in (*BUILTIN_PARAM_ALLOWLIST, *allowlist)):
        return False
    # Booleans and small numbers are settings (``*.password_policy.minlength = 8``).
    return not _FLAG_VALUE_RE.fullmatch(value or "")


def provider_credential_columns(schema: Schema, table: str) -> list[Column]:
    return [
        col
        for name, col in sorted(schema.columns(table).items())
        if col.is_text
        and col.data_type not in ("jsonb", "json")
        and name not in PROVIDER_NOT_CREDENTIALS
        and PROVIDER_CREDENTIAL_RE.search(name)
    ]


def company_credential_columns(schema: Schema) -> list[Column]:
    return [
        col
        for name, col in sorted(schema.columns("res_company").items())
        if col.is_text and COMPANY_CREDENTIAL_RE.match(name)
    ]


def company_flags(schema: Schema, pattern: re.Pattern[str]) -> list[str]:
    return [
        name
        for name, col in sorted(schema.columns("res_company").items())
        if col.data_type == "boolean" and pattern.match(name)
    ]


def live_value(col: Column) -> sql.Composable:
    """SQL true when ``col`` holds a usable secret.

    Empty values, Odoo's own placeholders (``dummy...``) and IAP's ``...+disabled``
    tokens count as wiped, so odooplane never fights Odoo's neutralize.sql over them.
    """
    ident = sql.Identifier(col.name)
    if col.data_type == "bytea":
        return sql.SQL("({c} IS NOT NULL AND length({c}) > 0)").format(c=ident)
    return sql.SQL(
        "({c} IS NOT NULL AND btrim({c}::text) <> '' AND {c}::text NOT ILIKE {dummy}"
        " AND {c}::text NOT LIKE {disabled})"
    ).format(c=ident, dummy=sql.Literal("dummy%"), disabled=sql.Literal("%+disabled"))


def any_live(cols: Iterable[Column]) -> sql.Composable:
    parts = [live_value(c) for c in cols]
    return sql.SQL(" OR ").join(parts) if parts else sql.SQL("false")


def wiped_value(col: Column) -> sql.Composable:
    if col.nullable:
        return sql.SQL("NULL")
    return sql.SQL("''::bytea") if col.data_type == "bytea" else sql.Literal("")


def tables_with_mail_server(schema: Schema) -> list[str]:
    """Every ``*.mail_server_id`` column: templates, queued mails, messages, mailings..."""
    return sorted(t for t, cols in schema.tables.items() if "mail_server_id" in cols)
