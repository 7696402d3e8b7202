"""env diff: facts read from a real Odoo 17 database, compared with secrets masked."""

from __future__ import annotations

from pathlib import Path

from odooplane.environments import diff
from odooplane.postgres.server import DatabaseServer


def test_database_facts_of_a_production_like_database(
    pg_server: DatabaseServer, prodlike_db: str
) -> None:
    with pg_server.connect(prodlike_db) as conn:
        facts = diff.database_facts(conn)
    assert facts["modules"]["base"].startswith("17.0")
    assert "mail" in facts["modules"]
    assert "Production SMTP" in facts["mail_servers"]
    assert "smtp.example.com:587" in facts["mail_servers"]["Production SMTP"]
    assert len(facts["crons"]) == 14
    assert all(":" in v and "every" in v for v in facts["crons"].values())
    assert facts["parameters"]["web.base.url"] == "https://erp.example.com"


def test_diff_masks_secrets_and_lists_differences(tmp_path: Path) -> None:
    conf = tmp_path / "odoo.conf"
    conf.write_text("[options]\nworkers = 2\ndb_password = s3cret\nhttp_port = 8069\n")
    a = diff.environment_facts(
        "staging",
        build={"sha": "abc"},
        conf={
            "workers": "0",
            "db_password": "other",
            "max_cron_threads": "0",
            "smtp_password": "False",
        },
        env_file={"API_KEY": "test-key", "ONLY_STAGING": "1"},
        database={
            "modules": {"base": "17.0.1.3"},
            "crons": {},
            "mail_servers": {},
            "parameters": {"database.secret": "x", "a": "1"},
        },
    )
    b = diff.environment_facts(
        "production",
        build={"sha": "abc"},
        conf=diff.read_conf_options(conf),
        env_file={"API_KEY": "live-key"},
        database={
            "modules": {"base": "17.0.1.3", "sale": "17.0.1.2"},
            "crons": {"base.autovacuum_job": "Autovacuum: every 1 days"},
            "mail_servers": {},
            "parameters": {"database.secret": "y", "a": "1"},
        },
    )
    result = diff.diff_facts(a, b).to_dict()
    assert not result["identical"]
    rows = {s: {r["key"]: r for r in rs} for s, rs in result["sections"].items()}
    assert rows["build"] == {}
    assert rows["odoo_conf"]["workers"]["a"] == "0" and rows["odoo_conf"]["workers"]["b"] == "2"
    assert rows["odoo_conf"]["db_password"]["a"] == diff.MASK
    assert rows["odoo_conf"]["smtp_password"] == {
        "key": "smtp_password",
        "a": "False",
        "b": None,
        "change": "only-a",
    }
    assert "http_port" not in rows["odoo_conf"]  # identity options are not differences
    assert rows["env_file"]["API_KEY"]["a"] == diff.MASK
    assert rows["env_file"]["API_KEY"]["change"] == "differs"
    assert rows["env_file"]["ONLY_STAGING"]["change"] == "only-a"
    assert rows["modules"]["sale"]["change"] == "only-b"
    assert rows["crons"]["base.autovacuum_job"]["b"].startswith("Autovacuum")
    assert rows["parameters"]["database.secret"]["a"] == diff.MASK
    assert "a" not in rows["parameters"]
    text = str(result)
    for secret in ("s3cret", "other", "test-key", "live-key"):
        assert secret not in text
