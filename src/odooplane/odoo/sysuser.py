"""The operating-system user Odoo runs as: never root.

When odooplane runs as root, the Odoo processes of local environments (servers, module
updates, shells) run as the unprivileged system user ``odooplane-odoo``, created on
first use, switched to with ``setpriv`` (no new privileges, no capabilities, no
supplementary groups). It is not the embedded PostgreSQL's user, which owns the
cluster's files: Odoo reaches its database over the network, with its environment's
role, like any client. Run as anybody else, Odoo runs as that user.

What Odoo needs is made reachable for that user only, nothing loosened for anyone else:

- it may *enter* each folder above what it reads (the project, the runtime, the Odoo
  source): a folder it cannot enter gets a POSIX ACL entry granting this one user the
  search (``x``) right, nothing more, written as the ``system.posix_acl_access``
  extended attribute (no acl tools needed);
- it owns what it writes: its odoo.conf (mode 0600: the database password), the data
  folder, the sessions folder and the environment's filestore.
"""

from __future__ import annotations

import configparser
import os
import shutil
import stat
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path

from odooplane.errors import ExternalToolError
from odooplane.postgres.sysuser import ServiceUser, running_as_root, system_user

ODOO_USER = "odooplane-odoo"
_ACL_XATTR = "system.posix_acl_access"
_ACL_VERSION = 2
_ACL_USER_OBJ, _ACL_USER, _ACL_GROUP_OBJ = 0x01, 0x02, 0x04
_ACL_GROUP, _ACL_MASK, _ACL_OTHER = 0x08, 0x10, 0x20
_UNDEFINED_ID = 0xFFFFFFFF
_SEARCH = 0o1


def odoo_user() -> ServiceUser | None:
    """The user Odoo processes run as; None when odooplane is not root (Odoo then runs
    as the invoking user, unprivileged already)."""
    if not running_as_root():
        return None
    return system_user(ODOO_USER, "odooplane Odoo processes")


def setpriv_prefix(user: ServiceUser) -> list[str]:
    """The command prefix running a program as ``user`` with no way back up."""
    setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
    if not Path(setpriv).is_file():
        raise ExternalToolError(
            "setpriv (util-linux) is missing: Odoo cannot be run as an unprivileged user.",
            hint="Install util-linux (`apt-get install util-linux`).",
        )
    return [
        setpriv,
        f"--reuid={user.uid}",
        f"--regid={user.gid}",
        "--clear-groups",
        "--no-new-privs",
        "--",
    ]


# -- POSIX ACL: search right for one user -------------------------------------------------


