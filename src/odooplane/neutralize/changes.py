"""Counting what a neutralization run really changed, rule by rule.

Odoo's ``neutralize.sql`` files are not written to be re-run: their UPDATEs have no
"only if different" condition, and ``base`` switches off every mail server (odooplane's
catcher included) before odooplane's mail rule switches the catcher back on. Row counts
would then report changes on every run. Instead, every table a rule writes is
fingerprinted (one md5 per row, keyed by ``id``) before and after the rule; a row that
differs between the start and the end of the whole run is credited to the last rule
that changed it. A second run over a neutralized database therefore reports zero.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from psycopg import sql

from odooplane.neutralize.schema import Cursor, Schema

Fingerprint = dict[str, str]


def snapshot(cur: Cursor, schema: Schema, table: str) -> Fingerprint:
    """``{row key: md5 of the row}``; rows of tables without ``id`` are keyed by content."""
    if not schema.has_table(table):
        return {}
    ident = sql.Identifier(table)
    if schema.has(table, "id"):
        cur.execute(sql.SQL("SELECT t.id::text, md5(t::text) FROM {} t").format(ident))
        return {str(key): str(digest) for key, digest in cur.fetchall()}
    cur.execute(sql.SQL("SELECT md5(t::text) FROM {} t").format(ident))
    counts: Counter[str] = Counter(str(row[0]) for row in cur.fetchall())
    return {f"{digest}#{n}": digest for digest, total in counts.items() for n in range(total)}


def changed_keys(before: Fingerprint, after: Fingerprint) -> set[str]:
    keys = set(before) | set(after)
    return {key for key in keys if before.get(key) != after.get(key)}


@dataclass
class ChangeTracker:
    """Fingerprints the tables rules write and credits net changes to rules."""

    cur: Cursor
    schema: Schema
    start: dict[str, Fingerprint] = field(default_factory=dict)
    last_writer: dict[tuple[str, str], str] = field(default_factory=dict)
    direct: Counter[str] = field(default_factory=Counter)

    def track(self, tables: list[str]) -> None:
        """Record the state of ``tables`` at the start of the run (once per table)."""
        for table in tables:
            if table not in self.start and self.schema.has_table(table):
                self.start[table] = snapshot(self.cur, self.schema, table)

    def before(self, tables: list[str]) -> dict[str, Fingerprint]:
        self.track(tables)
        return {t: snapshot(self.cur, self.schema, t) for t in tables}

    def after(self, rule: str, before: dict[str, Fingerprint]) -> None:
        for table, prior in before.items():
            now = snapshot(self.cur, self.schema, table)
            for key in changed_keys(prior, now):
                self.last_writer[(table, key)] = rule

    def add_direct(self, rule: str, count: int) -> None:
        """Changes counted by the rule itself (idempotent statements on large tables)."""
        self.direct[rule] += count

    def totals(self) -> Counter[str]:
        """Net changes per rule: start vs end of the run, plus directly counted ones."""
        totals: Counter[str] = Counter(self.direct)
        for table, start in self.start.items():
            end = snapshot(self.cur, self.schema, table)
            for key in changed_keys(start, end):
                totals[self.last_writer.get((table, key), "other")] += 1
        return totals
