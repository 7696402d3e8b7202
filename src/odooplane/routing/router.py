"""The front door: every environment is reached through the project's Caddy.

:class:`Router` is the library API. It keeps the routing table, renders Caddy's
configuration from it and applies it through the admin API; Caddy (program ``_router``)
and the wake handler (program ``_waker``) run under the project's supervisord, started
on demand and restarted if they die. Every change is one atomic, graceful configuration
load: requests in flight finish where they started, the next request sees the change.

Layout under the state folder::

    .odooplane/routing/
        routes.json     the routing table (the source of truth)
        caddy.json      the configuration last loaded (Caddy starts from it after a crash)
        caddy.log       Caddy's own log (supervisord's stdout file)
        access/<env>.log  requests per environment (JSON lines); its mtime is the last request
        data/           Caddy's storage (certificates, its internal authority)
        wake/<env>.log  output of the wake command run for <env>
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import filelock

from odooplane.backends.base import ProgramSpec
from odooplane.backends.supervisor import SupervisorBackend, tail
from odooplane.errors import ExternalToolError, NotFoundError, RefusedError, UsageError
from odooplane.fsutil import write_json_atomic
from odooplane.paths import socket_path
from odooplane.project import Project
from odooplane.routing import caddy
from odooplane.routing.caddy import CaddyAdmin, RouterSettings
from odooplane.routing.hosts import normalize_hostname, url_for
from odooplane.routing.table import Route, RouteMode, Upstream, load_table, save_table

CADDY_PROGRAM = "_router"
WAKER_PROGRAM = "_waker"
START_TIMEOUT = 20.0
MIGRATE_SYSCTL = Path("/proc/sys/net/ipv4/tcp_migrate_req")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RouterStatus:
    running: bool
    caddy: str | None
    version: str | None
    admin_socket: str
    pid: int | None
    routes: int
    front: str | None
    waker_running: bool
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Router:
    """The routing of one project (its state folder) through its own Caddy."""

    def __init__(self, state_dir: Path, settings: RouterSettings | None = None) -> None:
        self.state_dir = state_dir
        self.settings = settings or RouterSettings()
        self.dir = state_dir / "routing"
        self.table_path = self.dir / "routes.json"
        self.config_path = self.dir / "caddy.json"
        self.log_path = self.dir / "caddy.log"
        self.access_dir = self.dir / "access"
        self.wake_dir = self.dir / "wake"
        self.storage_dir = self.dir / "data"
        self.backend = SupervisorBackend(state_dir)

    # -- where things are --------------------------------------------------------------

    @property
    def admin_socket(self) -> Path:
        return socket_path(self.dir / "admin.sock", "caddy-admin")

    @property
    def waker_socket(self) -> Path:
        return socket_path(self.dir / "waker.sock", "waker")

    @property
    def admin(self) -> CaddyAdmin:
        return CaddyAdmin(self.admin_socket)

    def access_log(self, env: str) -> Path:
        return self.access_dir / f"{env}.log"

    def wake_log(self, env: str) -> Path:
        return self.wake_dir / f"{env}.log"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Route]]:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = filelock.FileLock(str(self.dir / "routes.lock"))
        try:
            lock.acquire(timeout=120)
        except filelock.Timeout:
            raise RefusedError(
                f"Another odooplane command has been changing the routes in {self.dir} "
                "for two minutes.",
                hint="Wait for it to finish, then try again.",
            ) from None
        try:
            yield load_table(self.table_path)
        finally:
            lock.release()

    # -- reading -----------------------------------------------------------------------

    def routes(self) -> list[Route]:
        """Every route, with the URLs people open."""
        table = load_table(self.table_path)
        return [self._with_urls(table[name]) for name in sorted(table)]

    def get(self, env: str) -> Route | None:
        route = load_table(self.table_path).get(env)
        return self._with_urls(route) if route else None

    def url(self, env: str) -> str | None:
        """The main URL of ``env``: its first hostname, else its own port."""
        route = self.get(env)
        return route.urls[0] if route and route.urls else None

    def _with_urls(self, route: Route) -> Route:
        s = self.settings
        urls = [url_for(h, https=s.front_https, port=s.front_port) for h in route.hostnames]
        if route.listen_port:
            urls.append(url_for(s.public_host, https=False, port=route.listen_port))
        return replace(route, urls=tuple(urls))

    def last_request(self, env: str) -> datetime | None:
        """When a request for ``env`` last went through the router (None: never)."""
        try:
            stamp = self.access_log(env).stat().st_mtime
        except FileNotFoundError:
            return None
        return datetime.fromtimestamp(stamp, tz=timezone.utc)

    def status(self) -> RouterStatus:
        notes: list[str] = []
        binary: Path | None
        try:
            binary = caddy.find_caddy(self.settings.caddy)
        except ExternalToolError as exc:
            binary = None
            notes.append(exc.message)
        running = self.admin.alive()
        process = self.backend.status(CADDY_PROGRAM)
        table = load_table(self.table_path)
        has_front = any(r.hostnames for r in table.values())
        s = self.settings
        front = f"{s.listen or '*'}:{s.front_port} ({s.tls})" if has_front else None
        return RouterStatus(
            running=running,
            caddy=str(binary) if binary else None,
            version=caddy.caddy_version(binary) if binary else None,
            admin_socket=str(self.admin_socket),
            pid=process.pid if running else None,
            routes=len(table),
            front=front,
            waker_running=self.backend.status(WAKER_PROGRAM).running,
            notes=notes + self._migrate_note(fix=False),
        )

    # -- the processes -----------------------------------------------------------------

    def _migrate_note(self, *, fix: bool) -> list[str]:
        """Caddy swaps configurations on SO_REUSEPORT sockets: when the old socket closes,
        connections still queued on it are reset unless the kernel migrates them
        (``net.ipv4.tcp_migrate_req``, Linux 5.14+). Measured: 14 resets in 100 reloads
        under load without it, none in 300 with it."""
        try:
            value = MIGRATE_SYSCTL.read_text().strip()
        except OSError:
            return []
        if value == "1":
            return []
        if fix and os.geteuid() == 0:
            try:
                MIGRATE_SYSCTL.write_text("1\n")
                return [
                    "Set net.ipv4.tcp_migrate_req=1 so configuration changes drop no "
                    "connection (persist it in /etc/sysctl.d/)."
                ]
            except OSError:
                pass
        return [
            "net.ipv4.tcp_migrate_req is 0: a configuration change may reset a few "
            "connections under load. Set it to 1 (sysctl -w net.ipv4.tcp_migrate_req=1)."
        ]

    def _caddy_spec(self, binary: Path) -> ProgramSpec:
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(self.dir),
            "XDG_DATA_HOME": str(self.storage_dir),
            "XDG_CONFIG_HOME": str(self.dir / "config"),
        }
        return ProgramSpec(
            name=CADDY_PROGRAM,
            argv=[str(binary), "run", "--config", str(self.config_path)],
            cwd=self.dir,
            env=env,
            log_file=self.log_path,
            stop_wait_seconds=30,
            start_seconds=1,
            log_max_bytes="5MB",
        )

    def _waker_spec(self) -> ProgramSpec:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
        }
        for key in ("ODOOPLANE_CACHE_DIR", "ODOOPLANE_FORBID_REAL_STATE", "ODOOPLANE_PORT_RANGE"):
            if os.environ.get(key):
                env[key] = os.environ[key]
        return ProgramSpec(
            name=WAKER_PROGRAM,
            argv=[
                sys.executable,
                "-m",
                "odooplane.routing.waker",
                "--state-dir",
                str(self.state_dir),
                "--socket",
                str(self.waker_socket),
            ],
            cwd=self.dir,
            env=env,
            log_file=self.dir / "waker.log",
            stop_wait_seconds=10,
            start_seconds=1,
            log_max_bytes="5MB",
        )

    def _render(self, table: dict[str, Route]) -> dict[str, Any]:
        return caddy.render(
            table,
            self.settings,
            admin_socket=self.admin_socket,
            waker_socket=self.waker_socket,
            access_dir=self.access_dir,
            storage_dir=self.storage_dir,
        )

    def _start_caddy(self, config: dict[str, Any]) -> list[str]:
        binary = caddy.find_caddy(self.settings.caddy)
        notes = self._migrate_note(fix=True)
        for folder in (self.access_dir, self.storage_dir, self.admin_socket.parent):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.admin_socket.unlink(missing_ok=True)
        write_json_atomic(self.config_path, config)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.backend.define(self._caddy_spec(binary))
        self.backend.start(CADDY_PROGRAM)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.admin.alive():
                return notes
            state = self.backend.status(CADDY_PROGRAM)
            if state.state in ("FATAL", "EXITED", "BACKOFF"):
                break
            time.sleep(0.05)
        self.backend.stop(CADDY_PROGRAM)
        raise ExternalToolError(
            f"Caddy ({binary}) did not start: {self._log_reason(offset)}",
            hint=f"Its log is {self.log_path}.",
        )

    def _log_reason(self, offset: int) -> str:
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(offset)
                text = fh.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return "it wrote no log."
        for line in reversed(text.splitlines()):
            if '"error"' in line or line.startswith("Error"):
                return line.strip()[-600:]
        return (tail(self.log_path, 5) or "it wrote no log.").strip()

    def _ensure_waker(self, table: dict[str, Route]) -> None:
        if not any(r.wakes for r in table.values()):
            return
        if self.backend.status(WAKER_PROGRAM).running:
            return
        self.wake_dir.mkdir(parents=True, exist_ok=True)
        self.backend.define(self._waker_spec())
        self.backend.start(WAKER_PROGRAM)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as sock:
                sock.connect(str(self.waker_socket))
                return
            time.sleep(0.05)
        raise ExternalToolError(
            f"odooplane's wake handler did not start: {tail(self.dir / 'waker.log', 5)}",
            hint=f"Its log is {self.dir / 'waker.log'}.",
        )

    def _apply(self, table: dict[str, Route]) -> list[str]:
        """Make Caddy serve ``table`` (starting it if needed), then record it."""
        config = self._render(table)
        notes: list[str] = []
        if self.admin.alive():
            self.admin.load(config)
        elif table:
            notes = self._start_caddy(config)
        write_json_atomic(self.config_path, config)
        save_table(self.table_path, table)
        self._ensure_waker(table)
        return notes

    def ensure(self) -> RouterStatus:
        """Caddy runs and serves the routing table (idempotent; after a reboot too)."""
        with self._locked() as table:
            notes = self._apply(table)
        status = self.status()
        return replace(status, notes=notes + status.notes)

    def stop(self) -> None:
        """Stop Caddy and the wake handler; the routing table stays for the next start."""
        self.backend.stop(WAKER_PROGRAM)
        self.backend.stop(CADDY_PROGRAM)

    # -- changing routes ---------------------------------------------------------------

    def _check_owners(self, table: dict[str, Route], route: Route) -> None:
        for other in table.values():
            if other.env == route.env:
                continue
            taken = set(other.hostnames) & set(route.hostnames)
            if taken:
                raise RefusedError(
                    f"The hostname {sorted(taken)[0]} already belongs to environment "
                    f"'{other.env}'; it cannot also route to '{route.env}'.",
                    hint=f"Remove the route of '{other.env}' first, or choose another name.",
                )
            if route.listen_port and other.listen_port == route.listen_port:
                raise RefusedError(
                    f"Port {route.listen_port} is already the address of environment "
                    f"'{other.env}'; it cannot also be the address of '{route.env}'.",
                )
        s = self.settings
        front_ports = {s.http_port, s.https_port}
        if route.listen_port and route.listen_port in front_ports:
            raise RefusedError(
                f"Port {route.listen_port} of environment '{route.env}' is the router's own "
                "hostname port (routing.http_port / routing.https_port).",
                hint="Give the environment another port.",
            )

    def _change(self, env: str, build: Any) -> Route:
        with self._locked() as table:
            route = build(table.get(env))
            route = replace(route, updated_at=_now())
            self._check_owners(table, route)
            table[env] = route
            self._apply(table)
            return self._with_urls(route)

    def route(
        self,
        env: str,
        *,
        listen_port: int | None,
        hostnames: Sequence[str] = (),
        upstream: Upstream | None,
        wake_command: Sequence[str] | None = None,
    ) -> Route:
        """Create or replace the route of ``env`` in ``serve`` mode.

        ``listen_port`` is the environment's own address on ``public_host`` (None: only
        its hostnames); ``upstream`` where its Odoo listens. ``wake_command`` (argv) is
        run by the wake handler when the upstream does not answer; None keeps the one
        already recorded. Refused when another environment owns a hostname or the port.
        """
        names = tuple(dict.fromkeys(normalize_hostname(h) for h in hostnames))
        if listen_port is None and not names:
            raise UsageError(f"A route for '{env}' needs a port or a hostname.")
        if upstream is None and not wake_command:
            raise UsageError(f"A route for '{env}' needs an upstream or a wake command.")

        def build(current: Route | None) -> Route:
            wake = (
                tuple(wake_command)
                if wake_command is not None
                else (current.wake_command if current else ())
            )
            return Route(
                env=env,
                listen_port=listen_port,
                hostnames=names,
                upstream=upstream,
                mode=RouteMode.serve if upstream is not None else RouteMode.waking,
                wake_command=wake,
            )

        return self._change(env, build)

    def _existing(self, current: Route | None, env: str) -> Route:
        if current is None:
            raise NotFoundError(
                f"Environment '{env}' has no route.",
                hint="Start the environment (it gets its route then).",
            )
        return current

    def switch_upstream(self, env: str, upstream: Upstream) -> Upstream | None:
        """Send ``env``'s next requests to ``upstream``, atomically; return the previous one.

        Requests already accepted finish on the old upstream, so stop the old Odoo only
        after this returns (Odoo's own graceful stop then drains what it still serves).
        Maintenance mode is left as it is (ended by ``maintenance(env, on=False)``).
        """
        previous: list[Upstream | None] = [None]

        def build(current: Route | None) -> Route:
            route = self._existing(current, env)
            previous[0] = route.upstream
            mode = RouteMode.maintenance if route.mode is RouteMode.maintenance else RouteMode.serve
            return replace(route, upstream=upstream, mode=mode)

        self._change(env, build)
        return previous[0]

    def maintenance(
        self, env: str, on: bool, *, retry_after: int = 30, message: str | None = None
    ) -> Route:
        """Answer every request of ``env`` with a 503 maintenance page (``Retry-After``),
        or end that and serve the upstream again."""
        if retry_after < 1:
            raise UsageError(f"retry_after must be at least 1 second, not {retry_after}.")

        def build(current: Route | None) -> Route:
            route = self._existing(current, env)
            if on:
                return replace(
                    route, mode=RouteMode.maintenance, retry_after=retry_after, message=message
                )
            mode = RouteMode.serve if route.upstream else RouteMode.waking
            return replace(route, mode=mode, message=None)

        return self._change(env, build)

    def waking(self, env: str, wake_command: Sequence[str] | None = None) -> Route:
        """Hand every request of ``env`` to the wake handler, which runs its wake command
        (once) and answers with a page that reloads itself until the environment serves."""

        def build(current: Route | None) -> Route:
            route = self._existing(current, env)
            wake = tuple(wake_command) if wake_command is not None else route.wake_command
            if not wake:
                raise UsageError(f"Environment '{env}' has no wake command: pass one to waking().")
            return replace(route, mode=RouteMode.waking, upstream=None, wake_command=wake)

        return self._change(env, build)

    def remove(self, env: str) -> bool:
        """Remove ``env``'s route (idempotent); True when there was one."""
        if env not in load_table(self.table_path):
            return False
        with self._locked() as table:
            if env not in table:
                return False
            del table[env]
            self._apply(table)
        for leftover in (self.wake_log(env), self.access_log(env)):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        return True


def router_for(project: Project) -> Router:
    """The router of ``project``, with the settings of its ``routing`` section."""
    return Router(project.state_dir, settings_for(project))


def settings_for(project: Project) -> RouterSettings:
    routing = project.config.routing
    return RouterSettings(
        caddy=routing.caddy,
        listen=routing.listen,
        http_port=routing.http_port,
        https_port=routing.https_port,
        tls=routing.tls,
    )
