"""The local backend: Odoo processes under one supervisord per project state folder.

supervisord (from PyPI) is started on demand as a daemon with a unix socket under
``<state>/supervisor`` and driven through its XML-RPC API. Each environment is one
program defined by its own include file (``programs/<name>.conf``) and a launcher
script holding its exact environment variables; adding, changing or removing one
environment reloads supervisord's configuration and touches only that program.
Processes keep running after odooplane exits, are restarted when they crash, and each
writes its own log file.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import filelock

from odooplane.backends.base import OneOff, ProcessBackend, ProcessStatus, ProgramSpec
from odooplane.errors import ExternalToolError, NotFoundError
from odooplane.fsutil import write_atomic
from odooplane.paths import socket_path


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class _UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__()
        self._path = path
        self._timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        return _UnixConnection(self._path, self._timeout)


def _unprivileged(argv: list[str], cwd: Path) -> list[str]:
    """``argv`` run as the unprivileged Odoo user when odooplane runs as root, with what
    it reads and writes made reachable for that user only (odooplane.odoo.sysuser)."""
    from odooplane.odoo import sysuser

    user = sysuser.odoo_user()
    if user is None:
        return argv
    home = sysuser.prepare(user, argv, cwd)
    return [*sysuser.setpriv_prefix(user), "/usr/bin/env", f"HOME={home}", *argv]


def _supervisor_escape(value: str) -> str:
    # supervisord expands %(name)s in values; a literal % must be doubled.
    return value.replace("%", "%%")


class SupervisorBackend(ProcessBackend):
    """The supervisord of one project state folder."""

    kind = "local"

    def __init__(self, state_dir: Path, *, rpc_timeout: float = 60.0) -> None:
        self.state_dir = state_dir
        self.dir = state_dir / "supervisor"
        self.conf_path = self.dir / "supervisord.conf"
        self.programs_dir = self.dir / "programs"
        self.launchers_dir = self.dir / "launchers"
        self.pid_path = self.dir / "supervisord.pid"
        self.log_path = self.dir / "supervisord.log"
        self.rpc_timeout = rpc_timeout

    # -- the daemon ----------------------------------------------------------------

    @property
    def socket_path(self) -> Path:
        return socket_path(self.dir / "supervisor.sock", "supervisor")

    def _proxy(self) -> Any:
        return xmlrpc.client.ServerProxy(
            "http://localhost/RPC2",
            transport=_UnixTransport(str(self.socket_path), self.rpc_timeout),
            allow_none=True,
        )

    def _rpc(self, method: str, *args: Any) -> Any:
        target = self._proxy()
        for part in method.split("."):
            target = getattr(target, part)
        return target(*args)

    def is_running(self) -> bool:
        if not self.socket_path.exists():
            return False
        try:
            state = self._rpc("supervisor.getState")
        except (OSError, xmlrpc.client.Error, http.client.HTTPException):
            return False
        return bool(state.get("statename") == "RUNNING")

    def daemon_pid(self) -> int | None:
        if not self.is_running():
            return None
        return int(self._rpc("supervisor.getPID"))

    def _write_main_conf(self) -> None:
        sock = self.socket_path
        sock.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        esc = _supervisor_escape
        text = "\n".join(
            [
                "; Written by odooplane: one supervisord per project state folder.",
                "[unix_http_server]",
                f"file={esc(str(sock))}",
                "chmod=0700",
                "",
                "[supervisord]",
                f"logfile={esc(str(self.log_path))}",
                "logfile_maxbytes=5MB",
                "logfile_backups=2",
                f"pidfile={esc(str(self.pid_path))}",
                f"childlogdir={esc(str(self.dir))}",
                f"directory={esc(str(self.dir))}",
                "identifier=odooplane",
                # Odoo with workers opens many files; keep supervisord's default minimum.
                "minfds=1024",
                "",
                "[rpcinterface:supervisor]",
                "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
                "",
                "[supervisorctl]",
                f"serverurl=unix://{esc(str(sock))}",
                "",
                "[include]",
                f"files = {esc(str(self.programs_dir))}/*.conf",
                "",
            ]
        )
        write_atomic(self.conf_path, text)

    def ensure_running(self, timeout: float = 20.0) -> None:
        """Start supervisord as a daemon unless it already runs; idempotent."""
        if self.is_running():
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        self.programs_dir.mkdir(parents=True, exist_ok=True)
        with filelock.FileLock(str(self.dir / "start.lock"), timeout=timeout):
            if self.is_running():
                return
            self._write_main_conf()
            self.socket_path.unlink(missing_ok=True)
            result = subprocess.run(
                [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.conf_path)],
                cwd=self.dir,
                capture_output=True,
                text=True,
                check=False,
                # The daemon must not belong to our session: a Ctrl-C or SIGKILL of
                # this command must leave environments running.
                start_new_session=True,
            )
            if result.returncode != 0:
                raise ExternalToolError(
                    "supervisord did not start: "
                    f"{(result.stderr or result.stdout).strip()[-1000:]}",
                    hint=f"See {self.log_path}.",
                )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.is_running():
                    return
                time.sleep(0.1)
        raise ExternalToolError(
            f"supervisord did not answer on {self.socket_path} within {timeout:g} s.",
            hint=f"See {self.log_path}.",
        )

    def shutdown(self, timeout: float = 60.0) -> None:
        """Stop every program and supervisord itself."""
        if not self.is_running():
            return
        pid = self.daemon_pid()
        with contextlib.suppress(OSError, xmlrpc.client.Error, http.client.HTTPException):
            self._rpc("supervisor.shutdown")
        deadline = time.monotonic() + timeout
        while pid and time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            if pid:
                os.kill(pid, signal.SIGKILL)

    # -- programs ------------------------------------------------------------------

    def one_off(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        build: str,
        interactive: bool = False,
    ) -> OneOff:
        """An Odoo command of environment ``name`` (install, update, shell...): run as
        the unprivileged Odoo user when odooplane is root, like its server."""
        from odooplane.odoo.sysuser import conf_of

        conf = conf_of(argv)
        # The environment's folder (where its odoo.conf is) is where it runs.
        cwd = conf.parent if conf is not None else Path.cwd()
        return OneOff(_unprivileged(list(argv), cwd), dict(env))

    def program_conf_path(self, name: str) -> Path:
        return self.programs_dir / f"{name}.conf"

    def launcher_path(self, name: str) -> Path:
        return self.launchers_dir / f"{name}.sh"

    def defined(self, name: str) -> bool:
        return self.program_conf_path(name).exists()

    def define(self, spec: ProgramSpec) -> None:
        """Create or replace program ``spec.name``; a running one keeps running until
        its definition changes, then it is stopped and must be started again."""
        self.ensure_running()
        spec.log_file.parent.mkdir(parents=True, exist_ok=True)
        # The launcher holds the environment (secrets included) instead of
        # supervisord.conf, readable by its owner only.
        assignments = " ".join(shlex.quote(f"{k}={v}") for k, v in sorted(spec.env.items()))
        argv = list(spec.argv)
        if spec.unprivileged:
            argv = _unprivileged(argv, spec.cwd)
        launcher = (
            "#!/bin/sh\n"
            "# Written by odooplane: the exact environment of this Odoo process.\n"
            f"cd {shlex.quote(str(spec.cwd))} || exit 1\n"
            f"exec /usr/bin/env -i {assignments} {shlex.join(argv)}\n"
        )
        self.launchers_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(self.launcher_path(spec.name), launcher, mode=0o700)
        esc = _supervisor_escape
        conf = "\n".join(
            [
                f"[program:{spec.name}]",
                f"command={esc(shlex.quote(str(self.launcher_path(spec.name))))}",
                f"directory={esc(str(spec.cwd))}",
                # The launcher's digest makes supervisord see a changed environment as a
                # changed program (its own configuration would otherwise look the same).
                "environment=ODOOPLANE_LAUNCHER="
                + hashlib.sha256(launcher.encode()).hexdigest()[:16],
                "autostart=false",
                "autorestart=unexpected",
                "exitcodes=0",
                f"startsecs={spec.start_seconds}",
                "startretries=3",
                f"stopsignal={spec.stop_signal}",
                f"stopwaitsecs={spec.stop_wait_seconds}",
                # Odoo with workers forks: stop and kill the whole process group.
                "stopasgroup=true",
                "killasgroup=true",
                "redirect_stderr=true",
                f"stdout_logfile={esc(str(spec.log_file))}",
                f"stdout_logfile_maxbytes={spec.log_max_bytes}",
                f"stdout_logfile_backups={spec.log_backups}",
                "",
            ]
        )
        write_atomic(self.program_conf_path(spec.name), conf)
        self._apply(spec.name)

    def _apply(self, name: str) -> None:
        """Make supervisord's view of program ``name`` match its include file."""
        result = self._rpc("supervisor.reloadConfig")
        added, changed, removed = result[0]
        if name in changed or name in removed:
            self._stop_quietly(name)
            self._rpc("supervisor.removeProcessGroup", name)
        if name in added or name in changed:
            self._rpc("supervisor.addProcessGroup", name)

    def _stop_quietly(self, name: str) -> None:
        try:
            self._rpc("supervisor.stopProcess", name, True)
        except xmlrpc.client.Fault as fault:
            if "NOT_RUNNING" not in fault.faultString and "BAD_NAME" not in fault.faultString:
                raise

    def remove(self, name: str) -> None:
        """Stop and forget program ``name``; its log file stays where it is."""
        conf = self.program_conf_path(name)
        if not conf.exists():
            return
        conf.unlink()
        self.launcher_path(name).unlink(missing_ok=True)
        if self.is_running():
            self._apply(name)

    def programs(self) -> list[str]:
        if not self.programs_dir.is_dir():
            return []
        return sorted(p.stem for p in self.programs_dir.glob("*.conf"))

    def log_location(self, name: str) -> Path | None:
        conf = self.program_conf_path(name)
        try:
            text = conf.read_text()
        except FileNotFoundError:
            return None
        for line in text.splitlines():
            if line.startswith("stdout_logfile="):
                return Path(line.split("=", 1)[1].replace("%%", "%"))
        return None

    def _require(self, name: str) -> None:
        if not self.defined(name):
            raise NotFoundError(f"No process is defined for environment '{name}'.")

    def start(self, name: str) -> None:
        """Ask supervisord to start ``name`` (without waiting for it to be healthy)."""
        self._require(name)
        self.ensure_running()
        self._apply(name)
        try:
            self._rpc("supervisor.startProcess", name, False)
        except xmlrpc.client.Fault as fault:
            if "ALREADY_STARTED" not in fault.faultString:
                raise ExternalToolError(
                    f"supervisord could not start '{name}': {fault.faultString}",
                    hint=f"See {self.log_path}.",
                ) from None

    def stop(self, name: str) -> None:
        """Stop ``name`` and wait until it has exited (idempotent)."""
        if not self.defined(name) or not self.is_running():
            return
        try:
            self._rpc("supervisor.stopProcess", name, True)
        except xmlrpc.client.Fault as fault:
            text = fault.faultString
            if "NOT_RUNNING" in text or "BAD_NAME" in text:
                return
            raise ExternalToolError(f"supervisord could not stop '{name}': {text}") from None

    def status(self, name: str) -> ProcessStatus:
        """The live state of ``name``; never starts supervisord."""
        if not self.defined(name):
            return ProcessStatus(name, "ABSENT", None, None, None, "no process defined")
        if not self.is_running():
            return ProcessStatus(
                name, "NOT_RUNNING", None, None, None, "supervisord is not running"
            )
        try:
            info = cast(dict[str, Any], self._rpc("supervisor.getProcessInfo", name))
        except xmlrpc.client.Fault:
            return ProcessStatus(
                name, "NOT_LOADED", None, None, None, "defined but not loaded by supervisord"
            )
        pid = int(info.get("pid") or 0) or None
        return ProcessStatus(
            name=name,
            state=str(info.get("statename")),
            pid=pid,
            since=float(info["start"]) if info.get("start") else None,
            exit_status=int(info["exitstatus"]) if info.get("exitstatus") is not None else None,
            description=str(info.get("description", "")),
            details={"spawnerr": info.get("spawnerr", "")},
        )


def tail(path: Path, lines: int = 50, max_bytes: int = 512 * 1024) -> str:
    """The last ``lines`` lines of a (possibly large) log file."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])
