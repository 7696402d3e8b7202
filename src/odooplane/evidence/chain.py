"""The hash chain over evidence records: any edit made outside odooplane is detected.

Every record inserted into an ``ops`` table gets an entry in ``ops.record_chain``, in
the same transaction: the record's hash (SHA-256 of its canonical form: every column,
sorted, as read back from the database), a short hash of each of its fields (so a break
says *which* fields changed), and the hash of the entry itself chained to the previous
entry's. Writers take the chain in turn (a transaction-scoped advisory lock in
PostgreSQL; SQLite's writes are serialized already).

Retention is the one way a record leaves: it appends an ``archive`` entry per removed
record naming its retention run, in the transaction that deletes it.

:func:`verify` walks the chain and the tables and reports every break: an entry missing
or altered, a record changed (and which fields), a record deleted outside retention, a
record no entry vouches for (inserted outside odooplane, or replaced by SQLite's
``INSERT OR REPLACE``). The head of the chain (its last entry's hash) can be kept
elsewhere (a CI log, a ticket): a store rewritten whole from some point on still
verifies against itself, but no longer ends at that head.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from odooplane.evidence import schema

GENESIS = "0" * 64
INSERT = "insert"
ARCHIVE = "archive"
BACKFILLED = "recorded before the chain existed (revision 0003)"
# Key of the PostgreSQL advisory lock that lets one writer at a time extend the chain.
_PG_CHAIN_LOCK = 0x0D00_C4A1
_CHUNK = 500


def canonical(value: Any) -> Any:
    """A value in the JSON form its hash is computed over (stable across both stores)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return str(value)


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_hashes(table: sa.Table, row: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """(hash of the record, short hash of each field) of ``row`` of ``table``."""
    fields = {column.name: canonical(row.get(column.name)) for column in table.c}
    record = _sha(_text({"table": table.name, "fields": fields}))
    per_field = {name: _sha(_text(value))[:16] for name, value in sorted(fields.items())}
    return record, per_field


def entry_hash(entry: Mapping[str, Any]) -> str:
    """The hash of a chain entry: every column but itself, the previous hash included."""
    return _sha(_text({k: canonical(v) for k, v in entry.items() if k != "entry_hash"}))


def _lock(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_CHAIN_LOCK})


def _head(conn: sa.Connection) -> tuple[int, str]:
    c = schema.record_chain.c
    row = conn.execute(sa.select(c.seq, c.entry_hash).order_by(c.seq.desc()).limit(1)).first()
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Appender:
    """Entries appended after the current head, within the caller's transaction."""

    def __init__(self, conn: sa.Connection) -> None:
        _lock(conn)
        self.conn = conn
        self.seq, self.previous = _head(conn)
        self.entries: list[dict[str, Any]] = []

    def add(
        self,
        table: sa.Table,
        row: Mapping[str, Any],
        *,
        action: str = INSERT,
        run: uuid.UUID | None = None,
        note: str | None = None,
    ) -> None:
        record, per_field = record_hashes(table, row)
        self.seq += 1
        entry: dict[str, Any] = {
            "seq": self.seq,
            "at": _now(),
            "table_name": table.name,
            "record_id": str(row["id"]),
            "action": action,
            "record_hash": record,
            "fields": _text(per_field),
            "retention_run": None if run is None else str(run),
            "note": note,
            "prev_hash": self.previous,
        }
        entry["entry_hash"] = entry_hash(entry)
        self.previous = entry["entry_hash"]
        self.entries.append(entry)

    def flush(self) -> None:
        if self.entries:
            self.conn.execute(sa.insert(schema.record_chain), self.entries)
            self.entries = []


