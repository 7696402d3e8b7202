"""How an environment's Odoo logs in to PostgreSQL: its own role, its own password.

The password is generated once and kept in ``credentials.json`` (mode 0600) in the
environment's state folder; only ``odoo.conf`` (and a container's or pod's copy of it)
carries it further. It changes only when :func:`rotate` is asked to, or when the state
lost it while the role still exists; either way the change is recorded in that file
(``rotations``: when and why) and shown by ``env status``. A backend that keeps the
password where the environment runs (a cluster's Secret) gives it back to a state that
lost it, so the running Odoo keeps working. odooplane's own login to the
server (a superuser, or a role with CREATEROLE) is never written for an environment.

On a server whose login may not create roles the environment connects with that login,
and :attr:`Login.warning` says so (:mod:`odooplane.postgres.roles`).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from odooplane.environments.context import EnvContext
from odooplane.environments.state import now_iso
from odooplane.fsutil import read_json, write_json_atomic
from odooplane.postgres import roles
from odooplane.postgres.server import DatabaseServer
from odooplane.progress import Progress, report
from odooplane.project import Project

CREDENTIALS_FILE = "credentials.json"


@dataclass(frozen=True)
class Login:
    """The credentials of an environment's Odoo, without the password."""

    environment: str
    role: str
    own_role: bool
    created: bool = False
    rotated: str | None = None
    warning: str | None = None
    rotations: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _path(ctx: EnvContext) -> Path:
    return ctx.dir / CREDENTIALS_FILE


def _load(ctx: EnvContext) -> dict[str, Any]:
    data = read_json(_path(ctx), default={}) or {}
    return data if isinstance(data, dict) else {}


def _save(ctx: EnvContext, data: dict[str, Any]) -> None:
    ctx.dir.mkdir(parents=True, exist_ok=True)
    path = _path(ctx)
    write_json_atomic(path, data)
    os.chmod(path, 0o600)


def _new_password(ctx: EnvContext, data: dict[str, Any], reason: str | None) -> str:
    """A new password saved in ``data`` (a rotation recorded with ``reason``, unless it
    is the first one)."""
    password = roles.new_password()
    rotations = list(data.get("rotations") or [])
    if reason is not None:
        rotations.append({"at": now_iso(), "reason": reason})
    data.update({"password": password, "rotations": rotations[-20:]})
    _save(ctx, data)
    return password


def login(ctx: EnvContext, server: DatabaseServer) -> tuple[DatabaseServer, Login]:
    """``server`` as the environment's Odoo logs in to it, with what was done to get
    there: its role created or brought back to its stored password, its database (when
    it exists) settled as the role's."""
    authority = roles.authority(server)
    if not authority.per_environment:
        warning = authority.warning(server)
        data = _load(ctx)
        if data.get("warning") != warning:
            _save(ctx, {**data, "role": server.user, "warning": warning})
        return server, Login(ctx.name, server.user, own_role=False, warning=warning)
    role = roles.role_for(ctx.database)
    data = _load(ctx)
    password = data.get("password") if data.get("role") == role else None
    rotated: str | None = None
    if not isinstance(password, str) or not password:
        kept = ctx.backend.recorded_password(ctx.name, role)
        if kept:
            # The state was lost where the environment runs on: its Odoo keeps the
            # password it has, and the state gets it back.
            data.update({"role": role, "password": kept})
            data.pop("warning", None)
            data.setdefault("created_at", now_iso())
            _save(ctx, data)
            password = kept
    if not isinstance(password, str) or not password:
        if not data or data.get("warning"):
            reason = None  # the first role of its own
        elif data.get("role") not in (None, role):
            reason = f"the environment's database (and role) is now '{role}'"
        else:
            reason = "the password was missing from the environment's state"
        data["role"] = role
        data.pop("warning", None)
        data.setdefault("created_at", now_iso())
        password = _new_password(ctx, data, reason)
        rotated = reason
    result = roles.ensure_role(server, role, password)
    roles.settle(server, ctx.database, role)
    odoo_server = replace(server, user=role, password=password, maintenance_db=ctx.database)
    info = Login(
        ctx.name,
        role,
        own_role=True,
        created=result.created,
        rotated=rotated,
        rotations=list(data.get("rotations") or []),
    )
    return odoo_server, info


def odoo_server(ctx: EnvContext, server: DatabaseServer) -> DatabaseServer:
    """:func:`login`'s server alone: what odoo.conf and in-database steps use."""
    return login(ctx, server)[0]


def provision(ctx: EnvContext, server: DatabaseServer) -> DatabaseServer:
    """The environment's login with its database ready for it: created empty (with
    Odoo's extensions) when missing, owned by its role. What a container's or a pod's
    init job needs, since the role itself may not create databases."""
    from odooplane.postgres import databases as dbs

    dbs.create_database(server, ctx.database, exist_ok=True)
    return ctx.odoo_server(server)


def rotate(ctx: EnvContext, server: DatabaseServer) -> Login:
    """Give the environment's role a new password (its odoo.conf is rewritten at its
    next start or restart, which the caller does for a running environment)."""
    authority = roles.authority(server)
    if not authority.per_environment:
        return Login(ctx.name, server.user, own_role=False, warning=authority.warning(server))
    role = roles.role_for(ctx.database)
    data = _load(ctx)
    data["role"] = role
    data.setdefault("created_at", now_iso())
    password = _new_password(ctx, data, "rotated on request")
    roles.ensure_role(server, role, password)
    return Login(
        ctx.name,
        role,
        own_role=True,
        rotated="rotated on request",
        rotations=list(data.get("rotations") or []),
    )


def describe(ctx: EnvContext) -> dict[str, Any]:
    """What ``env status`` shows: the role and its rotations, never the password; for
    an environment sharing the server's login, why."""
    data = _load(ctx)
    return {
        "role": data.get("role"),
        "created_at": data.get("created_at"),
        "rotations": list(data.get("rotations") or []),
        "warning": data.get("warning"),
    }


def rotate_credentials(
    project: Project,
    name: str,
    *,
    health_timeout: float | None = None,
    lock_timeout: float | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """``odooplane env rotate-credentials NAME``: a new password for the environment's
    role, recorded with its reason (and in the evidence); a running environment is
    restarted with its new odoo.conf (until then it could not open new connections)."""
    from odooplane.environments import control
    from odooplane.environments.locks import environment_lock
    from odooplane.environments.steps import DEFAULT_HEALTH_TIMEOUT, open_evidence, require_state

    ctx = EnvContext(project, name)
    with environment_lock(project.state_dir, name, timeout=lock_timeout):
        state = require_state(ctx)
        info = rotate(ctx, ctx.server())
        running = state.desired == "running"
        if state.build and info.own_role:
            with (
                open_evidence(project) as evidence,
                evidence.start_deployment(name, git_sha=state.build, kind="credentials") as rec,
            ):
                rec.note(f"password of role '{info.role}' rotated", reason=info.rotated)
    result: dict[str, Any] = {**info.to_dict(), "restarted": False}
    if running and info.own_role:
        report(progress, f"restarting {name} with its new credentials")
        control.restart(
            project,
            name,
            health_timeout=health_timeout or DEFAULT_HEALTH_TIMEOUT,
            lock_timeout=lock_timeout,
            progress=progress,
        )
        result["restarted"] = True
    return result


def retire(ctx: EnvContext, server: DatabaseServer) -> bool:
    """Drop the environment's role once its database is gone (``env destroy``)."""
    if not roles.authority(server).per_environment:
        return False
    return roles.retire_role(server, roles.role_for(ctx.database))
