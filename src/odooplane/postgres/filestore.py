"""Odoo filestores: the folder of attachment files that belongs to each database.

Odoo keeps attachments in ``<data_dir>/filestore/<database>/<xx>/<sha1>``. A database
without its filestore is broken (missing images, PDFs, assets), so the filestore travels
with every clone, snapshot, restore, swap, drop, import and export.

Copies are hard links where possible. That is safe because Odoo's filestore is
content-addressed and write-once: ``ir.attachment._file_write`` names a file by the SHA-1
of its content and only writes it when no file of that name exists; a changed attachment
gets a new file, and garbage collection only unlinks names. No file is ever opened for
writing again, so two databases sharing an inode can never see each other's changes, and
deleting one side's link leaves the other intact. When hard links are impossible (another
filesystem, ``fs.protected_hardlinks`` for files we do not own) a reflink (copy-on-write
clone, ``cp --reflink=auto`` semantics) is tried, then a plain copy.
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from odooplane.errors import RefusedError
from odooplane.results import Result

# ioctl number of FICLONE (linux/fs.h): make dst share src's extents (Btrfs, XFS, bcachefs).
_FICLONE = 0x40049409
# Errors meaning "this filesystem or file cannot be hard-linked here", not "broken".
_NO_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EACCES, errno.ENOTSUP, errno.EOPNOTSUPP}


@dataclass(frozen=True)
class FilestoreCopy(Result):
    """How a filestore was copied: ``hardlink``, ``reflink``, ``copy``, ``mixed`` or
    ``none`` (the source database had no filestore)."""

    method: str
    files: int = 0
    bytes: int = 0


NO_FILESTORE = FilestoreCopy("none")


def filestore_of(root: Path | None, database: str) -> Path | None:
    """The filestore folder of ``database`` under ``root`` (None when root is None)."""
    return None if root is None else root / database


def _reflink(source: Path, target: Path) -> bool:
    try:
        with source.open("rb") as src, target.open("xb") as dst:
            fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
        return True
    except OSError:
        target.unlink(missing_ok=True)
        return False


def _copy_one(source: Path, target: Path, stat: os.stat_result) -> str:
    try:
        os.link(source, target)
        return "hardlink"
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise
    method = "reflink" if _reflink(source, target) else "copy"
    if method == "copy":
        shutil.copyfile(source, target)
    shutil.copystat(source, target)
    if os.geteuid() == 0:
        # Odoo may run as another user than us: a copy must stay theirs.
        os.chown(target, stat.st_uid, stat.st_gid)
    return method


def copy_filestore(source: Path | None, target: Path | None) -> FilestoreCopy:
    """Copy the filestore folder ``source`` to ``target`` (which must not exist).

    The copy is built in a hidden sibling folder and renamed into place, so ``target``
    is either absent or complete.
    """
    if source is None or target is None or not source.is_dir():
        return NO_FILESTORE
    if target.exists():
        raise RefusedError(
            f"The filestore {target} already exists.",
            hint="Remove it (or the database it belongs to) first.",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    building = target.parent / f".{target.name}.copying-{secrets.token_hex(4)}"
    methods: Counter[str] = Counter()
    size = 0
    try:
        for dirpath, dirnames, filenames in os.walk(source):
            here = Path(dirpath)
            out = building / here.relative_to(source)
            out.mkdir(parents=True, exist_ok=True)
            shutil.copystat(here, out)
            if os.geteuid() == 0:
                st = here.stat()
                os.chown(out, st.st_uid, st.st_gid)
            for name in filenames + [d for d in dirnames if (here / d).is_symlink()]:
                src = here / name
                dst = out / name
                if src.is_symlink():
                    os.symlink(os.readlink(src), dst)
                    methods["copy"] += 1
                    continue
                st = src.stat()
                methods[_copy_one(src, dst, st)] += 1
                size += st.st_size
        building.rename(target)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    if not methods:
        method = "hardlink"  # an empty folder: nothing needed copying
    elif len(methods) == 1:
        method = next(iter(methods))
    else:
        method = "mixed"
    return FilestoreCopy(method, sum(methods.values()), size)


def move_filestore(source: Path | None, target: Path | None) -> bool:
    """Rename a filestore folder; False when there was none to move."""
    if source is None or target is None or not source.is_dir():
        return False
    if target.exists():
        raise RefusedError(
            f"Cannot move the filestore {source} to {target}: the target exists.",
            hint="Remove the stale target folder first.",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    source.rename(target)
    return True


def remove_filestore(path: Path | None) -> bool:
    """Delete a filestore folder; False when there was none.

    The folder is renamed aside first so a crash midway never leaves a half-deleted
    filestore under the database's name.
    """
    if path is None or not (path.is_dir() or path.is_symlink()):
        return False
    doomed = path.parent / f".{path.name}.deleting-{secrets.token_hex(4)}"
    path.rename(doomed)
    shutil.rmtree(doomed)
    return True


def filestore_size(path: Path | None) -> tuple[int, int]:
    """(files, bytes) of a filestore folder."""
    if path is None or not path.is_dir():
        return 0, 0
    files = size = 0
    for dirpath, _dirs, names in os.walk(path):
        for name in names:
            try:
                size += (Path(dirpath) / name).lstat().st_size
                files += 1
            except FileNotFoundError:
                continue
    return files, size
