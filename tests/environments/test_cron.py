"""The cron-run script's result line."""

from __future__ import annotations

import json

from odooplane.environments.cron import MARKER, cron_script, parse_result


def test_script_embeds_the_target_safely() -> None:
    script = cron_script("x'); import os; os.system('boom') #")
    first = script.splitlines()[0]
    assert first == "_target = \"x'); import os; os.system('boom') #\""
    compile(script, "<cron>", "exec")


def test_parse_result_picks_the_marked_line() -> None:
    payload = {
        "status": "ok",
        "cron": {"id": 3, "name": "Autovacuum", "xmlid": "base.x", "active": False},
        "seconds": 0.2,
    }
    output = "2024 INFO odoo: loading\n" + MARKER + json.dumps(payload) + "\nbye\n"
    result = parse_result(output)
    assert result is not None
    assert result.status == "ok"
    assert result.cron == payload["cron"]
    assert result.candidates == []
    assert parse_result("no marker here") is None
