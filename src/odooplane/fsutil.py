"""Small filesystem helpers: atomic writes, so state survives a crash mid-way."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_atomic(path: Path, data: str | bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates 0600; keep an existing file's mode, else what umask allows.
        os.chmod(tmp, mode if mode is not None else _default_mode(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    # The rename is durable only once the directory entry is flushed too.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _default_mode(path: Path) -> int:
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_json_atomic(path: Path, payload: Any) -> None:
    write_atomic(path, json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return default


def writable_output(path: Path, what: str) -> Path:
    """Check, before any work, that ``what`` (an export, a postmortem...) can be written
    to ``path``: not a folder, its folder creatable and accepting a new file (probed by
    creating one, since root passes every permission check and still cannot write to
    /proc or a read-only mount). Returns ``path``; a problem is a sentence naming it."""
    from odooplane.errors import UsageError

    target = Path(path)
    if target.is_dir():
        raise UsageError(
            f"{target} is a folder; {what} needs a file name.",
            hint=f"Give a path such as {target / 'out'}.",
        )
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(
            f"{what} cannot be written to {target}: {exc.strerror or exc}.",
            hint="Choose a path in a folder you can write to.",
        ) from None
    return target


def writable_folder(folder: Path, what: str) -> Path:
    """Like :func:`writable_output` for a folder ``what`` writes files into."""
    from odooplane.errors import UsageError

    target = Path(folder)
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} is a file; {what} needs a folder.")
    writable_output(target / ".odooplane-write-check", what)
    return target
