"""With a real Odoo 17: every mail of a neutralized copy lands in the catcher, none in
"production".

A second real SMTP server (aiosmtpd, in this process, requiring the production login)
stands in for production's mail server; the production database is configured to use
it, then copied; the copy is neutralized and started with Odoo. Odoo then sends mail the
three usual ways (a message to a partner, a password reset, the mail queue cron run by
hand, including a mail forced onto production's server) over JSON-RPC.
"""

from __future__ import annotations

import http.cookiejar
import json
import smtplib
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from odooplane import mailcatcher
from odooplane.neutralize import NeutralizeSettings, neutralize_with, verify_database_with
from odooplane.odoo.process import start_server
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.source import OdooSource
from odooplane.ports import free_port
from odooplane.postgres.databases import clone_database, drop_database
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project

pytestmark = [pytest.mark.odoo, pytest.mark.slow]

PROD_USER = "odoo@example.com"
PROD_PASSWORD = "prod-smtp-secret"


@dataclass
class ProductionSmtp:
    """What reached the stand-in for production's mail server."""

    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        PROD_USER.encode(),
        PROD_PASSWORD.encode(),
    )
    return AuthResult(success=ok)


@pytest.fixture
def production_smtp() -> Iterator[tuple[ProductionSmtp, int]]:
    handler = ProductionSmtp()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


