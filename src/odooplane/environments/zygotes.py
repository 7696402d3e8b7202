"""Warm Odoo parents previews are forked from (:mod:`odooplane.odoo.zygote`).

A cold ``odoo-bin`` spends about a second importing Odoo before it opens its database;
a preview is waited for by a person. So for each Odoo (runtime and source revision)
previews run, the project's supervisord keeps one *zygote* (program ``_zygote-KEY``,
as the unprivileged Odoo user) that imported Odoo and the Odoo-source addons the
previews have installed. A preview's program runs ``zygote.py run`` with odoo-bin's
arguments instead of odoo-bin: the zygote forks a child that serves with the preview's
own odoo.conf (its role, port, database), environment and log, so nothing of what makes
environments apart is shared; the child is supervised through ``run`` (signals
forwarded, exit code passed on). Without a zygote ready, ``run`` starts odoo-bin cold,
so a zygote is an accelerator, never a dependency: it is started (not waited for) when
a preview starts, and ``preview gc`` removes the ones no program uses any more.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from odooplane.backends.base import ProgramSpec
from odooplane.config import EnvironmentKind
from odooplane.environments.builds import Build, build_addons_path, runtime_of, source_of
from odooplane.environments.context import EnvContext
from odooplane.errors import OdooplaneError, RefusedError
from odooplane.odoo import zygote
from odooplane.odoo.addons import discover_addons
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.source import OdooSource
from odooplane.paths import MAX_SOCKET_PATH
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project

PREFIX = "_zygote-"
SCRIPT = Path(zygote.__file__)


@dataclass(frozen=True)
class Zygote:
    """The warm parent of one Odoo: runtime and source revision."""

    key: str
    program: str
    folder: Path
    socket: Path

    def client_argv(self, runtime: Runtime, odoo_argv: list[str]) -> list[str]:
        """What the process manager runs instead of ``runtime.python odoo-bin ...``."""
        return [
            str(runtime.python),
            str(SCRIPT),
            "run",
            "--socket",
            str(self.socket),
            "--",
            *odoo_argv,
        ]


def used(ctx: EnvContext) -> bool:
    """Previews on this machine's supervisord start through a zygote."""
    return ctx.kind is EnvironmentKind.preview and ctx.backend.kind == "local"


def zygote_for(project: Project, b: Build) -> Zygote:
    runtime, source = runtime_of(b), source_of(b)
    seed = f"{runtime.python}\n{source.path.resolve()}\n{b.odoo_revision}"
    key = hashlib.sha256(seed.encode()).hexdigest()[:12]
    folder = project.state_dir / "zygotes" / key
    sock = folder / "sock"
    if len(str(sock)) > MAX_SOCKET_PATH:
        # Deep project folders: a short folder of its own (the Odoo user owns it).
        digest = hashlib.sha256(str(folder).encode()).hexdigest()[:16]
        sock = Path("/tmp") / f"odooplane-zygote-{digest}" / "sock"
    return Zygote(key=key, program=PREFIX + key, folder=folder, socket=sock)


def ensure(ctx: EnvContext, b: Build, installed: Callable[[], set[str]]) -> Zygote:
    """The zygote for ``b``'s Odoo, started when it is not running (not waited for: the
    preview starting now runs cold if it is not ready yet)."""
    from odooplane.odoo import sysuser

    z = zygote_for(ctx.project, b)
    if ctx.backend.status(z.program).running:
        return z
    runtime, source = runtime_of(b), source_of(b)
    for folder in dict.fromkeys((z.folder, z.socket.parent)):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if folder.is_symlink() or not folder.is_dir():
            raise RefusedError(f"{folder} is not a folder of odooplane's: no warm Odoo there.")
        user = sysuser.odoo_user()
        if user is not None:
            sysuser.own(user, folder)
            sysuser.grant_path(user, folder)
    user = sysuser.odoo_user()
    if user is not None:
        for path in (SCRIPT, *source.addons_dirs()):
            sysuser.grant_path(user, path)
    preload = _preloadable(ctx.project, b, source, installed())
    argv = [
        str(runtime.python),
        str(SCRIPT),
        "serve",
        "--socket",
        str(z.socket),
        "--odoo-path",
        str(source.path),
        "--preload",
        ",".join(preload),
    ]
    ctx.backend.define(
        ProgramSpec(
            name=z.program,
            argv=argv,
            cwd=z.folder,
            env=runtime.env(base={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}),
            log_file=z.folder / "zygote.log",
            stop_wait_seconds=5,
            start_seconds=1,
            unprivileged=True,
        )
    )
    ctx.backend.start(z.program)
    return z


def warm_parent(ctx: EnvContext, b: Build, server: DatabaseServer) -> Zygote | None:
    """The warm Odoo environment ``ctx`` starts from (started for the next starts when
    missing, its preload read from the environment's database); None when it starts
    cold: not a preview, or the zygote could not be set up."""
    if not used(ctx):
        return None

    def installed() -> set[str]:
        with ctx.odoo_server(server).connect(ctx.database) as conn:
            rows = conn.execute(
                "SELECT name FROM ir_module_module WHERE state = 'installed'"
            ).fetchall()
        return {str(row[0]) for row in rows}

    try:
        return ensure(ctx, b, installed)
    except OdooplaneError:
        # An accelerator, never a dependency: the preview starts cold.
        return None


def _preloadable(project: Project, b: Build, source: OdooSource, installed: set[str]) -> list[str]:
    """Installed addons that come from the Odoo source and that this build does not
    override (a child whose configuration overrides one starts cold anyway)."""
    source_dirs = {d.resolve() for d in source.addons_dirs()}
    own_dirs = [p for p in build_addons_path(project, b) if p.resolve() not in source_dirs]
    overridden = set(discover_addons(own_dirs))
    standard = discover_addons(source.addons_dirs())
    return sorted(n for n in installed if n in standard and n not in overridden)


def prune(project: Project) -> list[str]:
    """Remove the zygotes no program of the project runs through; returns their names."""
    from odooplane.backends.supervisor import SupervisorBackend

    backend = SupervisorBackend(project.state_dir)
    programs = backend.programs()
    users = " ".join(
        backend.launcher_path(p).read_text(errors="replace")
        for p in programs
        if not p.startswith("_") and backend.launcher_path(p).exists()
    )
    removed = []
    for program in programs:
        if program.startswith(PREFIX):
            sock = zygote_for_key(project, program[len(PREFIX) :])
            if sock is None or str(sock) not in users:
                backend.remove(program)
                removed.append(program)
    return removed


def zygote_for_key(project: Project, key: str) -> Path | None:
    """The socket a zygote's program serves (read from its definition)."""
    from odooplane.backends.supervisor import SupervisorBackend

    launcher = SupervisorBackend(project.state_dir).launcher_path(PREFIX + key)
    try:
        text = launcher.read_text(errors="replace")
    except FileNotFoundError:
        return None
    parts = text.split()
    for index, part in enumerate(parts):
        if part == "--socket" and index + 1 < len(parts):
            return Path(parts[index + 1].strip("'\""))
    return None