def _read_acl(path: Path) -> list[tuple[int, int, int]]:
    try:
        raw = os.getxattr(path, _ACL_XATTR, follow_symlinks=False)
    except OSError:
        return []
    if len(raw) < 4 or struct.unpack_from("<I", raw)[0] != _ACL_VERSION:
        return []
    return [struct.unpack_from("<HHI", raw, 4 + 8 * i) for i in range((len(raw) - 4) // 8)]


def _can_search(
    user: ServiceUser, info: os.stat_result, entries: Sequence[tuple[int, int, int]]
) -> bool:
    mode = info.st_mode
    if info.st_uid == user.uid:
        return bool(mode & stat.S_IXUSR)
    for tag, perm, ident in entries:
        if tag == _ACL_USER and ident == user.uid:
            mask = next((p for t, p, _ in entries if t == _ACL_MASK), 0o7)
            return bool(perm & mask & _SEARCH)
    if info.st_gid == user.gid:
        return bool(mode & stat.S_IXGRP)
    return bool(mode & stat.S_IXOTH)


def grant_search(user: ServiceUser, folder: Path) -> bool:
    """Let ``user`` (only) enter ``folder``; True when an ACL entry was added."""
    info = folder.stat()
    entries = _read_acl(folder)
    if _can_search(user, info, entries):
        return False
    mode = info.st_mode
    if not entries:
        entries = [
            (_ACL_USER_OBJ, (mode >> 6) & 0o7, _UNDEFINED_ID),
            (_ACL_GROUP_OBJ, (mode >> 3) & 0o7, _UNDEFINED_ID),
            (_ACL_OTHER, mode & 0o7, _UNDEFINED_ID),
        ]
    kept = [
        e for e in entries if not (e[0] == _ACL_USER and e[2] == user.uid) and e[0] != _ACL_MASK
    ]
    current = next((e[1] for e in entries if e[0] == _ACL_USER and e[2] == user.uid), 0)
    kept.append((_ACL_USER, current | _SEARCH, user.uid))
    # The mask bounds named entries and the owning group; it keeps the group's own
    # right unchanged, so nobody but ``user`` gains anything.
    group_obj = next(e[1] for e in kept if e[0] == _ACL_GROUP_OBJ)
    named = [e[1] for e in kept if e[0] in (_ACL_USER, _ACL_GROUP)]
    mask = group_obj
    for perm in named:
        mask |= perm
    kept.append((_ACL_MASK, mask, _UNDEFINED_ID))
    kept.sort(key=lambda e: (e[0], e[2]))
    blob = struct.pack("<I", _ACL_VERSION) + b"".join(struct.pack("<HHI", *e) for e in kept)
    try:
        os.setxattr(folder, _ACL_XATTR, blob, follow_symlinks=False)
    except OSError as exc:
        raise ExternalToolError(
            f"The Odoo user '{user.name}' cannot enter {folder}, and an ACL letting it in "
            f"could not be set ({exc.strerror or exc}).",
            hint=f"Make {folder} searchable for '{user.name}' (chmod o+x, or an ACL), or "
            "keep the project and the cache outside folders only root may enter.",
        ) from None
    return True


def grant_path(user: ServiceUser, path: Path) -> None:
    """Let ``user`` reach ``path``: search right on each folder above it (and on it,
    when it is a folder)."""
    folders: list[Path] = []
    # The path as written (a venv's bin/python is a symlink, but Python finds its
    # site-packages beside the link) and where it leads.
    for target in dict.fromkeys((path.absolute(), path.resolve())):
        folders += [*reversed(target.parents)]
        if target.is_dir():
            folders.append(target)
    for folder in dict.fromkeys(folders):
        if folder.is_dir():
            grant_search(user, folder)


def own(user: ServiceUser, path: Path, *, recursive: bool = False) -> None:
    """Give ``path`` to ``user`` (everything below it with ``recursive``, walked only
    when the top is not theirs yet)."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if info.st_uid == user.uid:
        return
    os.lchown(path, user.uid, user.gid)
    if recursive and path.is_dir() and not path.is_symlink():
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                os.lchown(os.path.join(root, name), user.uid, user.gid)


# -- what an Odoo command reads and writes -----------------------------------------------


def conf_of(argv: Sequence[str]) -> Path | None:
    """The odoo.conf an Odoo command line names (``-c FILE`` or ``--config=FILE``)."""
    for index, arg in enumerate(argv):
        if arg in ("-c", "--config") and index + 1 < len(argv):
            return Path(argv[index + 1])
        if arg.startswith("--config="):
            return Path(arg.split("=", 1)[1])
    return None


def _conf_options(conf: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(conf, encoding="utf-8")
    except (configparser.Error, OSError):
        return {}
    return dict(parser["options"]) if parser.has_section("options") else {}


def prepare(
    user: ServiceUser, argv: Sequence[str], cwd: Path, extra: Iterable[Path] = ()
) -> Path:
    """Make what the Odoo command ``argv`` needs reachable by ``user``: its program,
    working folder, odoo.conf, addons and data folder; it owns the conf (0600) and what
    it writes (data folder, sessions, the filestore of its database). Returns the
    folder to use as its home (the data folder: a home of root's is not its)."""
    reads = [cwd, *(Path(a) for a in argv[:2] if os.path.isabs(a)), *extra]
    conf = conf_of(argv)
    options: dict[str, str] = {}
    if conf is not None and conf.exists():
        reads.append(conf)
        options = _conf_options(conf)
        own(user, conf)
        os.chmod(conf, 0o600)
    reads += [Path(p.strip()) for p in options.get("addons_path", "").split(",") if p.strip()]
    data_dir = options.get("data_dir", "").strip()
    for path in reads:
        if path.exists():
            grant_path(user, path)
    if not data_dir:
        return cwd
    data = Path(data_dir)
    for folder in (data, data / "filestore", data / "sessions", data / "addons"):
        folder.mkdir(parents=True, exist_ok=True)
        own(user, folder)
    grant_path(user, data)
    database = options.get("db_name", "").strip()
    if database and database != "False":
        filestore = data / "filestore" / database
        filestore.mkdir(exist_ok=True)
        own(user, filestore, recursive=True)
    return data
