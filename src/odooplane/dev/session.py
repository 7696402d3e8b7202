"""``odooplane dev``: a development environment served in the foreground with hot reload.

:func:`prepare_dev` makes sure of PostgreSQL, the Odoo source, the runtime, the mail
catcher and the development database (each step timed, resumable). :class:`DevSession`
then serves it with the warm pre-forked Odoo (:mod:`odooplane.dev.warm`), watches the
project (:mod:`odooplane.dev.watcher`), applies the reload plan of each batch of changes
(:mod:`odooplane.dev.reloader`) and tells open browser tabs (:mod:`odooplane.dev.livereload`).
Everything it reports goes through one ``on_event(kind, message, data)`` callback; the
command line renders it.
"""

from __future__ import annotations

import contextlib
import queue
import shlex
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from odooplane.dev.livereload import LiveReloadServer
from odooplane.dev.reloader import Plan, plan_for
from odooplane.dev.warm import ReloadResult, WarmOdoo, error_summary, listening_socket
from odooplane.dev.watcher import Change, ChangeClassifier, keep_watching, watch_changes
from odooplane.environments import credentials, sessions
from odooplane.environments.context import EnvContext
from odooplane.environments.prepare import (
    PreparedEnvironment,
    development_environment,
    prepare_environment,
)
from odooplane.errors import OdooplaneError, RefusedError
from odooplane.odoo.addons import discover_addons, project_addons_paths
from odooplane.odoo.process import odoo_options, write_conf
from odooplane.odoo.series import for_series
from odooplane.ports import free_port
from odooplane.progress import Progress
from odooplane.project import Project, load_project

LIVERELOAD_ADDON = "odooplane_livereload"
_UPGRADE = "upgrade"
DEFAULT_PORT = 8069

# (kind, message, data): kinds are "change", "reload", "error", "migrate", "browser",
# "restart", "odoo" (a notable line Odoo printed), "info".
EventCallback = Callable[[str, str, dict[str, Any]], None]


def livereload_addons_dir() -> Path:
    """The folder holding the dev-only addon, put on the addons path by ``odooplane dev``."""
    return Path(str(resources.files("odooplane") / "dev" / "addon"))


DevContext = PreparedEnvironment
"""What a dev session serves: :func:`prepare_dev`'s result."""


def prepare_dev(
    project: Project,
    env_name: str | None = None,
    *,
    progress: Progress | None = None,
    mail: bool = True,
    livereload: bool = True,
) -> PreparedEnvironment:
    """Make sure of everything the development environment needs (the one start-up path,
    :func:`~odooplane.environments.prepare.prepare_environment`) and record it in the
    state folder. A new database also holds the live-reload addon (an existing one gets
    it installed by the first generation)."""
    name = development_environment(project, env_name)
    prepared = prepare_environment(
        project,
        name,
        mail=mail,
        extra_addons=[livereload_addons_dir()] if livereload else (),
        extra_modules=[LIVERELOAD_ADDON] if livereload else (),
        progress=progress,
    )
    # The warm Odoo connects with the environment's own role, like every environment's
    # Odoo: an addon under development reaches its database and no other. The login
    # settles what earlier installs made with odooplane's login on the role.
    prepared.odoo_login = credentials.odoo_server(EnvContext(project, name), prepared.server)
    sessions.record_environment(prepared)
    return prepared


