"""Log artifacts: the full output of every step, beside the records that point at them.

Layout: ``<root>/<YYYYMMDD-HHMM+ZZZZ>/<topic>/logs/<NN>-<step>.log`` where ``root`` is
``evidence.artifacts`` (default ``web/docs/evidence`` in the project) and the stamp is
the start time in the ``evidence.timezone`` offset (default +0800). Records keep the
path (relative to the project root when inside it) and the sha256 of the content.

Retention compresses old logs to ``<name>.log.gz`` in place; the recorded path and
sha256 stay those of the uncompressed text, and readers look for either file.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import re
import shutil
from collections import deque
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path

from odooplane.errors import ConfigError
from odooplane.evidence.redact import Redactor

STAMP_FORMAT = "%Y%m%d-%H%M%z"
STAMP_RE = re.compile(r"^(\d{8})-(\d{4})([+-]\d{4})$")
_SLUG_RE = re.compile(r"[^A-Za-z0-9._-]+")


def parse_offset(value: str) -> tzinfo:
    """``+0800``, ``-05:30``, ``Z`` or ``UTC`` as a fixed offset."""
    from odooplane.config.values import parse_timezone

    found = parse_timezone(value)
    if found is None:
        raise ConfigError(
            f"evidence.timezone in odooplane.yaml is '{value}', which is not a UTC offset.",
            hint="Write it like +0800, -0500 or +05:30 (or UTC).",
        )
    return found


def slug(text: str, *, limit: int = 60) -> str:
    cleaned = _SLUG_RE.sub("-", text.strip()).strip("-.")
    return (cleaned or "step")[:limit]


def stamp(moment: datetime, offset: tzinfo) -> str:
    return moment.astimezone(offset).strftime(STAMP_FORMAT)


def parse_stamp(name: str) -> datetime | None:
    """The moment a ``YYYYMMDD-HHMM+ZZZZ`` folder name stands for, or None."""
    if not STAMP_RE.match(name):
        return None
    try:
        return datetime.strptime(name, STAMP_FORMAT)
    except ValueError:
        return None


@dataclass(frozen=True)
class ArtifactLayout:
    """Where a project's artifacts go."""

    root: Path
    project_root: Path
    offset: tzinfo

    def topic_dir(self, moment: datetime, topic: str) -> Path:
        return self.root / stamp(moment, self.offset) / slug(topic, limit=100)

    def logs_dir(self, moment: datetime, topic: str) -> Path:
        return self.topic_dir(moment, topic) / "logs"

    def to_record(self, path: Path) -> str:
        """The path as stored: relative to the project when inside it (portable)."""
        try:
            return path.resolve().relative_to(self.project_root.resolve()).as_posix()
        except ValueError:
            return str(path.resolve())

    def from_record(self, stored: str) -> Path:
        path = Path(stored)
        return path if path.is_absolute() else self.project_root / path


class ArtifactWriter:
    """Appends redacted text to a log file, hashing what it writes.

    Text is redacted a whole line at a time (a secret split across two writes is still
    caught); each line goes straight to the file so `odooplane logs --follow` sees it.

    A log that cannot be written (disk full, folder not writable) never stops the
    operation it records: the writer stops writing, keeps the error in :attr:`error`
    and the last lines in :attr:`tail`, and :meth:`close` returns no sha256 (the file on
    disk is incomplete, so nothing could verify it).
    """

    TAIL_LINES = 60

    def __init__(self, path: Path, redactor: Redactor) -> None:
        self.path = path
        self._redactor = redactor
        self._hash = hashlib.sha256()
        self._size = 0
        self._pending = ""
        self._tail: deque[str] = deque(maxlen=self.TAIL_LINES)
        self.error: str | None = None
        self.closed = False
        self._fd: int | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            self._failed(exc)

    @property
    def tail(self) -> str:
        """The last lines given to the writer (kept in memory whatever happened)."""
        return "".join(self._tail)

    def _failed(self, exc: OSError) -> None:
        if self.error is None:
            self.error = f"{self.path}: {exc.strerror or exc}"
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def write(self, text: str) -> None:
        if self.closed:
            raise ValueError(f"{self.path} is closed")
        self._pending += text
        if "\n" not in self._pending:
            return
        complete, self._pending = self._pending.rsplit("\n", 1)
        self._emit(complete + "\n")

    def _emit(self, text: str) -> None:
        redacted = self._redactor.text(text)
        self._tail.extend(redacted.splitlines(keepends=True))
        data = redacted.encode("utf-8", "replace")
        self._hash.update(data)
        self._size += len(data)
        if self._fd is None:
            return
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            self._failed(exc)

    def close(self) -> tuple[str | None, int]:
        """Write what is pending, fsync and close; returns (sha256, size in bytes), the
        sha256 None when the file could not be written whole."""
        if not self.closed:
            if self._pending:
                self._emit(self._pending)
                self._pending = ""
            if self._fd is not None:
                try:
                    os.fsync(self._fd)
                except OSError as exc:
                    self._failed(exc)
                else:
                    os.close(self._fd)
                    self._fd = None
            self.closed = True
        return (None if self.error else self._hash.hexdigest()), self._size


def write_artifact(path: Path, text: str, redactor: Redactor) -> tuple[str | None, int]:
    """Write a whole artifact at once; returns (sha256, size), sha256 None when the file
    could not be written."""
    if path.exists() or Path(f"{path}.gz").exists():
        raise FileExistsError(path)
    writer = ArtifactWriter(path, redactor)
    writer.write(text)
    return writer.close()


def existing_artifact(path: Path) -> Path | None:
    """The file holding an artifact: itself, or its compressed form."""
    if path.is_file():
        return path
    compressed = Path(f"{path}.gz")
    return compressed if compressed.is_file() else None


def read_artifact(path: Path, *, start: int = 0) -> str | None:
    """The text of an artifact from byte ``start`` (None when it is gone)."""
    found = existing_artifact(path)
    if found is None:
        return None
    if found.suffix == ".gz":
        with gzip.open(found, "rb") as fh:
            data = fh.read()
        return data[start:].decode("utf-8", "replace")
    with open(found, "rb") as fh:
        fh.seek(start)
        return fh.read().decode("utf-8", "replace")


def sha256_of(path: Path) -> str | None:
    """sha256 of an artifact's uncompressed content."""
    found = existing_artifact(path)
    if found is None:
        return None
    digest = hashlib.sha256()
    opener = gzip.open if found.suffix == ".gz" else open
    with opener(found, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def compress(path: Path) -> Path:
    """gzip ``path`` to ``path.gz`` (durably) and remove the original."""
    target = Path(f"{path}.gz")
    tmp = target.with_name(f".{target.name}.tmp")
    with open(path, "rb") as src, gzip.open(tmp, "wb", compresslevel=6) as dst:
        shutil.copyfileobj(src, dst)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    os.unlink(path)
    return target
