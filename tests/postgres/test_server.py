"""DatabaseServer: URLs of external servers, connection strings, odoo.conf options."""

from __future__ import annotations

import pytest
from psycopg.conninfo import conninfo_to_dict

from odooplane.errors import ConfigError
from odooplane.postgres.server import DatabaseServer

SUPABASE = (
    "postgresql://postgres.abcdefgh:s3cr%40t%3Apw@aws-0-eu-central-1.pooler.supabase.com:6543"
    "/postgres?sslmode=require&connect_timeout=5"
)


def test_a_managed_server_url() -> None:
    server = DatabaseServer.from_url(SUPABASE)
    assert server.host == "aws-0-eu-central-1.pooler.supabase.com"
    assert server.port == 6543
    assert server.user == "postgres.abcdefgh"
    assert server.password == "s3cr@t:pw"
    assert server.maintenance_db == "postgres"
    assert dict(server.params) == {"sslmode": "require", "connect_timeout": "5"}
    assert not server.embedded
    assert (server.bin_dir / "pg_dump").exists()

    info = conninfo_to_dict(server.conninfo("acme"))
    assert info["password"] == "s3cr@t:pw" and info["dbname"] == "acme"
    assert info["sslmode"] == "require"

    env = server.libpq_env("acme")
    assert env == {
        "PGHOST": "aws-0-eu-central-1.pooler.supabase.com",
        "PGPORT": "6543",
        "PGUSER": "postgres.abcdefgh",
        "PGPASSWORD": "s3cr@t:pw",
        "PGDATABASE": "acme",
        "PGSSLMODE": "require",
        "PGCONNECT_TIMEOUT": "5",
    }
    assert server.odoo_options() == {
        "db_host": "aws-0-eu-central-1.pooler.supabase.com",
        "db_port": "6543",
        "db_user": "postgres.abcdefgh",
        "db_password": "s3cr@t:pw",
        "db_sslmode": "require",
    }
    assert "s3cr" not in server.url() and "***" in server.url()
    assert "s3cr" not in server.describe()


def test_url_defaults_and_errors() -> None:
    server = DatabaseServer.from_url("postgresql://odoo@db.internal")
    assert server.port == 5432 and server.password is None
    assert server.odoo_options()["db_password"] == "False"
    assert "PGPASSWORD" not in server.libpq_env()
    with pytest.raises(ConfigError, match="no host"):
        DatabaseServer.from_url("postgresql:///odoo")
    with pytest.raises(ConfigError, match="invalid port"):
        DatabaseServer.from_url("postgresql://u@h:99999/db")
    with pytest.raises(ConfigError, match="not a valid PostgreSQL URL"):
        DatabaseServer.from_url("postgresql://u@h/db?nonsense_option=1")


def test_tool_env_drops_stray_pg_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGSERVICE", "someone-elses")
    monkeypatch.setenv("PGDATABASE", "wrong")
    env = DatabaseServer.from_url("postgresql://odoo:pw@db:5433").tool_env("right")
    assert "PGSERVICE" not in env
    assert env["PGDATABASE"] == "right" and env["PGPORT"] == "5433"
