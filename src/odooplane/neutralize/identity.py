"""A copy of an already neutralized database gets its own identity, nothing more.

Previews are clones of one base snapshot of staging that was neutralized and verified
once. Running every rule again on each clone would redo that work; what must differ per
copy is only its identity: its ``web.base.url``, a fresh ``database.uuid`` and
``database.secret`` (the base's are remembered as not-ours, so verification fails if
they ever come back), its own mail catcher port, and a random password for the admin
user, shown once to whoever creates the copy. The record inside the database then names
the copy, so the read-only verification that follows checks the copy's own settings.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from odooplane.errors import RefusedError
from odooplane.neutralize.record import RECORD_KEY, SECRET, UUID, load_record, utcnow
from odooplane.neutralize.rules import get_param, odoo_password_hash, write_param
from odooplane.neutralize.schema import Schema

# The admin password of a throwaway copy: a random 18-character secret; a lighter work
# factor than Odoo's default keeps a preview's start fast (Odoo rehashes it at login).
COPY_PASSWORD_ROUNDS = 25_000


@dataclass(frozen=True)
class CopyIdentity:
    login: str
    password: str
    base_url: str
    database_uuid: str


def personalize_copy(
    server: Any,
    database: str,
    *,
    environment: str,
    base_url: str,
    catcher: tuple[str, int],
) -> CopyIdentity:
    """Give the neutralized copy ``database`` its own identity (one transaction)."""
    host, port = catcher
    with server.connect(database, autocommit=False) as conn:
        try:
            with conn.cursor() as cur:
                schema = Schema.load(cur)
                record = load_record(cur)
                if record is None:
                    raise RefusedError(
                        f"Database '{database}' was never neutralized by odooplane: it "
                        "cannot be used as a neutralized base.",
                        hint="Refresh the base (`odooplane preview refresh-base`).",
                    )
                for key, fresh in ((UUID, str(uuid.uuid1())), (SECRET, str(uuid.uuid4()))):
                    record.remember(key, get_param(cur, key))
                    write_param(cur, schema, key, fresh)
                write_param(cur, schema, "web.base.url", base_url)
                write_param(cur, schema, "web.base.url.freeze", "True")
                if schema.has_table("ir_mail_server"):
                    cur.execute(
                        "UPDATE ir_mail_server SET smtp_host = %s, smtp_port = %s",
                        (host, int(port)),
                    )
                login, password = _reset_admin(cur, schema, database)
                record.environment = environment
                record.base_url = base_url.rstrip("/")
                record.catcher = f"{host}:{port}"
                record.updated_at = utcnow()
                write_param(cur, schema, RECORD_KEY, record.to_json())
                database_uuid = get_param(cur, UUID) or ""
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    return CopyIdentity(
        login=login, password=password, base_url=base_url, database_uuid=database_uuid
    )


def _reset_admin(cur: Any, schema: Schema, database: str) -> tuple[str, str]:
    """A random password (and no second factor) for the admin user: (login, password)."""
    cur.execute(
        "SELECT u.id, u.login FROM res_users u JOIN ir_model_data d "
        "ON d.res_id = u.id AND d.model = 'res.users' "
        "WHERE d.module = 'base' AND d.name = 'user_admin'"
    )
    row = cur.fetchone()
    if row is None:
        raise RefusedError(f"Database '{database}' has no admin user (base.user_admin).")
    admin_id, login = int(row[0]), str(row[1])
    password = secrets.token_urlsafe(14)
    sets = ["password = %s", "active = true"]
    if schema.has("res_users", "totp_secret"):
        sets.append("totp_secret = NULL")
    cur.execute(
        f"UPDATE res_users SET {', '.join(sets)} WHERE id = %s",
        (odoo_password_hash(password, rounds=COPY_PASSWORD_ROUNDS), admin_id),
    )
    return login, password


def reset_admin_password(server: Any, database: str) -> tuple[str, str]:
    """Give the admin user of ``database`` a random password: (login, password). A fresh
    database's admin/admin must not be what a preview on the internet accepts."""
    with server.connect(database, autocommit=False) as conn:
        try:
            with conn.cursor() as cur:
                result = _reset_admin(cur, Schema.load(cur), database)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    return result
