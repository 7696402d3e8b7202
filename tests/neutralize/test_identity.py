"""A copy's own identity and a random admin password, on the real production-like
Odoo 17 database (PostgreSQL only)."""

from __future__ import annotations

import base64
import hashlib

import pytest

from odooplane.errors import RefusedError
from odooplane.neutralize import neutralize_database, verify_database
from odooplane.neutralize.identity import personalize_copy, reset_admin_password
from odooplane.neutralize.report import VerificationReport
from odooplane.postgres.server import DatabaseServer


def _matches(password: str, stored: str) -> bool:
    _, scheme, rounds, salt, digest = stored.split("$")
    assert scheme == "pbkdf2-sha512"

    def unab64(text: str) -> bytes:
        text = text.replace(".", "+")
        return base64.b64decode(text + "=" * (-len(text) % 4))

    computed = hashlib.pbkdf2_hmac("sha512", password.encode(), unab64(salt), int(rounds))
    return computed == unab64(digest)


def _param(server: DatabaseServer, db: str, key: str) -> str | None:
    with server.connect(db) as conn:
        row = conn.execute(
            "SELECT value FROM ir_config_parameter WHERE key = %s", (key,)
        ).fetchone()
    return None if row is None else str(row[0])


def test_reset_admin_password(pg_server: DatabaseServer, prodlike_db: str) -> None:
    login, password = reset_admin_password(pg_server, prodlike_db)
    with pg_server.connect(prodlike_db) as conn:
        row = conn.execute(
            "SELECT u.login, u.password FROM res_users u JOIN ir_model_data d ON d.res_id = u.id "
            "AND d.model = 'res.users' WHERE d.module = 'base' AND d.name = 'user_admin'"
        ).fetchone()
    assert row is not None and row[0] == login
    assert len(password) >= 16 and _matches(password, str(row[1]))


def test_personalize_needs_a_neutralized_base_then_verifies(
    pg_server: DatabaseServer, prodlike_db: str
) -> None:
    with pytest.raises(RefusedError, match="never neutralized by odooplane"):
        personalize_copy(
            pg_server,
            prodlike_db,
            environment="pr-1-x",
            base_url="http://a",
            catcher=("127.0.0.1", 2600),
        )
    neutralize_database(
        pg_server,
        prodlike_db,
        project=None,
        environment="preview-base",
        odoo_source_path=None,
        catcher=("127.0.0.1", 2600),
        base_url="http://base.localhost",
    )
    before = _param(pg_server, prodlike_db, "database.uuid")
    identity = personalize_copy(
        pg_server,
        prodlike_db,
        environment="pr-1-x",
        base_url="http://pr-1-x.localhost:8080",
        catcher=("127.0.0.1", 2601),
    )
    assert identity.database_uuid != before

    def verify() -> VerificationReport:
        return verify_database(
            pg_server,
            prodlike_db,
            project=None,
            environment="pr-1-x",
            catcher=("127.0.0.1", 2601),
            base_url="http://pr-1-x.localhost:8080",
        )

    assert _param(pg_server, prodlike_db, "web.base.url") == "http://pr-1-x.localhost:8080"
    report = verify()
    assert report.ok, report.summary()
    # The base's identity coming back is a leak verification sees.
    with pg_server.connect(prodlike_db) as conn:
        conn.execute(
            "UPDATE ir_config_parameter SET value = %s WHERE key = 'database.uuid'", (before,)
        )
        conn.commit()
    again = verify()
    assert not again.ok
