"""The operating-system user the embedded PostgreSQL server runs as.

PostgreSQL refuses to run as root. When odooplane itself runs as root (containers, CI
machines, servers administered by hand) the server runs as the unprivileged system user
``odooplane``, created on first use; if that cannot be created and a ``postgres`` user
exists (a distribution package was installed), that one is used. Run as anybody else,
the server simply runs as the invoking user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from odooplane.errors import ExternalToolError

SERVICE_USER = "odooplane"
FALLBACK_USER = "postgres"
SERVICE_HOME = Path("/var/lib/odooplane")


@dataclass(frozen=True)
class ServiceUser:
    name: str
    uid: int
    gid: int

    @property
    def is_self(self) -> bool:
        """True when the server runs as the invoking user (no switching, no chown)."""
        return self.uid == os.geteuid()


def running_as_root() -> bool:
    return os.geteuid() == 0


def _lookup(name: str) -> ServiceUser | None:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return ServiceUser(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _create_system_user(name: str, comment: str = "odooplane embedded PostgreSQL") -> str | None:
    """Create ``name`` with useradd; return the failure text, or None on success."""
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    nologin = next(
        (s for s in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false") if Path(s).exists()),
        "/bin/false",
    )
    try:
        result = subprocess.run(
            [
                useradd,
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                str(SERVICE_HOME),
                "--shell",
                nologin,
                "--comment",
                comment,
                name,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return None if result.returncode == 0 else (result.stderr or result.stdout).strip()


def system_user(name: str, comment: str) -> ServiceUser:
    """The system user ``name``, created (no login, no home) if it does not exist."""
    found = _lookup(name)
    if found is not None:
        return found
    failure = _create_system_user(name, comment)
    # Another odooplane process may have created it between our lookup and useradd.
    found = _lookup(name)
    if found is not None:
        return found
    raise ExternalToolError(
        f"The system user '{name}' could not be created: {failure}.",
        hint=f"Create it yourself: `useradd --system --user-group {name}`.",
    )


def service_user() -> ServiceUser:
    """The user the embedded server runs as, creating ``odooplane`` when root needs it."""
    if not running_as_root():
        entry = pwd.getpwuid(os.geteuid())
        return ServiceUser(entry.pw_name, entry.pw_uid, entry.pw_gid)
    found = _lookup(SERVICE_USER)
    if found is not None:
        return found
    failure = _create_system_user(SERVICE_USER)
    # Another odooplane process may have created it between our lookup and useradd.
    found = _lookup(SERVICE_USER)
    if found is not None:
        return found
    fallback = _lookup(FALLBACK_USER)
    if fallback is not None:
        return fallback
    raise ExternalToolError(
        f"odooplane runs as root, PostgreSQL refuses to, and the system user "
        f"'{SERVICE_USER}' could not be created: {failure}.",
        hint=f"Create it yourself (`useradd --system --user-group {SERVICE_USER}`) or run "
        "odooplane as an ordinary user.",
    )


def run_as(
    user: ServiceUser,
    cmd: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float | None = None,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` as ``user`` (switching only when we are root and it is somebody else)."""
    kwargs: dict[str, object] = {}
    if running_as_root() and not user.is_self:
        kwargs = {"user": user.uid, "group": user.gid, "extra_groups": []}
    try:
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            list(cmd),
            cwd=str(cwd),
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input_text,
            **kwargs,
        )
    except subprocess.TimeoutExpired as exc:
        raise ExternalToolError(
            f"{Path(cmd[0]).name} did not finish within {timeout:.0f} s.",
            hint=f"Command: {' '.join(cmd)}",
        ) from exc
    except OSError as exc:
        raise ExternalToolError(f"Could not run {cmd[0]}: {exc}.") from exc


def can_enter(user: ServiceUser, folder: Path) -> bool:
    """Whether ``user`` can reach and enter ``folder`` (search permission on every parent).

    Asked of the kernel by running ``test -x`` as that user, so ACLs, group membership and
    odd mounts are all taken into account.
    """
    if user.is_self:
        return os.access(folder, os.X_OK)
    result = run_as(user, ["test", "-x", str(folder)], cwd=Path("/"), env={"PATH": "/usr/bin:/bin"})
    return result.returncode == 0


def chown_tree(path: Path, user: ServiceUser) -> None:
    """Give ``path`` (and everything below it) to ``user``; a no-op when it is us."""
    if user.is_self:
        return
    os.chown(path, user.uid, user.gid)
    if path.is_dir():
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                os.lchown(os.path.join(root, name), user.uid, user.gid)