class JsonRpc:
    def __init__(self, url: str) -> None:
        self.url = url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def post(self, path: str, params: dict[str, Any]) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "params": params, "id": 1})
        request = urllib.request.Request(
            self.url + path, data=body.encode(), headers={"Content-Type": "application/json"}
        )
        with self.opener.open(request, timeout=180) as response:
            answer = json.loads(response.read())
        if answer.get("error"):
            raise AssertionError(json.dumps(answer["error"])[:2000])
        return answer.get("result")

    def call(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.post(
            "/web/dataset/call_kw",
            {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
        )


def wait_for(predicate: Any, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return bool(predicate())


def test_every_mail_of_the_copy_reaches_the_catcher_and_none_production(
    pg_server: DatabaseServer,
    prodlike_db: str,
    odoo_source: OdooSource,
    odoo_runtime: Runtime,
    odoo_project: Project,
    production_smtp: tuple[ProductionSmtp, int],
) -> None:
    production, prod_port = production_smtp
    # Production sends through the stand-in, with its login, like the real one would.
    with pg_server.connect(prodlike_db) as conn:
        conn.execute(
            "UPDATE ir_mail_server SET smtp_host = '127.0.0.1', smtp_port = %s, "
            "smtp_encryption = 'none' WHERE name = 'Production SMTP'",
            (prod_port,),
        )
    with smtplib.SMTP("127.0.0.1", prod_port, timeout=10) as smtp:
        smtp.login(PROD_USER, PROD_PASSWORD)
        smtp.sendmail("odoo@example.com", ["canary@example.com"], b"Subject: canary\r\n\r\nx\r\n")
    assert len(production.received) == 1  # the stand-in works and takes the login
    production.received.clear()

    copy = f"staging_{uuid.uuid4().hex[:8]}"
    clone_database(pg_server, prodlike_db, copy)
    state = odoo_project.state_dir
    process = None
    try:
        host, port = mailcatcher.ensure_catcher(state, "staging")
        settings = NeutralizeSettings(
            catcher_host=host,
            catcher_port=port,
            base_url="http://127.0.0.1:8069",
            environment="staging",
            odoo_source=odoo_source.path,
        )
        assert neutralize_with(pg_server, copy, settings).ok

        process = start_server(
            odoo_project,
            odoo_source,
            odoo_runtime,
            pg_server,
            copy,
            extra_options={"smtp_server": host, "smtp_port": port, "workers": 0},
        )
        process.wait_healthy(timeout=180)
        rpc = JsonRpc(process.url)
        rpc.post("/web/session/authenticate", {"db": copy, "login": "admin", "password": "admin"})

        # 1. A message to a partner (a customer of production).
        partner = rpc.call(
            "res.partner", "search", [["email", "=", "hannah.schmidt@globex-corp.com"]]
        )
        rpc.call(
            "res.partner",
            "message_post",
            partner,
            body="Your order S00042 has shipped.",
            subject="Order S00042 shipped",
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
            partner_ids=partner,
        )
        # 2. A password reset (sent at once, raising if the server refuses).
        admin = rpc.call("res.users", "search", [["login", "=", "admin"]])
        rpc.call("res.users", "action_reset_password", admin)
        # 3. The mail queue, run by hand: one plain queued mail, one forced onto the
        # production server (archived by neutralization: Odoo refuses to use it).
        prod_server = rpc.call(
            "ir.mail_server", "search", [["name", "=", "Production SMTP"], ["active", "=", False]]
        )
        rpc.call(
            "mail.mail",
            "create",
            {
                "subject": "Queued reminder",
                "email_to": "peter.gibbons@initech.co.uk",
                "body_html": "<p>Reminder</p>",
            },
        )
        rpc.call(
            "mail.mail",
            "create",
            {
                "subject": "Forced onto production",
                "email_to": "accounts@initech.co.uk",
                "body_html": "<p>Forced</p>",
                "mail_server_id": prod_server[0],
            },
        )
        cron = rpc.call(
            "ir.model.data",
            "search_read",
            [["module", "=", "mail"], ["name", "=", "ir_cron_mail_scheduler_action"]],
            ["res_id"],
        )
        rpc.call("ir.cron", "method_direct_trigger", [cron[0]["res_id"]])

        def subjects() -> set[str]:
            return {m.subject for m in mailcatcher.list_messages(state, "staging")}

        expected = {"Order S00042 shipped", "Queued reminder"}
        assert wait_for(
            lambda: (
                expected <= subjects()
                and any("Password" in s or "password" in s for s in subjects())
            )
        ), (
            subjects(),
            process.log_tail(),
        )
        caught = mailcatcher.list_messages(state, "staging")
        recipients = {r for m in caught for r in m.rcpt_tos}
        assert {
            "hannah.schmidt@globex-corp.com",
            "admin@example.com",
            "peter.gibbons@initech.co.uk",
        } <= recipients
        # The forced one was refused by Odoo (archived server), not sent anywhere.
        forced = rpc.call(
            "mail.mail", "search_read", [["subject", "=", "Forced onto production"]], ["state"]
        )
        assert forced == [] or forced[0]["state"] in ("exception", "cancel", "outgoing")
        assert "Forced onto production" not in subjects()

        # Nothing ever reached production's server.
        time.sleep(1.0)
        assert production.received == []
        # The running copy still verifies, except that it names the mail forced onto
        # production's server.
        report = verify_database_with(pg_server, copy, settings)
        assert [c.id for c in report.failures] == ["mail.forced_servers"]
        assert "forced onto ir_mail_server" in report.failures[0].detail

        # Control: re-open the leak in the running copy and the stand-in does receive
        # Odoo's mail, so the silence above is neutralization's doing.
        with pg_server.connect(copy) as conn:
            conn.execute("UPDATE ir_mail_server SET active = false")
            conn.execute(
                "UPDATE ir_mail_server SET active = true, smtp_host = '127.0.0.1', smtp_port = %s, "
                "smtp_user = %s, smtp_pass = %s WHERE name = 'Production SMTP'",
                (prod_port, PROD_USER, PROD_PASSWORD),
            )
        rpc.call("res.users", "action_reset_password", admin)
        assert wait_for(lambda: len(production.received) == 1, timeout=30)
        assert production.received[0][1] == ["admin@example.com"]
    finally:
        if process is not None:
            process.stop()
        mailcatcher.stop_catcher(state)
        drop_database(pg_server, copy, terminate=True, missing_ok=True)
