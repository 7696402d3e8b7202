"""The neutralization record kept inside the neutralized database.

A copy of production carries production's identity: ``database.uuid``,
``database.secret``, the secret URLs of incoming webhooks, password hashes. Neutralization
replaces them and remembers a SHA-256 *fingerprint* of each production value (never the
value) in the system parameter ``odooplane.neutralization``. Verification then needs no
access to production: a value whose fingerprint is in the record is production's, and a
database without a record was never neutralized by odooplane. Both fail the check.

The fingerprints are of random identifiers (UUIDs, salted password hashes), so they do
not help anyone guess the value.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from odooplane.neutralize.schema import Cursor

RECORD_KEY = "odooplane.neutralization"
RECORD_VERSION = 1

# Categories of production values whose fingerprints the record keeps.
UUID = "database.uuid"
SECRET = "database.secret"
WEBHOOK_UUID = "base_automation.webhook_uuid"
PASSWORD = "res_users.password"


def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def utcnow() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


@dataclass
class NeutralizationRecord:
    """What odooplane knows about how this database was neutralized."""

    environment: str | None
    neutralized_at: str
    updated_at: str
    catcher: str
    base_url: str
    # Mails with an id up to this one existed in production: they must never be sent.
    mail_mail_max_id: int = 0
    production: dict[str, list[str]] = field(default_factory=dict)
    passwords_reset: bool = False
    safe_email_domain: str | None = None
    version: int = RECORD_VERSION

    def is_production(self, category: str, value: str | None) -> bool:
        if not value:
            return False
        return fingerprint(value) in self.production.get(category, [])

    def remember(self, category: str, value: str | None) -> None:
        if not value:
            return
        known = self.production.setdefault(category, [])
        digest = fingerprint(value)
        if digest not in known:
            known.append(digest)
            known.sort()

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    def same_content(self, other: NeutralizationRecord) -> bool:
        """Equal except for the timestamps of the runs."""
        mine = asdict(self)
        theirs = asdict(other)
        for key in ("neutralized_at", "updated_at"):
            mine.pop(key)
            theirs.pop(key)
        return mine == theirs

    @classmethod
    def from_json(cls, text: str) -> NeutralizationRecord | None:
        try:
            data: Any = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("version") != RECORD_VERSION:
            return None
        try:
            return cls(
                environment=data.get("environment"),
                neutralized_at=str(data["neutralized_at"]),
                updated_at=str(data.get("updated_at") or data["neutralized_at"]),
                catcher=str(data.get("catcher", "")),
                base_url=str(data.get("base_url", "")),
                mail_mail_max_id=int(data.get("mail_mail_max_id", 0)),
                production={
                    str(k): sorted(str(v) for v in values)
                    for k, values in dict(data.get("production") or {}).items()
                },
                passwords_reset=bool(data.get("passwords_reset", False)),
                safe_email_domain=data.get("safe_email_domain"),
            )
        except (KeyError, TypeError, ValueError):
            return None


def load_record(cur: Cursor) -> NeutralizationRecord | None:
    cur.execute("SELECT value FROM ir_config_parameter WHERE key = %s", (RECORD_KEY,))
    row = cur.fetchone()
    return NeutralizationRecord.from_json(str(row[0])) if row and row[0] else None
