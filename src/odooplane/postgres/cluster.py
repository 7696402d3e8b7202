"""The embedded PostgreSQL cluster: ``initdb`` + ``pg_ctl`` under the project's state folder.

Layout (``<state>`` is the project's ``.odooplane`` folder)::

    <state>/pg/cluster.json          port, binaries, OS user, where the data lives
    <state>/pg/superuser.password    generated password of the superuser (0600)
    <data root>/data/                the cluster (PGDATA), owned by the server's OS user
    <data root>/postgresql.log       server log (pg_ctl -l)
    <data root>/run/                 unix socket directory (when the path is short enough)

The data root is ``<state>/pg/cluster``. When odooplane runs as root, the server runs as
the unprivileged ``odooplane`` user (see :mod:`odooplane.postgres.sysuser`); if that user
cannot enter ``<state>/pg`` (a project under ``/root`` or under pytest's 0700 temporary
folders), the data root is ``/var/lib/odooplane/clusters/<hash of the state path>`` and
``cluster.json`` points at it. Permissions of the user's folders are never loosened.

The server listens on 127.0.0.1 on a port chosen at first start (below the ephemeral
range, remembered, re-chosen with a note when another program took it) and on a unix
socket; every login, TCP or socket, needs the superuser password (scram-sha-256).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import psutil  # type: ignore[import-untyped, unused-ignore]
import psycopg
from filelock import FileLock, Timeout

from odooplane.errors import ExternalToolError, LockedError, NotFoundError, RefusedError
from odooplane.fsutil import read_json, write_atomic, write_json_atomic
from odooplane.ports import free_port_below_ephemeral, is_port_free
from odooplane.postgres.binaries import SERVER_TOOLS, find_binaries, tool_version
from odooplane.postgres.server import DatabaseServer
from odooplane.postgres.sysuser import (
    ServiceUser,
    can_enter,
    chown_tree,
    run_as,
    service_user,
)
from odooplane.results import Result

CLUSTER_FILE = "cluster.json"
PASSWORD_FILE = "superuser.password"
OWNER_FILE = "owner.json"
SUPERUSER = "odooplane"
HOST = "127.0.0.1"
EXTERNAL_ROOT = Path("/var/lib/odooplane/clusters")
# sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
SOCKET_PATH_MAX = 107
START_TIMEOUT = 120

ClusterState = Literal["running", "stopped", "crashed", "uninitialized"]


@dataclass(frozen=True)
class ClusterStatus(Result):
    """What is true about the embedded cluster right now."""

    state: ClusterState
    pg_dir: Path
    data_dir: Path | None = None
    host: str = HOST
    port: int | None = None
    socket_dir: Path | None = None
    pid: int | None = None
    accepting: bool = False
    version: str | None = None
    bin_dir: Path | None = None
    os_user: str | None = None
    superuser: str = SUPERUSER
    log_file: Path | None = None
    notes: tuple[str, ...] = ()

    @property
    def running(self) -> bool:
        return self.state == "running"


def _conf_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _choose_locale() -> str:
    """C.UTF-8 gives Unicode-aware lower()/ILIKE (Odoo's searches) with byte-order sorting."""
    try:
        available = subprocess.run(
            ["locale", "-a"], capture_output=True, text=True, timeout=10
        ).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        available = []
    normalized = {name.lower().replace("-", ""): name for name in available}
    for wanted in ("c.utf8", "en_us.utf8"):
        if wanted in normalized:
            return normalized[wanted]
    return "C"


class EmbeddedCluster:
    """odooplane's own PostgreSQL cluster for one project state folder.

    ``state_dir`` is the project's state folder (``.odooplane``); the cluster lives in its
    ``pg`` subfolder. ``bin_dir`` overrides where initdb/pg_ctl/postgres are looked for.
    ``settings`` are extra postgresql.conf settings written at every start (the test suite
    turns fsync off with it).
    """

    def __init__(
        self,
        state_dir: Path,
        bin_dir: Path | None = None,
        *,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.state_dir = Path(state_dir).absolute()
        self.pg_dir = self.state_dir / "pg"
        self._bin_dir = Path(bin_dir) if bin_dir is not None else None
        self.settings = dict(settings or {})

    # -- layout --------------------------------------------------------------------------

    def _info(self) -> dict[str, Any] | None:
        info = read_json(self.pg_dir / CLUSTER_FILE)
        return info if isinstance(info, dict) else None

    def _save_info(self, info: dict[str, Any]) -> None:
        write_json_atomic(self.pg_dir / CLUSTER_FILE, info)

    def _data_root(self, info: Mapping[str, Any]) -> Path:
        root = Path(str(info["data_root"]))
        return root if root.is_absolute() else self.pg_dir / root

    def data_dir(self) -> Path | None:
        """PGDATA, or None before the first start."""
        info = self._info()
        return self._data_root(info) / "data" if info else None

    def _external_root(self) -> Path:
        digest = hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:16]
        return EXTERNAL_ROOT / digest

    def _user(self, info: Mapping[str, Any]) -> ServiceUser:
        user = service_user()
        if user.name != info.get("os_user"):
            import pwd

            try:
                entry = pwd.getpwnam(str(info.get("os_user")))
            except KeyError:
                raise NotFoundError(
                    f"The embedded cluster in {self.pg_dir} runs as OS user "
                    f"'{info.get('os_user')}', which no longer exists.",
                    hint=f"Create that user again, or remove {self.pg_dir} to start over "
                    "(its databases are lost).",
                ) from None
            user = ServiceUser(entry.pw_name, entry.pw_uid, entry.pw_gid)
        return user

    def _bin_dir_of(self, info: Mapping[str, Any]) -> Path:
        folder = self._bin_dir or Path(str(info["bin_dir"]))
        if not all((folder / tool).is_file() for tool in SERVER_TOOLS):
            raise NotFoundError(
                f"The PostgreSQL programs of the embedded cluster are gone from {folder}.",
                hint="Reinstall that PostgreSQL version, or set database.postgres_bin to a "
                f"folder holding PostgreSQL {info.get('major')} binaries.",
            )
        version = tool_version(folder / "postgres")
        if version is not None and str(version[0]) != str(info.get("major")):
            raise RefusedError(
                f"The embedded cluster was created by PostgreSQL {info.get('major')}, but "
                f"{folder} holds PostgreSQL {version[0]}.",
                hint="Point database.postgres_bin at the matching binaries, or upgrade the "
                "cluster with pg_upgrade.",
            )
        return folder

    def _env(self, home: Path) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(home)}
        if "TZ" in os.environ:
            env["TZ"] = os.environ["TZ"]
        return env

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.pg_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.pg_dir / ".lock"))
        try:
            with lock.acquire(timeout=START_TIMEOUT + 60):
                yield
        except Timeout:
            raise LockedError(
                f"Another odooplane command is starting or stopping the server in {self.pg_dir}.",
                hint="Wait for it to finish and try again.",
            ) from None

    # -- first start ---------------------------------------------------------------------

    def _initialize(self, notes: list[str]) -> dict[str, Any]:
        binaries = find_binaries(self._bin_dir, tools=SERVER_TOOLS)
        user = service_user()
        self.pg_dir.mkdir(parents=True, exist_ok=True)
        # The server's user must pass through pg/ to reach pg/cluster; the password file
        # inside stays 0600.
        os.chmod(self.pg_dir, 0o711 if not user.is_self else 0o700)

        external = not user.is_self and not can_enter(user, self.pg_dir)
        if external:
            data_root = self._external_root()
            for folder in (EXTERNAL_ROOT.parent, EXTERNAL_ROOT):
                folder.mkdir(exist_ok=True)
                os.chmod(folder, 0o755)
            notes.append(
                f"The '{user.name}' user cannot enter {self.pg_dir}, so the cluster's data "
                f"lives in {data_root} ({self.pg_dir / CLUSTER_FILE} points at it)."
            )
        else:
            data_root = self.pg_dir / "cluster"
        data_dir = data_root / "data"
        if data_dir.exists():
            raise RefusedError(
                f"{data_dir} already holds a cluster, but {self.pg_dir / CLUSTER_FILE} is missing.",
                hint=f"Restore {CLUSTER_FILE}, or move {data_dir} away to start a new cluster.",
            )
        data_root.mkdir(parents=True, exist_ok=True)
        os.chmod(data_root, 0o700)
        if external:
            write_json_atomic(data_root / OWNER_FILE, {"state_dir": str(self.state_dir)})
        chown_tree(data_root, user)

        password = secrets.token_urlsafe(32)
        write_atomic(self.pg_dir / PASSWORD_FILE, password + "\n", mode=0o600)

        # initdb writes into a temporary folder renamed at the end: never a half cluster.
        building = data_root / "data.initdb"
        if building.exists():
            shutil.rmtree(building)
        pwfile = data_root / ".initdb-password"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(password + "\n")
        chown_tree(pwfile, user)
        command = [
            str(binaries.tool("initdb")),
            "--pgdata",
            str(building),
            "--username",
            SUPERUSER,
            "--pwfile",
            str(pwfile),
            "--auth-local=scram-sha-256",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            f"--locale={_choose_locale()}",
        ]
        if binaries.major >= 14:
            command.append("--no-instructions")
        try:
            result = run_as(user, command, cwd=data_root, env=self._env(data_root), timeout=300)
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            shutil.rmtree(building, ignore_errors=True)
            raise ExternalToolError(
                f"initdb failed for {building}: {(result.stderr or result.stdout).strip()}"
            )
        conf = building / "postgresql.conf"
        with conf.open("a") as fh:
            fh.write("\n# Port, addresses and socket folder, rewritten by odooplane at start.\n")
            fh.write("include_if_exists = 'odooplane.conf'\n")
        building.rename(data_dir)

        info: dict[str, Any] = {
            "format": 1,
            "data_root": str(data_root) if external else "cluster",
            "port": free_port_below_ephemeral(HOST),
            "bin_dir": str(binaries.bin_dir),
            "major": binaries.major,
            "version": f"{binaries.version[0]}.{binaries.version[1]}",
            "os_user": user.name,
            "superuser": SUPERUSER,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        self._save_info(info)
        notes.append(
            f"Created a PostgreSQL {info['version']} cluster in {data_dir} "
            f"(runs as OS user '{user.name}')."
        )
        return info

    # -- state ---------------------------------------------------------------------------

    def _read_pidfile(self, data_dir: Path) -> list[str] | None:
        try:
            return (data_dir / "postmaster.pid").read_text().splitlines()
        except FileNotFoundError:
            return None
        except PermissionError:
            return None

    def _is_postmaster(self, pid: int, data_dir: Path) -> bool:
        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                return False
            return Path(proc.cwd()).resolve() == data_dir.resolve()
        except (psutil.Error, OSError):
            return False

    def _cluster_processes(self, data_dir: Path) -> list[psutil.Process]:
        """Every live process whose working folder is PGDATA: PostgreSQL chdirs there at
        start and its children inherit it, so this finds orphaned backends too."""
        target = str(data_dir.resolve())
        found = []
        for proc in psutil.process_iter():
            try:
                if proc.status() != psutil.STATUS_ZOMBIE and proc.cwd() == target:
                    found.append(proc)
            except (psutil.Error, OSError):
                continue
        return found

    def _probe(self, port: int, password: str | None) -> bool:
        try:
            with psycopg.connect(
                host=HOST,
                port=port,
                user=SUPERUSER,
                password=password,
                dbname="postgres",
                connect_timeout=3,
                application_name="odooplane-status",
            ):
                return True
        except psycopg.Error:
            return False

    def _password(self) -> str | None:
        try:
            return (self.pg_dir / PASSWORD_FILE).read_text().strip()
        except FileNotFoundError:
            return None

    def _status(self, info: Mapping[str, Any], notes: tuple[str, ...] = ()) -> ClusterStatus:
        data_root = self._data_root(info)
        data_dir = data_root / "data"
        base = ClusterStatus(
            state="stopped",
            pg_dir=self.pg_dir,
            data_dir=data_dir,
            port=int(info["port"]),
            socket_dir=Path(info["socket_dir"]) if info.get("socket_dir") else None,
            version=str(info.get("version")),
            bin_dir=Path(str(info["bin_dir"])),
            os_user=str(info.get("os_user")),
            log_file=data_root / "postgresql.log",
            notes=notes,
        )
        lines = self._read_pidfile(data_dir)
        if lines is None:
            return base
        pid = int(lines[0]) if lines and lines[0].strip().isdigit() else None
        if pid is not None and self._is_postmaster(pid, data_dir):
            port = int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else base.port
            assert port is not None
            return replace(
                base,
                state="running",
                pid=pid,
                port=port,
                accepting=self._probe(port, self._password()),
            )
        return replace(
            base,
            state="crashed",
            pid=pid,
            notes=(
                *notes,
                f"postmaster.pid names PID {pid}, which is not a running PostgreSQL server: "
                "the server stopped without shutting down (crash, kill or reboot). "
                "`odooplane db server start` recovers it.",
            ),
        )

    def status(self) -> ClusterStatus:
        """The cluster's state; never changes anything."""
        info = self._info()
        if info is None:
            return ClusterStatus(
                state="uninitialized",
                pg_dir=self.pg_dir,
                notes=("No cluster yet: `odooplane db server start` creates one.",),
            )
        return self._status(info)

    # -- start / stop --------------------------------------------------------------------

    def _socket_dir(self, info: Mapping[str, Any], user: ServiceUser) -> Path:
        preferred = self._data_root(info) / "run"
        if len(os.fsencode(preferred / ".s.PGSQL.65535")) <= SOCKET_PATH_MAX:
            folder = preferred
        else:
            # The project path is too long for a socket: a short private folder in /tmp.
            digest = hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:12]
            folder = Path(tempfile.gettempdir()) / f"odooplane-pg-{digest}"
        if folder.is_symlink():
            raise RefusedError(f"{folder} is a symbolic link; remove it so the socket is private.")
        folder.mkdir(mode=0o700, exist_ok=True)
        if folder.stat().st_uid not in (user.uid, os.geteuid()):
            raise RefusedError(
                f"The socket folder {folder} belongs to another user.",
                hint="Remove it and start the server again.",
            )
        os.chmod(folder, 0o700)
        chown_tree(folder, user)
        return folder

    def _write_settings(self, info: Mapping[str, Any], socket_dir: Path, user: ServiceUser) -> None:
        settings = {
            "listen_addresses": HOST,
            "port": str(info["port"]),
            "unix_socket_directories": str(socket_dir),
            "password_encryption": "scram-sha-256",
            **self.settings,
        }
        lines = ["# Written by odooplane at every start; put your own settings in postgresql.conf."]
        for key, value in settings.items():
            if not key.replace("_", "").replace(".", "").isalnum():
                raise RefusedError(f"'{key}' is not a PostgreSQL setting name.")
            lines.append(f"{key} = {_conf_quote(str(value))}")
        target = self._data_root(info) / "data" / "odooplane.conf"
        write_atomic(target, "\n".join(lines) + "\n", mode=0o600)
        chown_tree(target, user)

    def _recover_crash(self, status: ClusterStatus, notes: list[str]) -> None:
        """Make a crashed cluster startable: let orphaned backends of the dead postmaster
        exit (they notice its death within a second or two), kill the ones that do not,
        then remove the stale lock files (PostgreSQL refuses to start while the PID they
        name exists, and a killed postmaster can linger as an unreaped zombie)."""
        assert status.data_dir is not None
        deadline = time.monotonic() + 15
        leftovers = self._cluster_processes(status.data_dir)
        while leftovers and time.monotonic() < deadline:
            time.sleep(0.3)
            leftovers = self._cluster_processes(status.data_dir)
        for proc in leftovers:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGKILL)
        if leftovers:
            psutil.wait_procs(leftovers, timeout=10)
            notes.append(f"Killed {len(leftovers)} orphaned PostgreSQL processes.")
        (status.data_dir / "postmaster.pid").unlink(missing_ok=True)
        # The socket folder is private to this cluster, and nothing of it runs any more.
        if status.socket_dir is not None and status.socket_dir.is_dir():
            for leftover in status.socket_dir.glob(".s.PGSQL.*"):
                leftover.unlink(missing_ok=True)
        notes.append(
            f"Recovered from an unclean shutdown (stale postmaster.pid of PID {status.pid}); "
            "PostgreSQL replays its WAL on start."
        )

    def _log_since(self, log: Path, offset: int) -> str:
        try:
            with log.open("rb") as fh:
                fh.seek(offset)
                return fh.read().decode(errors="replace")
        except OSError:
            return ""

    def start(self) -> ClusterStatus:
        """Create the cluster if needed and start it; does nothing when it already runs."""
        notes: list[str] = []
        with self._lock():
            info = self._info() or self._initialize(notes)
            current = self._status(info)
            if current.running:
                return replace(current, notes=(*notes, "The server was already running."))
            if current.state == "crashed":
                self._recover_crash(current, notes)
            user = self._user(info)
            bin_dir = self._bin_dir_of(info)
            data_root = self._data_root(info)
            data_dir = data_root / "data"
            log = data_root / "postgresql.log"
            if not (data_dir / "PG_VERSION").is_file():
                raise NotFoundError(
                    f"The embedded cluster's data folder {data_dir} is missing or incomplete.",
                    hint=f"Put it back, or remove {self.pg_dir} to create a new, empty cluster.",
                )
            for attempt in range(3):
                if attempt or not is_port_free(int(info["port"]), HOST):
                    new_port = free_port_below_ephemeral(HOST)
                    notes.append(
                        f"Port {info['port']} on {HOST} is taken by another program; the "
                        f"embedded server now listens on port {new_port}."
                    )
                    info["port"] = new_port
                socket_dir = self._socket_dir(info, user)
                info["socket_dir"] = str(socket_dir)
                self._save_info(info)
                self._write_settings(info, socket_dir, user)
                offset = log.stat().st_size if log.exists() else 0
                result = run_as(
                    user,
                    [
                        str(bin_dir / "pg_ctl"),
                        "start",
                        "--pgdata",
                        str(data_dir),
                        "--log",
                        str(log),
                        "--wait",
                        "--timeout",
                        str(START_TIMEOUT),
                        "--silent",
                    ],
                    cwd=data_root,
                    env=self._env(data_root),
                    timeout=START_TIMEOUT + 30,
                )
                if result.returncode == 0:
                    break
                logged = self._log_since(log, offset)
                if "could not bind" in logged or "Address already in use" in logged:
                    continue
                raise ExternalToolError(
                    f"PostgreSQL did not start (pg_ctl exit {result.returncode}).",
                    hint=f"Last lines of {log}:\n"
                    + "\n".join((logged or result.stderr).strip().splitlines()[-15:]),
                )
            else:
                raise ExternalToolError(
                    "PostgreSQL could not bind a TCP port on 127.0.0.1 after three tries.",
                    hint=f"See {log}.",
                )
            status = self._status(info, tuple(notes))
            deadline = time.monotonic() + 30
            while status.running and not status.accepting and time.monotonic() < deadline:
                time.sleep(0.2)
                status = self._status(info, tuple(notes))
            if not status.running or not status.accepting:
                raise ExternalToolError(
                    "PostgreSQL started but does not accept password logins on "
                    f"{HOST}:{info['port']}.",
                    hint=f"See {log} and {self.pg_dir / PASSWORD_FILE}.",
                )
            return status

    def stop(self) -> ClusterStatus:
        """Stop the server (fast shutdown: sessions are ended, transactions rolled back)."""
        notes: list[str] = []
        with self._lock():
            info = self._info()
            if info is None:
                return self.status()
            current = self._status(info)
            if current.state == "crashed":
                self._recover_crash(current, notes)
                return self._status(info, tuple(notes))
            if not current.running:
                return replace(current, notes=("The server was not running.",))
            user = self._user(info)
            bin_dir = self._bin_dir_of(info)
            data_root = self._data_root(info)
            for mode in ("fast", "immediate"):
                result = run_as(
                    user,
                    [
                        str(bin_dir / "pg_ctl"),
                        "stop",
                        "--pgdata",
                        str(data_root / "data"),
                        "--mode",
                        mode,
                        "--wait",
                        "--timeout",
                        "60",
                        "--silent",
                    ],
                    cwd=data_root,
                    env=self._env(data_root),
                    timeout=90,
                )
                if result.returncode == 0:
                    if mode == "immediate":
                        notes.append("Fast shutdown timed out; used immediate shutdown.")
                    break
            else:
                raise ExternalToolError(
                    f"pg_ctl stop failed: {(result.stderr or result.stdout).strip()}"
                )
            return self._status(info, tuple(notes))

    def destroy(self) -> None:
        """Stop the server and delete the cluster with every database in it."""
        info = self._info()
        if info is not None:
            self.stop()
            data_root = self._data_root(info)
            with self._lock():
                shutil.rmtree(data_root, ignore_errors=True)
                socket_dir = info.get("socket_dir")
                if socket_dir and not Path(socket_dir).is_relative_to(data_root):
                    shutil.rmtree(socket_dir, ignore_errors=True)
        shutil.rmtree(self.pg_dir, ignore_errors=True)

    def server(self) -> DatabaseServer:
        """How to reach this cluster (over TCP with the superuser password)."""
        info = self._info()
        if info is None:
            raise NotFoundError(
                f"No embedded cluster in {self.pg_dir} yet.",
                hint="Create and start it with `odooplane db server start`.",
            )
        password = self._password()
        if password is None:
            raise NotFoundError(
                f"{self.pg_dir / PASSWORD_FILE} is missing; the superuser password is lost.",
                hint="Reset it as the server's OS user with ALTER ROLE over the unix socket, "
                "and write it to that file (mode 0600).",
            )
        return DatabaseServer(
            host=HOST,
            port=int(info["port"]),
            user=str(info.get("superuser", SUPERUSER)),
            password=password,
            bin_dir=Path(str(info["bin_dir"])),
            embedded=True,
            socket_dir=Path(info["socket_dir"]) if info.get("socket_dir") else None,
        )