def _read_back(conn: sa.Connection, table: sa.Table, ids: Sequence[Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for row in conn.execute(sa.select(table).where(table.c.id.in_(chunk))).mappings():
            found[str(row["id"])] = dict(row)
    return found


def _chained(conn: sa.Connection, table: sa.Table, ids: Sequence[Any]) -> set[str]:
    c = schema.record_chain.c
    found: set[str] = set()
    keys = [str(i) for i in ids]
    for start in range(0, len(keys), _CHUNK):
        query = sa.select(c.record_id).where(
            c.table_name == table.name, c.record_id.in_(keys[start : start + _CHUNK])
        )
        found |= {str(r[0]) for r in conn.execute(query).all()}
    return found


def insert_chained(
    conn: sa.Connection,
    rows: Sequence[tuple[sa.Table, Mapping[str, Any]]],
    *,
    insert: Any = None,
) -> int:
    """Insert the rows not stored yet (by id; a row delivered twice is stored once) and
    chain each one, hashed as read back; returns how many were new. ``insert(table)``
    gives the INSERT statement (default: a plain one)."""
    appender = _Appender(conn)
    index = 0
    added = 0
    while index < len(rows):
        table = rows[index][0]
        group: list[Mapping[str, Any]] = []
        while index < len(rows) and rows[index][0] is table:
            group.append(rows[index][1])
            index += 1
        ids = [row["id"] for row in group]
        # Stored already, or stored once and archived since: a redelivery, kept once.
        existing = set(_read_back(conn, table, ids)) | _chained(conn, table, ids)
        fresh: list[Mapping[str, Any]] = []
        seen: set[str] = set()
        for row in group:
            key = str(row["id"])
            if key not in existing and key not in seen:
                fresh.append(row)
                seen.add(key)
        if not fresh:
            continue
        conn.execute(insert(table) if insert is not None else sa.insert(table), fresh)
        stored = _read_back(conn, table, [row["id"] for row in fresh])
        for row in fresh:
            appender.add(table, stored[str(row["id"])])
        added += len(fresh)
    appender.flush()
    return added


def archive_chained(
    conn: sa.Connection, table: sa.Table, rows: Iterable[Mapping[str, Any]], run: uuid.UUID
) -> None:
    """Record that retention run ``run`` removes ``rows`` (as they were)."""
    appender = _Appender(conn)
    for row in rows:
        appender.add(table, row, action=ARCHIVE, run=run)
    appender.flush()


def backfill(conn: sa.Connection) -> int:
    """Chain the records stored before the chain existed (once: an empty chain with
    records beside it is a store just migrated). Returns how many were chained."""
    if _head(conn)[0] != 0:
        return 0
    appender = _Appender(conn)
    count = 0
    inspector = sa.inspect(conn)
    for table in schema.RECORD_TABLES:
        if not inspector.has_table(table.name, schema=schema.SCHEMA):
            continue  # added by a later revision than the one migrated to
        order = [table.c.recorded_at] if "recorded_at" in table.c else []
        if table is schema.deployment_events:
            order = [table.c.at, table.c.seq]
        for row in conn.execute(sa.select(table).order_by(*order, table.c.id)).mappings():
            appender.add(table, dict(row), note=BACKFILLED)
            count += 1
    appender.flush()
    return count


# -- verification --------------------------------------------------------------------------


@dataclass(frozen=True)
class Break:
    """One way the evidence no longer matches its chain."""

    table: str
    record_id: str | None
    seq: int | None
    problem: str
    fields: list[str] = field(default_factory=list)

    def describe(self) -> str:
        where = f"ops.{self.table}" + (f" record {self.record_id}" if self.record_id else "")
        entry = f" (chain entry #{self.seq})" if self.seq is not None else ""
        changed = f": {', '.join(self.fields)} changed" if self.fields else ""
        return f"{where}{entry}: {self.problem}{changed}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "message": self.describe()}


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    records: int
    archived: int
    head: str
    breaks: list[Break] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "records": self.records,
            "archived": self.archived,
            "head": self.head,
            "breaks": [b.to_dict() for b in self.breaks],
        }


def verify(conn: sa.Connection) -> Verification:
    """Check every chain entry and every record against each other."""
    c = schema.record_chain.c
    breaks: list[Break] = []
    inserted: dict[tuple[str, str], Mapping[str, Any]] = {}
    archived: dict[tuple[str, str], Mapping[str, Any]] = {}
    previous = GENESIS
    expected = 1
    count = 0
    for raw in conn.execute(sa.select(schema.record_chain).order_by(c.seq)).mappings():
        entry: dict[str, Any] = dict(raw)
        count += 1
        seq = int(entry["seq"])
        name, record = str(entry["table_name"]), str(entry["record_id"])
        if seq != expected:
            breaks.append(
                Break(name, None, expected, f"entries #{expected} to #{seq - 1} are missing")
            )
        expected = seq + 1
        if entry["prev_hash"] != previous:
            breaks.append(
                Break(name, record, seq, "does not follow the entry before it (chain broken)")
            )
        if entry_hash(entry) != entry["entry_hash"]:
            breaks.append(Break(name, record, seq, "the chain entry itself was altered"))
        previous = str(entry["entry_hash"])
        key = (name, record)
        if entry["action"] == ARCHIVE:
            archived[key] = entry
        elif key in inserted:
            breaks.append(Break(name, record, seq, "is chained twice"))
        else:
            inserted[key] = entry
    records = 0
    run_ids = {str(r[0]) for r in conn.execute(sa.select(schema.retention_runs.c.id)).all()}
    for table in schema.RECORD_TABLES:
        present: set[str] = set()
        for stored in conn.execute(sa.select(table)).mappings():
            values: dict[str, Any] = dict(stored)
            records += 1
            key = (table.name, str(values["id"]))
            present.add(key[1])
            vouched = inserted.get(key)
            if vouched is None:
                breaks.append(
                    Break(
                        table.name,
                        key[1],
                        None,
                        "no chain entry vouches for it (added or replaced outside odooplane)",
                    )
                )
                continue
            digest, per_field = record_hashes(table, values)
            if digest != vouched["record_hash"]:
                recorded = json.loads(str(vouched["fields"] or "{}"))
                changed = sorted(k for k, v in per_field.items() if recorded.get(k) != v)
                seq = int(vouched["seq"])
                breaks.append(Break(table.name, key[1], seq, "was changed", changed))
            if key in archived:
                breaks.append(
                    Break(
                        table.name,
                        key[1],
                        int(archived[key]["seq"]),
                        "is archived by retention yet still present",
                    )
                )
        for (owner, record_id), first in inserted.items():
            if owner != table.name or record_id in present:
                continue
            gone = archived.get((owner, record_id))
            if gone is None:
                breaks.append(
                    Break(owner, record_id, int(first["seq"]), "was deleted outside retention")
                )
            elif str(gone["retention_run"]) not in run_ids:
                breaks.append(
                    Break(
                        owner,
                        record_id,
                        int(gone["seq"]),
                        "was removed by a retention run that is not recorded",
                    )
                )
            elif gone["record_hash"] != first["record_hash"]:
                breaks.append(
                    Break(owner, record_id, int(gone["seq"]), "was changed before it was archived")
                )
    return Verification(
        ok=not breaks,
        entries=count,
        records=records,
        archived=len(archived),
        head=previous,
        breaks=breaks,
    )
