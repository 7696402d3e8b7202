"""Running Odoo: initializing a database, starting a server, waiting for it to answer.

These are the plain building blocks; environments run their servers under a supervisor
with the same command lines (:mod:`odooplane.odoo.series`) and the same options
(:func:`odoo_options`).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from odooplane.errors import CheckFailedError, ExternalToolError, NotFoundError
from odooplane.fsutil import write_atomic
from odooplane.odoo.addons import addons_path, check_installable, discover_addons
from odooplane.odoo.series import for_series
from odooplane.ports import free_port

if TYPE_CHECKING:
    from odooplane.odoo.runtime import Runtime
    from odooplane.odoo.source import OdooSource
    from odooplane.postgres.server import DatabaseServer
    from odooplane.project import Project

HEALTH_PATH = "/web/health"
LOG_TAIL_LINES = 40


def log_tail(path: Path | None, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file ('' when there is none)."""
    if path is None or not path.is_file():
        return ""
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 64 * 1024))
        text = fh.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def odoo_options(
    project: Project,
    source: OdooSource,
    server: DatabaseServer,
    *,
    database: str,
    http_port: int | None = None,
    extra_addons: Sequence[Path] = (),
    extra: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """The odoo.conf options odooplane gives every Odoo it runs against ``database``:
    the project's addons path, its data folder, the database server, one database only
    (no database manager), HTTP on localhost. ``extra`` comes last and wins."""
    options: dict[str, object] = {
        "addons_path": [str(p) for p in addons_path(project, source, extra=extra_addons)],
        "data_dir": str(project.odoo_data_dir),
        **server.odoo_options(),
        "db_name": database,
        "dbfilter": f"^{re.escape(database)}$",
        "list_db": False,
        "http_interface": "127.0.0.1",
        "http_port": http_port,
        "proxy_mode": False,
    }
    options.update(extra or {})
    return options


def write_conf(path: Path, source: OdooSource, options: Mapping[str, object]) -> Path:
    """Render ``options`` for the source's series into ``path`` (mode 0600: it holds the
    database password)."""
    write_atomic(path, for_series(source.series).render_conf(options), mode=0o600)
    return path


def _run_dir(project: Project) -> Path:
    folder = project.state_dir / "run"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _logs_dir(project: Project) -> Path:
    folder = project.state_dir / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run_odoo(
    argv: Sequence[str],
    runtime: Runtime,
    *,
    log_path: Path,
    what: str,
    cwd: Path | None = None,
    timeout: float | None = None,
) -> None:
    """Run an Odoo command to its end, its output appended to ``log_path``; a failure
    is an ExternalToolError carrying the end of the log."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        log.write(f"\n$ {' '.join(argv)}\n".encode())
        log.flush()
        try:
            code = subprocess.run(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=runtime.env(),
                cwd=cwd,
                timeout=timeout,
                start_new_session=True,
            ).returncode
        except subprocess.TimeoutExpired:
            raise ExternalToolError(
                f"Odoo did not finish {what} within {timeout:.0f} s.",
                hint=f"The log is {log_path}:\n{log_tail(log_path)}",
            ) from None
    if code != 0:
        raise ExternalToolError(
            f"Odoo failed {what} (exit code {code}).",
            hint=f"End of {log_path}:\n{log_tail(log_path)}",
        )


def installed_modules(server: DatabaseServer, database: str, names: Sequence[str]) -> set[str]:
    """Which of ``names`` are installed in ``database``."""
    with server.connect(database) as conn:
        rows = conn.execute(
            "SELECT name FROM ir_module_module WHERE state = 'installed' AND name = ANY(%s)",
            (list(names),),
        ).fetchall()
    return {str(row[0]) for row in rows}


def initialize_database(
    project: Project,
    source: OdooSource,
    runtime: Runtime,
    server: DatabaseServer,
    database: str,
    modules: list[str],
    *,
    demo: bool,
    log_path: Path | None = None,
    timeout: float | None = None,
    extra_options: Mapping[str, object] | None = None,
    addons_paths: Sequence[Path] | None = None,
    data_dir: Path | None = None,
) -> None:
    """Create ``database`` (when missing) and install ``modules`` with or without demo
    data, then check in the database that each module is installed: Odoo exits 0 after
    merely logging a module name it does not know.

    ``addons_paths`` replaces the project's addons path, ``data_dir`` Odoo's data folder
    (then the conf and log files go to its ``run`` and ``logs`` folders, not the
    project's state folder)."""
    paths = list(addons_paths) if addons_paths is not None else addons_path(project, source)
    known = discover_addons(paths)
    unknown = [name for name in modules if name not in known]
    if unknown:
        raise NotFoundError(
            f"No addon named {', '.join(unknown)} on the addons path of {project.root}.",
            hint="Check the module names, or add their folder to odoo.addons_paths.",
        )
    check_installable(known, modules, source.series)
    extra: dict[str, object] = {"demo": demo, **(extra_options or {})}
    if addons_paths is not None:
        extra["addons_path"] = [str(p) for p in paths]
    if data_dir is not None:
        extra["data_dir"] = str(data_dir)
    options = odoo_options(project, source, server, database=database, extra=extra)
    run_dir = data_dir / "run" if data_dir is not None else _run_dir(project)
    run_dir.mkdir(parents=True, exist_ok=True)
    conf = write_conf(run_dir / f"init-{database}.conf", source, options)
    logs = data_dir / "logs" if data_dir is not None else _logs_dir(project)
    log = log_path or logs / f"init-{database}.log"
    argv = for_series(source.series).init_argv(
        runtime, source, conf, database=database, modules=modules, demo=demo
    )
    try:
        run_odoo(argv, runtime, log_path=log, what=f"to initialize {database}", timeout=timeout)
    finally:
        conf.unlink(missing_ok=True)
    missing = sorted(set(modules) - installed_modules(server, database, modules))
    if missing:
        raise CheckFailedError(
            f"Odoo finished but {', '.join(missing)} is not installed in {database}.",
            hint=f"End of {log}:\n{log_tail(log)}",
        )


@dataclass
class OdooProcess:
    """A running Odoo server started by :func:`start_server`."""

    popen: subprocess.Popen[bytes]
    http_port: int
    log_path: Path
    conf_path: Path
    host: str = "127.0.0.1"
    argv: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return log_tail(self.log_path, lines)

    def wait_healthy(self, timeout: float = 120.0) -> None:
        wait_healthy(self.url, timeout, process=self)

    def stop(self, timeout: float = 20.0) -> int:
        """Stop the server and every process it forked (its own process group): SIGTERM
        (Odoo shuts down gracefully), then SIGKILL after ``timeout``."""
        if self.popen.poll() is None:
            _signal_group(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.popen.pid, signal.SIGKILL)
                self.popen.wait(10)
        # Workers of a prefork server may outlive their parent for a moment.
        _signal_group(self.popen.pid, signal.SIGKILL)
        self.conf_path.unlink(missing_ok=True)
        return int(self.popen.returncode)

    def __enter__(self) -> OdooProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def start_server(
    project: Project,
    source: OdooSource,
    runtime: Runtime,
    server: DatabaseServer,
    database: str,
    *,
    http_port: int | None = None,
    log_path: Path | None = None,
    dev: list[str] | None = None,
    extra: Sequence[str] = (),
    extra_options: Mapping[str, object] | None = None,
    extra_addons: Sequence[Path] = (),
) -> OdooProcess:
    """Start an Odoo HTTP server for ``database`` in the background (its own process
    group and log file) and return at once; call :meth:`OdooProcess.wait_healthy`."""
    port = http_port or free_port()
    options = odoo_options(
        project,
        source,
        server,
        database=database,
        http_port=port,
        extra_addons=extra_addons,
        extra=extra_options,
    )
    conf = write_conf(_run_dir(project) / f"server-{database}-{port}.conf", source, options)
    log = log_path or _logs_dir(project) / f"server-{database}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    argv = for_series(source.series).server_argv(runtime, source, conf, dev=dev, extra=extra)
    with log.open("ab") as fh:
        fh.write(f"\n$ {' '.join(argv)}\n".encode())
        fh.flush()
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=runtime.env(),
            cwd=project.root,
            start_new_session=True,
        )
    return OdooProcess(popen=popen, http_port=port, log_path=log, conf_path=conf, argv=argv)


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET ``url``: (status, body); an HTTP error status is returned, not raised."""
    request = urllib.request.Request(url, headers={"User-Agent": "odooplane"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read() or b""


def wait_healthy(
    url: str,
    timeout: float = 120.0,
    *,
    process: OdooProcess | None = None,
    log_path: Path | None = None,
    path: str = HEALTH_PATH,
) -> None:
    """Wait until ``GET url + /web/health`` answers 200. A server that exits first, or
    no answer within ``timeout``, is a CheckFailedError holding the end of its log."""
    target = url.rstrip("/") + path
    log = log_path or (process.log_path if process else None)
    deadline = time.monotonic() + timeout
    last: Any = "no answer"
    while True:
        if process is not None and not process.alive():
            raise CheckFailedError(
                f"Odoo exited with code {process.popen.returncode} before {target} answered.",
                hint=f"End of {log}:\n{log_tail(log)}" if log else None,
            )
        try:
            status, _body = http_get(target, timeout=5.0)
            if status == 200:
                return
            last = f"HTTP {status}"
        except (urllib.error.URLError, OSError) as exc:
            last = getattr(exc, "reason", exc)
        if time.monotonic() >= deadline:
            raise CheckFailedError(
                f"{target} did not answer 200 within {timeout:.0f} s (last: {last}).",
                hint=f"End of {log}:\n{log_tail(log)}" if log else None,
            )
        time.sleep(0.25)
