"""The record a neutralized database keeps of itself: fingerprints of production's
values (never the values), a JSON form that survives a round trip, and what is refused
when reading it back."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from odooplane.neutralize.record import (
    PASSWORD,
    RECORD_KEY,
    RECORD_VERSION,
    SECRET,
    UUID,
    NeutralizationRecord,
    fingerprint,
    load_record,
    utcnow,
)


def _record(**extra: Any) -> NeutralizationRecord:
    return NeutralizationRecord(
        environment="staging",
        neutralized_at="2026-03-14T07:30:00+00:00",
        updated_at="2026-03-14T07:30:00+00:00",
        catcher="127.0.0.1:2599",
        base_url="https://staging.acme.test",
        **extra,
    )


def test_fingerprints_are_sha256_and_values_are_never_kept() -> None:
    assert fingerprint("abc") == hashlib.sha256(b"abc").hexdigest()
    record = _record()
    record.remember(UUID, "prod-uuid")
    record.remember(UUID, "prod-uuid")
    record.remember(SECRET, "")
    record.remember(SECRET, None)
    record.remember(PASSWORD, "$pbkdf2-sha512$b")
    record.remember(PASSWORD, "$pbkdf2-sha512$a")
    assert record.production[UUID] == [fingerprint("prod-uuid")]
    assert SECRET not in record.production
    assert record.production[PASSWORD] == sorted(
        [fingerprint("$pbkdf2-sha512$a"), fingerprint("$pbkdf2-sha512$b")]
    )
    assert record.is_production(UUID, "prod-uuid")
    assert not record.is_production(UUID, "staging-uuid")
    assert not record.is_production(UUID, None) and not record.is_production(UUID, "")
    assert not record.is_production(SECRET, "prod-uuid")
    assert "prod-uuid" not in record.to_json()


def test_json_round_trip_and_same_content() -> None:
    record = _record(mail_mail_max_id=42, passwords_reset=True, safe_email_domain="x.test")
    record.remember(SECRET, "s")
    text = record.to_json()
    assert json.loads(text)["version"] == RECORD_VERSION
    back = NeutralizationRecord.from_json(text)
    assert back == record
    later = NeutralizationRecord.from_json(text)
    assert later is not None
    later.updated_at = "2026-04-01T00:00:00+00:00"
    assert later.same_content(record) and later != record
    later.mail_mail_max_id = 43
    assert not later.same_content(record)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        json.dumps({"version": 99, "neutralized_at": "x"}),
        json.dumps({"version": RECORD_VERSION}),
        json.dumps({"version": RECORD_VERSION, "neutralized_at": "x", "mail_mail_max_id": "many"}),
        json.dumps({"version": RECORD_VERSION, "neutralized_at": "x", "production": [1]}),
    ],
)
def test_unreadable_records_are_none(text: str) -> None:
    assert NeutralizationRecord.from_json(text) is None


def test_an_older_record_without_updated_at_uses_neutralized_at() -> None:
    back = NeutralizationRecord.from_json(
        json.dumps({"version": RECORD_VERSION, "neutralized_at": "t0", "production": {}})
    )
    assert back is not None
    assert (back.updated_at, back.catcher, back.mail_mail_max_id) == ("t0", "", 0)


def test_utcnow_is_second_precision_utc() -> None:
    now = utcnow()
    assert now.endswith("+00:00") and "." not in now


def test_load_record_from_the_system_parameter(cur: Any) -> None:
    cur.execute("CREATE TABLE ir_config_parameter (id serial, key varchar UNIQUE, value text)")
    assert load_record(cur) is None
    cur.execute("INSERT INTO ir_config_parameter (key, value) VALUES (%s, '')", (RECORD_KEY,))
    assert load_record(cur) is None
    record = _record()
    record.remember(UUID, "u")
    cur.execute(
        "UPDATE ir_config_parameter SET value = %s WHERE key = %s", (record.to_json(), RECORD_KEY)
    )
    assert load_record(cur) == record
