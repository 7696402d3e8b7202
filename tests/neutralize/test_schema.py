"""The schema a neutralization asks before touching anything: tables and columns of
``public`` read from the catalog, so a module that is not installed is simply absent."""

from __future__ import annotations

from typing import Any

from odooplane.neutralize.schema import Column, Schema


def test_load_reads_public_tables_only(cur: Any) -> None:
    cur.execute(
        """
        CREATE TABLE payment_acquirer (
            id serial PRIMARY KEY, name jsonb NOT NULL, stripe_secret_key varchar,
            state varchar NOT NULL, logo bytea, sequence integer, gone text);
        ALTER TABLE payment_acquirer DROP COLUMN gone;
        CREATE VIEW payment_view AS SELECT id FROM payment_acquirer;
        CREATE SCHEMA other;
        CREATE TABLE other.res_users (id serial, password text);
        CREATE TABLE measures (id int, value numeric) PARTITION BY RANGE (id);
        """
    )
    schema = Schema.load(cur)
    assert sorted(schema.tables) == ["measures", "payment_acquirer"]
    cols = schema.columns("payment_acquirer")
    assert list(sorted(cols)) == ["id", "logo", "name", "sequence", "state", "stripe_secret_key"]
    assert cols["state"] == Column("state", "character varying", False)
    assert cols["stripe_secret_key"].nullable
    assert [c for c, col in sorted(cols.items()) if col.is_text] == [
        "logo",
        "name",
        "state",
        "stripe_secret_key",
    ]
    assert not cols["sequence"].is_text


def test_questions_about_tables_and_columns(cur: Any) -> None:
    cur.execute("CREATE TABLE res_partner (id serial, email varchar, name varchar)")
    schema = Schema.load(cur)
    assert schema.has_table("res_partner") and not schema.has_table("res_users")
    assert schema.has("res_partner") and schema.has("res_partner", "email", "name")
    assert not schema.has("res_partner", "email", "email_normalized")
    assert not schema.has("res_users", "id")
    assert schema.columns("res_users") == {}
    assert schema.existing("res_partner", ["name", "phone", "email"]) == ["name", "email"]
    assert schema.existing("res_users", ("login",)) == []
    assert schema.payment_table() is None


def test_payment_table_prefers_the_odoo_16_name(cur: Any) -> None:
    cur.execute("CREATE TABLE payment_acquirer (id serial)")
    assert Schema.load(cur).payment_table() == "payment_acquirer"
    cur.execute("CREATE TABLE payment_provider (id serial)")
    assert Schema.load(cur).payment_table() == "payment_provider"
