"""Neutralization and verification on a real production-like database of every series.

The database of each series is made by the tests (``fixtures_prodlike.py``); the 17.0
one is the shared dump. The same assertions hold on every series: the checks catch the
production-like database, Odoo's own ``neutralize.sql`` files of that series run (one
per installed module that has one), odooplane's rules close what they leave open, and
the result verifies.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fixtures_odoo import minimal_project
from odooplane.neutralize import NeutralizeSettings, neutralize_with, verify_database_with
from odooplane.neutralize.catalog import CATCHER_SERVER_NAME, WEBHOOK_MARKER
from odooplane.neutralize.odoo_sql import NEUTRALIZE_FILE
from odooplane.odoo.process import odoo_options, write_conf
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.series import for_series
from odooplane.odoo.source import OdooSource
from odooplane.postgres.server import DatabaseServer
from prodlike import INCOMING_WEBHOOK_UUID

pytestmark = [pytest.mark.odoo, pytest.mark.slow]

Q = Callable[..., list[tuple[Any, ...]]]
Settings = Callable[..., NeutralizeSettings]

# Every check the production-like database fails before neutralization, on any series.
PRODUCTION_FAILS = {
    "mail.catcher",
    "mail.outgoing_credentials",
    "mail.outgoing_hosts",
    "mail.incoming",
    "mail.incoming_credentials",
    "mail.forced_servers",
    "crons.active",
    "crons.neutralized_flag",
    "payments.enabled",
    "webhooks.actions",
    "webhooks.rules",
    "params.base_url",
    "params.enterprise",
    "params.secrets",
}


def failing(report: Any) -> set[str]:
    return {check.id for check in report.failures}


def with_neutralize_file(source: OdooSource, q: Q, db: str) -> set[str]:
    installed = q(db, "SELECT name FROM ir_module_module WHERE state = 'installed'")
    return {
        name
        for (name,) in installed
        if (source.path / "odoo" / "addons" / name / NEUTRALIZE_FILE).is_file()
        or (source.path / "addons" / name / NEUTRALIZE_FILE).is_file()
    }


def test_checks_catch_the_production_like_database(
    pg_server: DatabaseServer,
    series_prodlike_db: str,
    series_source: OdooSource,
    settings: Settings,
) -> None:
    report = verify_database_with(
        pg_server, series_prodlike_db, settings(odoo_source=series_source.path)
    )
    assert failing(report) >= PRODUCTION_FAILS, [c.id for c in report.checks if c.ok]


def test_neutralization_closes_every_item_and_verifies(
    pg_server: DatabaseServer,
    series_prodlike_db: str,
    series_source: OdooSource,
    q: Q,
    settings: Settings,
) -> None:
    db = series_prodlike_db
    before = dict(q(db, "SELECT key, value FROM ir_config_parameter"))
    report = neutralize_with(pg_server, db, settings(odoo_source=series_source.path))

    assert report.ok and report.verification is not None
    assert failing(report.verification) == set()
    # Odoo's own layer: the neutralize.sql of every installed module of this series.
    ran = {r.name.removeprefix("odoo:") for r in report.rules if r.name.startswith("odoo:")}
    assert ran == with_neutralize_file(series_source, q, db)
    assert {"base", "mail", "payment"} <= ran
    assert report.rule("odoo:base").changed >= 10  # the crons base's file switches off

    servers = q(db, "SELECT name, smtp_host, smtp_user, smtp_pass, active FROM ir_mail_server")
    assert [s for s in servers if s[4]] == [(CATCHER_SERVER_NAME, "127.0.0.1", None, None, True)]
    assert ("Production SMTP", "127.0.0.1", None, None, False) in servers
    assert q(db, 'SELECT active, state, "user", password FROM fetchmail_server') == [
        (False, "draft", None, None)
    ]
    assert q(db, "SELECT count(*) FROM mail_template WHERE mail_server_id IS NOT NULL") == [(0,)]
    active_crons = q(
        db,
        "SELECT d.module || '.' || d.name FROM ir_cron c JOIN ir_model_data d "
        "ON d.model = 'ir.cron' AND d.res_id = c.id WHERE c.active",
    )
    assert active_crons == [("base.autovacuum_job",)]
    states = dict(q(db, "SELECT name->>'en_US', state FROM payment_provider"))
    assert states["Stripe"] == "disabled" and states["Demo"] == "test"
    assert q(db, "SELECT webhook_url FROM ir_act_server WHERE state = 'webhook'") == [
        (WEBHOOK_MARKER,)
    ]
    assert dict(q(db, "SELECT trigger, active FROM base_automation")) == {
        "on_create_or_write": False,
        "on_webhook": True,
    }
    uuids = {r[0] for r in q(db, "SELECT webhook_uuid FROM base_automation")}
    assert INCOMING_WEBHOOK_UUID not in uuids
    after = dict(q(db, "SELECT key, value FROM ir_config_parameter"))
    assert after["web.base.url"] == "https://staging.acme.test"
    assert after["database.uuid"] != before["database.uuid"]
    assert "database.enterprise_code" not in after
    assert after.get("mail.web_push_vapid_private_key", "") == ""
    assert after["database.is_neutralized"].lower() == "true"

    # A second run writes nothing and still verifies.
    again = neutralize_with(pg_server, db, settings(odoo_source=series_source.path))
    assert again.ok and again.changed == 0


def test_stock_odoo_neutralize_leaves_what_odooplane_closes(
    pg_server: DatabaseServer,
    series_prodlike_db: str,
    series_source: OdooSource,
    series_runtime: Runtime,
    tmp_path: Path,
    settings: Settings,
) -> None:
    """`odoo-bin neutralize` of the series, alone, does not verify: the checks name what
    it leaves open; odooplane's rules on top close it."""
    project = minimal_project(tmp_path / "project", series_source)
    conf = write_conf(
        tmp_path / "odoo.conf",
        series_source,
        odoo_options(project, series_source, pg_server, database=series_prodlike_db),
    )
    argv = for_series(series_source.series).neutralize_argv(
        series_runtime, series_source, conf, database=series_prodlike_db
    )
    done = subprocess.run(
        argv, env=series_runtime.env(), capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    chosen = settings(odoo_source=series_source.path)
    left = failing(verify_database_with(pg_server, series_prodlike_db, chosen))
    # Odoo switches crons and payments off and sets its flag; the credentials, the
    # catcher, the incoming server's state, the identity and the enterprise code stay.
    assert not left & {"crons.active", "crons.neutralized_flag", "payments.enabled"}
    assert {
        "mail.catcher",
        "mail.outgoing_credentials",
        "mail.incoming_credentials",
        "params.base_url",
        "params.enterprise",
    } <= left
    report = neutralize_with(pg_server, series_prodlike_db, chosen)
    assert report.ok and report.verification is not None
    assert failing(report.verification) == set()
