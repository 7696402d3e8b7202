"""The verification's building blocks on a small real database: leak lists, the Python
twin of the SQL live-credential test, single checks, and read-only enforcement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from odooplane.errors import RefusedError
from odooplane.neutralize import catalog
from odooplane.neutralize.record import NeutralizationRecord
from odooplane.neutralize.report import Check
from odooplane.neutralize.schema import Schema
from odooplane.neutralize.settings import NeutralizeSettings
from odooplane.neutralize.verify import (
    CHECKS,
    MAX_NAMED,
    VerifyContext,
    check_mail_catcher,
    check_record,
    is_live,
    live_credentials,
    named,
    read_odoo_conf,
    result,
    run_checks,
    skipped,
    verify_cursor_readonly,
)

SETTINGS = NeutralizeSettings(
    catcher_host="127.0.0.1",
    catcher_port=2599,
    base_url="https://staging.acme.test",
    environment="staging",
    env_values={"FEDEX_KEY": "sandbox-key", "EMPTY": ""},
)


def _ctx(cur: Any, record: NeutralizationRecord | None = None) -> VerifyContext:
    return VerifyContext(cur=cur, schema=Schema.load(cur), settings=SETTINGS, record=record)


def test_named_lists_at_most_ten() -> None:
    assert named(["a", "b"]) == "a; b"
    items = [f"x{i}" for i in range(MAX_NAMED + 3)]
    assert named(items).endswith("; x9; and 3 more")
    assert named([]) == ""


def test_result_and_skipped() -> None:
    assert result("c", "T", []) == Check("c", "T", "pass", "")
    assert result("c", "T", [], "all good") == Check("c", "T", "pass", "all good")
    assert result("c", "T", ["leak 1", "leak 2"], "ok") == Check("c", "T", "fail", "leak 1; leak 2")
    assert skipped("c", "T", "no table") == Check("c", "T", "skip", "no table")


@pytest.mark.parametrize(
    "value",
    ["sk_live", " ", "", None, "dummy", "Dummy-key", "x+disabled", "+disabled-not", "0"],
)
def test_is_live_agrees_with_the_sql_twin(cur: Any, value: str | None) -> None:
    col = catalog.Column("v", "character varying", True)
    cur.execute("CREATE TABLE t (v varchar)")
    cur.execute("INSERT INTO t VALUES (%s)", (value,))
    # No parameters in this one: live_value's LIKE patterns hold '%'.
    cur.execute(sql.SQL("SELECT {} FROM t").format(catalog.live_value(col)))
    assert is_live(value) is cur.fetchone()[0]


def test_is_live_for_bytes() -> None:
    assert is_live(b"\x01") and is_live(memoryview(b"k"))
    assert not is_live(b"")


def test_live_credentials_name_rows_and_skip_env_file_values(cur: Any) -> None:
    cur.execute(
        """
        CREATE TABLE delivery_carrier (id serial PRIMARY KEY, name jsonb,
            fedex_developer_key varchar, fedex_developer_password varchar);
        INSERT INTO delivery_carrier (name, fedex_developer_key, fedex_developer_password)
        VALUES ('{"en_US": "FedEx", "fr_FR": "FedEx FR"}', 'prod-key', 'dummy'),
               ('{"fr_FR": "Colis"}', 'sandbox-key', NULL),
               ('{"en_US": "UPS"}', 'prod-2', 'prod-pass'),
               ('{"en_US": "None"}', '', '');
        CREATE TABLE anonymous_keys (id serial PRIMARY KEY, api_key varchar);
        INSERT INTO anonymous_keys (api_key) VALUES ('k');
        """
    )
    ctx = _ctx(cur)
    cols = catalog.provider_credential_columns(ctx.schema, "delivery_carrier")
    assert live_credentials(ctx, "delivery_carrier", cols) == [
        "delivery_carrier #1 'FedEx': fedex_developer_key",
        "delivery_carrier #3 'UPS': fedex_developer_key, fedex_developer_password",
    ]
    assert live_credentials(ctx, "delivery_carrier", []) == []
    key = ctx.schema.columns("anonymous_keys")["api_key"]
    assert live_credentials(ctx, "anonymous_keys", [key]) == ["anonymous_keys #1 '': api_key"]
    assert ctx.allowed_values == {"sandbox-key"}


def test_check_record(cur: Any) -> None:
    cur.execute("CREATE TABLE ir_config_parameter (id serial, key varchar, value text)")
    missing = check_record(_ctx(cur))
    assert missing.status == "fail" and "never neutralized by odooplane" in missing.detail
    record = NeutralizationRecord("staging", "2026-03-14T07:30:00+00:00", "t", "c", "u")
    found = check_record(_ctx(cur, record))
    assert found == Check(
        "record",
        "Neutralized by odooplane (record present)",
        "pass",
        "neutralized 2026-03-14T07:30:00+00:00 for staging",
    )


def test_check_mail_catcher(cur: Any) -> None:
    assert check_mail_catcher(_ctx(cur)).status == "skip"
    cur.execute(
        """
        CREATE TABLE ir_mail_server (id serial PRIMARY KEY, name varchar, smtp_host varchar,
            smtp_port integer, smtp_encryption varchar, smtp_authentication varchar,
            active boolean);
        """
    )
    none = check_mail_catcher(_ctx(cur))
    assert none.status == "fail" and "no active outgoing mail server" in none.detail
    cur.execute(
        "INSERT INTO ir_mail_server (name, smtp_host, smtp_port, smtp_encryption,"
        " smtp_authentication, active) VALUES"
        " ('odooplane mail catcher', '127.0.0.1', 2599, 'none', 'login', true),"
        " ('archived prod', 'smtp.acme.com', 587, 'starttls', 'login', false)"
    )
    ctx = _ctx(cur)
    assert check_mail_catcher(ctx) == Check(
        "mail.catcher",
        "Exactly one active outgoing mail server: the catcher",
        "pass",
        "sends to 127.0.0.1:2599",
    )
    assert ctx.catcher_ids == [1]
    cur.execute("UPDATE ir_mail_server SET active = true")
    leaks = check_mail_catcher(_ctx(cur)).detail
    assert "ir_mail_server #2 'archived prod' (smtp.acme.com:587) is active and does not" in leaks
    assert "2 active outgoing mail servers (ids 1, 2); exactly one is allowed" in leaks


def test_run_checks_on_a_database_that_is_not_odoo(cur: Any) -> None:
    assert run_checks(cur, SETTINGS, {}) == [
        Check(
            "database", "The database is an Odoo database", "fail", "no ir_config_parameter table"
        )
    ]


def test_run_checks_on_a_bare_odoo_shell_runs_every_check(cur: Any) -> None:
    cur.execute(
        "CREATE TABLE ir_config_parameter"
        " (id serial, key varchar, value text, create_date timestamp)"
    )
    checks = run_checks(cur, SETTINGS, {})
    assert len(checks) == len(CHECKS)
    assert len({c.id for c in checks}) == len(checks)
    by_id = {c.id: c for c in checks}
    assert by_id["record"].status == "fail"
    assert by_id["mail.catcher"].status == "skip"


def test_verification_refuses_a_writable_transaction(cur: Any) -> None:
    with pytest.raises(RefusedError, match="READ ONLY transaction"):
        verify_cursor_readonly(cur)
    cur.execute("BEGIN READ ONLY")
    verify_cursor_readonly(cur)
    cur.execute("ROLLBACK")


def test_read_odoo_conf(tmp_path: Path) -> None:
    conf = tmp_path / "odoo.conf"
    conf.write_text("[options]\nsmtp_server = 127.0.0.1\nsmtp_port = 2599\n")
    assert read_odoo_conf(conf) == {"smtp_server": "127.0.0.1", "smtp_port": "2599"}
    conf.write_text("[other]\nx = 1\n")
    assert read_odoo_conf(conf) == {}
