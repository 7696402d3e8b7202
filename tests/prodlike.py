"""A production-like database of any series, made from scratch (tests and benchmarks).

:func:`build_prodlike` makes a real Odoo database the way the shared 17.0 dump was made
(``/work/shared/fixtures/README.md``): ``base, web, mail, payment, payment_demo,
base_automation, auth_signup`` installed without demo data, then made production-like
through Odoo's own ORM (an ``odoo-bin shell`` script) and a few SQL writes the ORM
refuses outside production:

- company "Acme Manufacturing GmbH" and 6 partners with real-looking addresses;
- outgoing server "Production SMTP" (smtp.example.com:587, STARTTLS, user and
  password, active) with a mail template forced onto it;
- incoming server "Production IMAP" (imap.example.com:993, confirmed, password set);
- every cron active but the time-based automation check;
- the Stripe provider (code ``none``) enabled; Demo in test mode;
- an automation rule on partners whose action is an outgoing webhook with a token in
  its URL, and a rule with an incoming-webhook trigger (the dump's UUID);
- web.base.url (frozen), database.enterprise_code, mail.catchall.domain and the
  web-push VAPID keys.

``fixtures_prodlike.py`` makes it a session template per series;
``benchmarks/neutralize.py`` builds one for a series the shared dump is not.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from odooplane.config import OdooConfig, ProjectConfig
from odooplane.odoo.process import initialize_database, odoo_options, write_conf
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.series import for_series
from odooplane.odoo.source import OdooSource
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project

PRODLIKE_MODULES = (
    "base",
    "web",
    "mail",
    "payment",
    "payment_demo",
    "base_automation",
    "auth_signup",
)
INCOMING_WEBHOOK_UUID = "348db57d-6989-4365-9f74-0acad1ba0cfe"
WEBHOOK_URL = "https://hooks.example.com/odoo/partner-sync?token=prod-webhook-token"

# Runs in `odoo-bin shell` of the series (``env`` is bound, superuser). Only the ORM
# calls every supported series shares.
PRODLIKE_SCRIPT = r"""
env.company.write({"name": "Acme Manufacturing GmbH", "email": "info@acme-manufacturing.de"})
for name, email in [
    ("Jane Buyer", "jane.buyer@customer-one.com"),
    ("Max Mustermann", "max@mustermann-gmbh.de"),
    ("Global Retail Ltd", "purchasing@global-retail.co.uk"),
    ("Lena Schmidt", "lena.schmidt@schmidt-partner.de"),
    ("Paolo Rossi", "p.rossi@rossi-srl.it"),
    ("Accounts Payable", "ap@bigcorp.example.com"),
]:
    env["res.partner"].create({"name": name, "email": email})
smtp = env["ir.mail_server"].create({
    "name": "Production SMTP",
    "smtp_host": "smtp.example.com",
    "smtp_port": 587,
    "smtp_encryption": "starttls",
    "smtp_authentication": "login",
    "smtp_user": "odoo@example.com",
    "smtp_pass": "prod-smtp-secret",
    "sequence": 1,
})
env["mail.template"].search([], order="id", limit=1).write({"mail_server_id": smtp.id})
env["fetchmail.server"].create({
    "name": "Production IMAP",
    "server": "imap.example.com",
    "port": 993,
    "server_type": "imap",
    "is_ssl": True,
    "user": "catchall@example.com",
    "password": "prod-imap-secret",
})
partner_model = env["ir.model"]._get("res.partner")
outgoing = env["base.automation"].create({
    "name": "Push partner changes to CRM (webhook)",
    "model_id": partner_model.id,
    "trigger": "on_create_or_write",
})
env["ir.actions.server"].create({
    "name": "Send Webhook Notification",
    "model_id": partner_model.id,
    "base_automation_id": outgoing.id,
    "usage": "base_automation",
    "state": "webhook",
    "webhook_url": WEBHOOK_URL,
})
incoming = env["base.automation"].create({
    "name": "Incoming webhook: tag partner",
    "model_id": partner_model.id,
    "trigger": "on_webhook",
})
env["ir.actions.server"].create({
    "name": "Execute Code",
    "model_id": partner_model.id,
    "base_automation_id": incoming.id,
    "usage": "base_automation",
    "state": "code",
    "code": "record.message_post(body='webhook received')",
})
params = env["ir.config_parameter"]
for key, value in [
    ("web.base.url", "https://erp.example.com"),
    ("web.base.url.freeze", "True"),
    ("database.enterprise_code", "FAKE-CODE"),
    ("mail.catchall.domain", "example.com"),
    ("mail.default.from", "notifications"),
    ("mail.web_push_vapid_private_key", "pFN2KvnQhJyuL5pYpJd1SV2srPJVvDwHS73MTC9vwAg"),
    ("mail.web_push_vapid_public_key",
     "BIMuG0gKWFgLhhQGoVGjZBaP_s4Aze5b7KMeSnasv4MmoFJeuFvK3ufHZA6cy4Ev0UlqsJmwOjFiP_Yj5BtgJ3U"),
]:
    params.set_param(key, value)
env.cr.commit()
print("ODOOPLANE-PRODLIKE-DONE", flush=True)
"""

# What the ORM refuses, or checks against the outside, when set by hand.
PRODLIKE_SQL = (
    "UPDATE fetchmail_server SET state = 'done' WHERE name = 'Production IMAP'",
    "UPDATE payment_provider SET state = 'enabled' WHERE name->>'en_US' = 'Stripe'",
    "UPDATE payment_provider SET state = 'test' WHERE code = 'demo'",
    "UPDATE ir_cron SET active = true WHERE id NOT IN (SELECT res_id FROM ir_model_data "
    "WHERE model = 'ir.cron' AND module = 'base_automation')",
    f"UPDATE base_automation SET webhook_uuid = '{INCOMING_WEBHOOK_UUID}' "
    "WHERE trigger = 'on_webhook'",
)


def build_prodlike(
    server: DatabaseServer,
    source: OdooSource,
    runtime: Runtime,
    name: str,
    project_root: Path,
) -> None:
    """Make ``name``: the modules installed, then production-like."""
    project_root.mkdir(parents=True, exist_ok=True)
    project = Project(
        root=project_root,
        config=ProjectConfig(
            project="prodlike", odoo=OdooConfig(series=source.series, source=str(source.path))
        ),
    )
    initialize_database(project, source, runtime, server, name, list(PRODLIKE_MODULES), demo=False)
    conf = write_conf(
        project_root / "prodlike.conf", source, odoo_options(project, source, server, database=name)
    )
    argv = for_series(source.series).shell_argv(runtime, source, conf, database=name)
    script = f"WEBHOOK_URL = {WEBHOOK_URL!r}\n{PRODLIKE_SCRIPT}"
    result = subprocess.run(
        argv,
        input=script,
        env=runtime.env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if "ODOOPLANE-PRODLIKE-DONE" not in result.stdout:
        raise AssertionError(
            f"making {name} production-like failed (exit {result.returncode}):\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        )
    with server.connect(name) as conn:
        for statement in PRODLIKE_SQL:
            conn.execute(statement)
