"""The local spool: where records wait while the PostgreSQL evidence store is unreachable.

An append-only JSON Lines file under the state folder; each line is one batch of rows
written together (``{"batch": id, "rows": [{"table": ..., "row": {...}}, ...]}``), fsync'd
before the recording call returns. Delivery inserts the rows with "on conflict do
nothing" on their UUID primary keys, so delivering a batch twice (a crash between the
commit and the truncation of the spool) still stores it once.

One file lock serializes appends and deliveries across processes.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from filelock import FileLock

SPOOL_NAME = "spool.jsonl"
LOCK_TIMEOUT_SECONDS = 60

SpoolRow = tuple[str, dict[str, Any]]


def _encode(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in ("$uuid", "$dt", "$obj"):
            return {"$obj": {k: _encode(v) for k, v in value.items()}}
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            key, inner = next(iter(value.items()))
            if key == "$uuid":
                return uuid.UUID(inner)
            if key == "$dt":
                return datetime.fromisoformat(inner)
            if key == "$obj":
                return {k: _decode(v) for k, v in inner.items()}
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


@dataclass(frozen=True)
class SpoolBatch:
    batch: str
    rows: list[SpoolRow]


class Spool:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / SPOOL_NAME
        self._lock = FileLock(str(folder / f"{SPOOL_NAME}.lock"), timeout=LOCK_TIMEOUT_SECONDS)

    def is_empty(self) -> bool:
        try:
            return self.path.stat().st_size == 0
        except FileNotFoundError:
            return True

    def append(self, rows: Sequence[SpoolRow]) -> None:
        """Durably add one batch (all its rows are delivered in one transaction)."""
        line = json.dumps(
            {
                "batch": str(uuid.uuid4()),
                "rows": [{"table": table, "row": _encode(row)} for table, row in rows],
            },
            separators=(",", ":"),
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._lock:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                size = os.fstat(fd).st_size
                # A crash mid-append can leave a torn line without its newline; start
                # on a fresh line so this batch is not glued to it.
                lead = "\n" if size and os.pread(fd, 1, size - 1) != b"\n" else ""
                os.write(fd, (lead + line + "\n").encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)

    def batches(self) -> list[SpoolBatch]:
        """Every complete batch, oldest first.

        A torn line (a crash mid-append: its caller never got an acknowledgement) is
        skipped here and kept aside by :meth:`drain` for inspection.
        """
        return self._read()[0]

    def _read(self) -> tuple[list[SpoolBatch], list[str]]:
        try:
            raw = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return [], []
        result = []
        torn = []
        for line in raw.split("\n"):
            if not line.strip():
                continue
            try:
                payload = json.loads(line)
            except json.JSONDecodeError:
                torn.append(line)
                continue
            result.append(
                SpoolBatch(
                    batch=str(payload["batch"]),
                    rows=[(item["table"], _decode(item["row"])) for item in payload["rows"]],
                )
            )
        return result, torn

    def pending_rows(self) -> int:
        return sum(len(batch.rows) for batch in self.batches())

    def drain(self, deliver: Callable[[list[SpoolBatch]], None]) -> int:
        """Hand every batch to ``deliver`` (which commits them), then empty the spool.

        Under the lock, so no append lands between reading and truncating. If
        ``deliver`` raises, the spool is left as it was. Returns the rows delivered.
        """
        if self.is_empty():
            return 0
        with self._lock:
            batches, torn = self._read()
            if batches:
                deliver(batches)
            if torn:
                stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
                kept = self.folder / f"spool-torn-{stamp}-{uuid.uuid4().hex[:8]}.jsonl"
                kept.write_text("\n".join(torn) + "\n", encoding="utf-8")
            if self.path.exists():
                fd = os.open(self.path, os.O_WRONLY | os.O_TRUNC)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            return sum(len(batch.rows) for batch in batches)