@dataclass
class DevSession:
    """A running ``odooplane dev``: warm Odoo, watcher, live reload."""

    context: DevContext
    port: int | None = None
    auto_upgrade: bool = False
    livereload: bool = True
    on_event: EventCallback | None = None
    odoo: WarmOdoo | None = None
    sse: LiveReloadServer | None = None
    sock: socket.socket | None = None
    pending_update: set[str] = field(default_factory=set)
    pending_install: set[str] = field(default_factory=set)
    installed: set[str] = field(default_factory=set)
    history: list[dict[str, Any]] = field(default_factory=list)
    # Batches of changed paths under the given folders until the event is set.
    watch: Callable[[list[Path], threading.Event], Iterable[set[Path]]] = watch_changes
    _classifier: ChangeClassifier | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _batches: queue.Queue[set[Path] | str | None] = field(default_factory=queue.Queue)
    _watch_thread: threading.Thread | None = None
    _restart_paths: tuple[Path, ...] = ()
    _schema_pending: bool = False
    _recorded: bool = False  # the state records this session as serving

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self.sock is not None
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    @property
    def livereload_url(self) -> str | None:
        return self.sse.url if self.sse else None

    @property
    def log_path(self) -> Path:
        ctx = self.context
        return ctx.project.state_dir / "logs" / f"dev-{ctx.environment}.log"

    def _conf_path(self) -> Path:
        """The environment's odoo.conf, where every command on it looks for it."""
        from odooplane.environments.state import StateStore

        ctx = self.context
        return StateStore(ctx.project.state_dir).env_dir(ctx.environment) / "odoo.conf"

    def start(self, timeout: float = 600.0) -> ReloadResult:
        """Bind the port, start the live-reload server and the first Odoo generation
        (installing the live-reload addon on first use), then start watching."""
        self.sock = _bind(self.port)
        if self.livereload:
            self.sse = LiveReloadServer().start()
        self._refresh_installed()
        install = (
            []
            if (not self.livereload or LIVERELOAD_ADDON in self.installed)
            else [LIVERELOAD_ADDON]
        )
        self.odoo = self._new_odoo()
        try:
            result = self.odoo.start(install=install, timeout=timeout)
        except BaseException:
            self.stop()
            raise
        if install:
            self._refresh_installed()
        self._classifier = self._new_classifier()
        self._start_watching()
        try:
            notes = sessions.begin(
                self.context,
                url=self.url,
                http_port=int(self.sock.getsockname()[1]),
                generation=result.gen,
                log=str(self.log_path),
                livereload_url=self.livereload_url,
                stop=self.stop,
            )
        except BaseException:
            self.stop()
            raise
        self._recorded = True
        for note in notes:
            self._emit("info", note, {})
        self._emit(
            "reload",
            f"Odoo serves {self.url} (imports {self.odoo.started_seconds:.2f} s, "
            f"ready in {result.seconds:.1f} s)",
            result.to_dict(),
        )
        return result

    def stop(self) -> None:
        """Stop watching, Odoo (every process), the live-reload server; close the port;
        the environment is recorded as stopped."""
        if self._recorded:
            self._recorded = False
            sessions.end(self.context.project, self.context.environment)
        self._stop.set()
        self._batches.put(None)
        if self.odoo is not None:
            self.odoo.stop()
        if self.sse is not None:
            self.sse.stop()
            self.sse = None
        if self._watch_thread is not None:
            self._watch_thread.join(5)
        if self.sock is not None:
            self.sock.close()
        if self.context.mail_started:
            from odooplane.mailcatcher import stop_catcher

            stop_catcher(self.context.project.state_dir)
            self.context.mail_started = False

    def __enter__(self) -> DevSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run(self, stop: threading.Event | None = None) -> None:
        """Apply changes as they come until ``stop`` is set (or the session stops)."""
        while not self._stop.is_set() and not (stop and stop.is_set()):
            try:
                batch = self._batches.get(timeout=0.5)
            except queue.Empty:
                if self.odoo is not None and not self.odoo.alive():
                    raise OdooplaneError(
                        "The Odoo process stopped unexpectedly.",
                        hint=f"See {self.odoo.log_path}.",
                    ) from None
                continue
            if batch is None:
                return
            try:
                if batch == _UPGRADE:
                    self.apply_pending()
                elif isinstance(batch, set):
                    self.handle(batch)
            except OdooplaneError as exc:
                if self.odoo is None or not self.odoo.alive():
                    raise
                # A generation that timed out or a config that cannot load: the serving
                # generation is untouched, so say why and keep going.
                self._emit("error", f"{exc.message} — still serving the last good code", {})

    def request_upgrade(self) -> None:
        """Ask :meth:`run` to apply the proposed upgrades (safe from any thread)."""
        self._batches.put(_UPGRADE)

    # -- changes -------------------------------------------------------------------------

    def handle(self, paths: set[Path]) -> Plan:
        """Classify ``paths``, then restart, upgrade, or tell the browser, as the plan says."""
        assert self._classifier is not None and self.odoo is not None
        started = time.monotonic()
        changes = self._classifier.classify_batch(paths)
        plan = plan_for(changes, installed=self.installed, to_install=self.pending_install)
        if plan.empty:
            return plan
        self._emit("change", _describe(changes), {"changes": [c.to_dict() for c in changes]})
        if plan.restart_all:
            self._restart_all(plan, started)
            return plan
        update, install = set(plan.update), set(plan.install)
        if plan.needs_migration and not self.auto_upgrade:
            self.pending_update |= update
            self.pending_install |= install
            self._emit("migrate", self.migration_hint(), {"reasons": plan.reasons})
            update, install = set(), set()
            # New columns without their upgrade would break every read of the model:
            # keep the current generation until the developer says to upgrade.
            if any(c.kind.value == "schema" for c in changes):
                self._schema_pending = True
                return plan
        elif self._schema_pending and plan.restart_python and not self.auto_upgrade:
            # A schema change still waits for its upgrade: code reloaded without it would
            # read columns that do not exist yet.
            self._emit("migrate", "still " + self.migration_hint(), {"reasons": plan.reasons})
            return plan
        if plan.restart_python or update or install:
            result = self.odoo.reload(check=plan.check_files, update=update, install=install)
            self._after_reload(result, started, update, install)
            if not result.ok:
                return plan
        if plan.browser:
            self._browser(plan.browser, started)
        return plan

    def apply_pending(self) -> ReloadResult | None:
        """Run the upgrades/installs proposed so far (the developer said yes)."""
        assert self.odoo is not None
        if not (self.pending_update or self.pending_install):
            return None
        started = time.monotonic()
        update, install = set(self.pending_update), set(self.pending_install)
        self._emit("migrate", f"upgrading {', '.join(sorted(update | install))} …", {})
        result = self.odoo.reload(update=update, install=install)
        self._after_reload(result, started, update, install)
        if result.ok:
            self.pending_update.clear()
            self.pending_install.clear()
            self._browser("reload", started)
        return result

    def migration_hint(self) -> str:
        parts = []
        if self.pending_update:
            parts.append(f"upgrade {', '.join(sorted(self.pending_update))}")
        if self.pending_install:
            parts.append(f"install {', '.join(sorted(self.pending_install))}")
        profile = for_series(self.context.source.series)
        conf = self._conf_path()
        argv = profile.update_argv(
            self.context.runtime,
            self.context.source,
            conf,
            database=self.context.database,
            install=sorted(self.pending_install),
            update=sorted(self.pending_update),
        )
        return (
            f"needs {' and '.join(parts)}: press u + Enter here, run `odooplane dev "
            f"--auto-upgrade` to do it by itself, or run {shlex.join(argv)}"
        )

    # -- internals -----------------------------------------------------------------------

    def _after_reload(
        self, result: ReloadResult, started: float, update: set[str], install: set[str]
    ) -> None:
        elapsed = time.monotonic() - started
        entry = {**result.to_dict(), "total_seconds": round(elapsed, 3)}
        self.history.append(entry)
        if result.ok:
            what = "reloaded"
            if update or install:
                what = f"upgraded {', '.join(sorted(update | install))} and reloaded"
                self._refresh_installed()
            # Announce before clearing what was pending: whoever watches the pending sets
            # then finds the event already there.
            self._emit("reload", f"{what} in {elapsed:.2f} s (generation {result.gen})", entry)
            self._record_generation(result.gen)
            if update or install:
                self.pending_update -= update
                self.pending_install -= install
                if not self.pending_update:
                    self._schema_pending = False
        elif not self._stop.is_set():  # a generation killed by Ctrl-C is no error
            # Still to do: with --auto-upgrade nothing else would remember a new addon
            # whose install failed, and the save that fixes it must install it.
            self.pending_update |= update
            self.pending_install |= install
            where = f"{result.file}:{result.line}: " if result.file else ""
            first = error_summary(result.error) or "failed"
            self._emit(
                "error",
                f"{where}{first} — still serving the last good code",
                entry,
            )

    def _record_generation(self, gen: int) -> None:
        if self._recorded:
            sessions.update(self.context.project, self.context.environment, gen)

    def _browser(self, event: str, started: float) -> None:
        if self.sse is None:
            return
        clients = self.sse.publish(event, {"at": time.time()})
        self._emit(
            "browser",
            f"{'stylesheets swapped' if event == 'css' else 'page reload'} sent to "
            f"{clients} tab(s) in {time.monotonic() - started:.2f} s",
            {"event": event, "clients": clients},
        )

    def _restart_all(self, plan: Plan, started: float) -> None:
        assert self.odoo is not None
        reason = "; ".join(plan.reasons) or "configuration changed"
        self._emit("restart", f"restarting: {reason}", {"reasons": plan.reasons})
        try:
            project = load_project(self.context.project.root)
            env_name = development_environment(project, self.context.environment)
        except OdooplaneError as exc:
            self._emit("error", f"{exc.message} — still serving the previous configuration", {})
            return
        self.context.project = project
        self.context.environment = env_name
        old = self.odoo
        new = self._new_odoo()
        try:
            result = new.start(timeout=600)
        except OdooplaneError as exc:
            self._emit("error", f"{exc.message} — still serving the previous configuration", {})
            return
        self.odoo = new
        old.stop()
        self._classifier = self._new_classifier()
        self._restart_watching()
        elapsed = time.monotonic() - started
        self.history.append({**result.to_dict(), "total_seconds": round(elapsed, 3)})
        self._record_generation(result.gen)
        self._emit("reload", f"restarted in {elapsed:.2f} s ({reason})", result.to_dict())
        self._browser("reload", started)

    def _new_odoo(self) -> WarmOdoo:
        ctx = self.context
        env = ctx.project.config.environments[ctx.environment]
        extra: dict[str, object] = dict(env.odoo_options)
        if ctx.mail:
            extra.update({"smtp_server": ctx.mail[0], "smtp_port": ctx.mail[1]})
        assert self.sock is not None
        port = int(self.sock.getsockname()[1])
        options = odoo_options(
            ctx.project,
            ctx.source,
            ctx.odoo_login or ctx.server,
            database=ctx.database,
            http_port=port,
            extra_addons=[livereload_addons_dir()] if self.livereload else [],
            extra=extra,
        )
        conf = self._conf_path()
        conf.parent.mkdir(parents=True, exist_ok=True)
        write_conf(conf, ctx.source, options)
        profile = for_series(ctx.source.series)
        args = ["-c", str(conf)]
        dev = profile.dev_value(profile.dev_for_watcher, strict=False)
        if dev:
            args.append(f"--dev={dev}")
        base_env = _env_file_values(ctx.project, ctx.environment)
        process_env = ctx.runtime.env()
        process_env.update(base_env)
        if self.sse is not None:
            process_env["ODOOPLANE_LIVERELOAD_URL"] = self.sse.url
        return WarmOdoo(
            python=ctx.runtime.python,
            odoo_path=ctx.source.path,
            odoo_args=args,
            database=ctx.database,
            sock=self.sock,
            env=process_env,
            log_path=self.log_path,
            preload=self._preloadable(),
            on_output=self._odoo_line,
            cwd=ctx.project.root,
        )

    def _preloadable(self) -> list[str]:
        """Installed addons that come from the Odoo source: their Python never changes
        under a dev session, so the warm parent imports it once for every generation."""
        source_addons = discover_addons(self.context.source.addons_dirs())
        project_names = set(discover_addons(project_addons_paths(self.context.project)))
        return sorted(
            name for name in self.installed if name in source_addons and name not in project_names
        )

    def _refresh_installed(self) -> None:
        with self.context.server.connect(self.context.database) as conn:
            rows = conn.execute(
                "SELECT name FROM ir_module_module WHERE state = 'installed'"
            ).fetchall()
        self.installed = {str(row[0]) for row in rows}

    def _new_classifier(self) -> ChangeClassifier:
        ctx = self.context
        return ChangeClassifier(
            project_addons_paths(ctx.project), _config_files(ctx.project, ctx.environment)
        )

    def _watched_paths(self) -> list[Path]:
        ctx = self.context
        paths = [
            *project_addons_paths(ctx.project),
            *_config_files(ctx.project, ctx.environment),
        ]
        # Watch the files' folders for config files: editors replace them by renaming.
        folders = list(dict.fromkeys((p.parent if p.suffix else p).resolve() for p in paths))
        return [f for f in folders if not any(o != f and f.is_relative_to(o) for o in folders)]

    def _start_watching(self) -> None:
        self._watch_stop = threading.Event()
        paths = tuple(self._watched_paths())
        self._restart_paths = paths
        stop = self._watch_stop

        def loop() -> None:
            keep_watching(
                lambda: self.watch(list(paths), stop),
                self._batches.put,
                stop,
                on_crash=self._watcher_crashed,
                stopped=self._stop.is_set,
            )

        self._watch_thread = threading.Thread(target=loop, daemon=True, name="odooplane-watch")
        self._watch_thread.start()
        # watchfiles needs a moment to register its watches; an edit before that is lost.
        time.sleep(0.3)

    def _watcher_crashed(self, exc: Exception, crashes: int) -> None:
        self._emit(
            "error",
            f"The file watcher failed ({type(exc).__name__}: {exc}); restarting it "
            "(changes saved meanwhile may need saving again).",
            {"watcher_crashes": crashes},
        )

    def _restart_watching(self, *, force: bool = False) -> None:
        if not force and tuple(self._watched_paths()) == self._restart_paths:
            return
        self._watch_stop.set()
        if self._watch_thread is not None:
            self._watch_thread.join(5)
        self._start_watching()

    def _odoo_line(self, line: str) -> None:
        if " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback"):
            self._emit("odoo", line, {})

    def _emit(self, kind: str, message: str, data: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(kind, message, data)


def _bind(port: int | None) -> socket.socket:
    if port is None:
        try:
            return listening_socket(DEFAULT_PORT)
        except OSError:
            return listening_socket(free_port())
    try:
        return listening_socket(port)
    except OSError as exc:
        raise RefusedError(
            f"Port {port} is already taken on 127.0.0.1 ({exc.strerror}).",
            hint="Pick another with --port, or leave it out to use 8069 or a free one.",
        ) from None


def _config_files(project: Project, env_name: str) -> list[Path]:
    files = [project.config_path]
    env = project.config.environments.get(env_name)
    if env is not None and env.env_file:
        files.append(project.root / env.env_file)
    return files


def _env_file_values(project: Project, env_name: str) -> dict[str, str]:
    from odooplane.envfile import read_env_file

    env = project.config.environments[env_name]
    if not env.env_file:
        return {}
    path = project.root / env.env_file
    return read_env_file(path) if path.is_file() else {}


def _describe(changes: Sequence[Change]) -> str:
    names = [f"{c.path.name} ({c.kind.value})" for c in changes[:4]]
    more = f" and {len(changes) - 4} more" if len(changes) > 4 else ""
    return ", ".join(names) + more


@contextlib.contextmanager
def dev_session(
    context: DevContext,
    *,
    port: int | None = None,
    auto_upgrade: bool = False,
    livereload: bool = True,
    on_event: EventCallback | None = None,
) -> Iterator[DevSession]:
    """A started :class:`DevSession` applying changes in a background thread, stopped
    (every process) on exit. The command line runs :meth:`DevSession.run` in the
    foreground instead."""
    session = DevSession(
        context, port=port, auto_upgrade=auto_upgrade, livereload=livereload, on_event=on_event
    )
    session.start()
    runner = threading.Thread(target=session.run, daemon=True, name="odooplane-dev")
    runner.start()
    try:
        yield session
    finally:
        session.stop()
        runner.join(10)
