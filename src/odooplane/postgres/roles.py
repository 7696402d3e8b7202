"""PostgreSQL roles: each environment connects as its own role, owner of its database.

odooplane logs in to the server with an administrative role (the embedded cluster's
superuser, or the role of the ``database.server`` URL) for its own operations only:
creating, cloning, renaming and dropping databases and roles, creating extensions. An
environment's Odoo connects as the role named like its database (``acme_staging`` for
the database ``acme_staging``), which:

- logs in with a generated password (stored 0600 in the environment's state, sent to
  the server only as a SCRAM verifier, never in clear);
- is not a superuser and cannot create databases or roles;
- owns its database and every object inside it, and nothing else: ``CONNECT`` (and
  ``TEMP``, ``CREATE``) are revoked from ``PUBLIC`` on every database odooplane makes,
  so another environment's role cannot even open it.

:func:`settle` makes a database owned by the right role after it was copied in: a clone
of production's database holds tables owned by production's role; settling it for
staging reassigns them (as the administrative role, inside the copy: PostgreSQL's
``REASSIGN OWNED`` would also hand over production's own database, so objects are
reassigned one by one from the catalogs). Snapshots are owned by the administrative
role, closed to connections, so an environment cannot reopen or alter its own rollback
points.

An external server whose role may neither create roles nor is a superuser cannot give
environments roles of their own: :func:`authority` says so, and environments then use
that role, with a warning (docs/security.md).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import psycopg
from psycopg import sql

from odooplane.errors import RefusedError
from odooplane.postgres.identifiers import database_name
from odooplane.postgres.server import DatabaseServer

# COMMENT ON ROLE of the roles odooplane made: a role of the same name made by someone
# else is never taken over.
ENVIRONMENT_MARK = "environment"
TEMPORARY_MARK = "temporary"
TEMPORARY_PREFIX = "_odooplane_tmp_"
# Extensions Odoo uses (trigram indexes, unaccent search), created by odooplane in
# each new database so that Odoo's own role never needs the right to.
ODOO_EXTENSIONS = ("pg_trgm", "unaccent")
SCRAM_ITERATIONS = 4096
# Statements waiting this long for a lock give up instead of hanging a command (a
# settle on a serving database reassigns tables one at a time).
LOCK_TIMEOUT = "30s"
ADMIN_ONLY = "pg_database_owner"


@dataclass(frozen=True)
class Authority:
    """What the server's login role may do about roles."""

    user: str
    superuser: bool
    create_roles: bool

    @property
    def per_environment(self) -> bool:
        """Whether environments can have roles of their own on this server."""
        return self.superuser or self.create_roles

    def warning(self, server: DatabaseServer) -> str | None:
        if self.per_environment:
            return None
        return (
            f"The role '{self.user}' of database.server ({server.describe()}) may not create "
            "roles, so every environment connects as that same role: staging's odoo.conf "
            "opens production's database. Grant it CREATEROLE (or give odooplane a role "
            "that has it) so each environment gets a role of its own."
        )


def authority(server: DatabaseServer) -> Authority:
    with server.connect(server.maintenance_db) as conn:
        return _authority(conn)


def _authority(conn: psycopg.Connection[Any]) -> Authority:
    row = conn.execute(
        "SELECT current_user, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert row is not None
    return Authority(str(row[0]), bool(row[1]), bool(row[2]))


def scram_verifier(password: str, *, salt: bytes | None = None) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for ``password`` (RFC 5802/7677):
    given to ``PASSWORD '...'`` instead of the password itself, so the clear text never
    reaches the server, its logs or ``pg_stat_statements``. Generated passwords are
    ASCII, which SASLprep leaves unchanged."""
    salt = salt or secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, SCRAM_ITERATIONS)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def new_password() -> str:
    return secrets.token_urlsafe(32)


def role_for(database: str) -> str:
    """The role of the environment whose database is ``database``: the same name (roles
    and databases are both unique per server, so one names the other)."""
    return database_name(database)


def _mark(kind: str) -> str:
    return json.dumps({"odooplane": kind}, sort_keys=True)


def _role_row(conn: psycopg.Connection[Any], role: str) -> tuple[bool, str | None] | None:
    row = conn.execute(
        "SELECT rolsuper, shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = %s",
        (role,),
    ).fetchone()
    return None if row is None else (bool(row[0]), row[1])


def _is_ours(comment: str | None, kind: str) -> bool:
    try:
        data = json.loads(comment or "")
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("odooplane") == kind


def environment_role(conn: psycopg.Connection[Any], database: str) -> str | None:
    """The environment role of ``database`` if odooplane made one, else None."""
    found = _role_row(conn, database)
    if found is None or found[0] or not _is_ours(found[1], ENVIRONMENT_MARK):
        return None
    return database


@dataclass(frozen=True)
class RoleResult:
    role: str
    created: bool


def ensure_role(server: DatabaseServer, role: str, password: str) -> RoleResult:
    """Create the environment role ``role`` logging in with ``password``, or bring an
    existing one of ours back to it (login allowed, no privileges beyond its own
    objects). A role of that name that odooplane did not make, a superuser, or the
    server's own login role is refused: it is never taken over."""
    database_name(role, what="role name")
    with server.connect(server.maintenance_db) as conn:
        auth = _authority(conn)
        if not auth.per_environment:
            raise RefusedError(auth.warning(server) or "Roles cannot be created.")
        ident = sql.Identifier(role)
        verifier = sql.Literal(scram_verifier(password))
        found = _role_row(conn, role)
        if role == auth.user or (found is not None and not _is_ours(found[1], ENVIRONMENT_MARK)):
            raise RefusedError(
                f"A PostgreSQL role '{role}' already exists on {server.describe()} and was not "
                "made by odooplane for this environment; it is not taken over.",
                hint=f"Rename the role, or set environments.NAME.database so that the "
                f"environment's database (and role) is not '{role}'.",
            )
        if found is not None and found[0]:
            raise RefusedError(f"The role '{role}' is a superuser; odooplane does not use it.")
        attributes = sql.SQL(
            "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS "
            "CONNECTION LIMIT -1 PASSWORD {}"
        ).format(verifier)
        with conn.transaction():
            if found is None:
                conn.execute(sql.SQL("CREATE ROLE {} {}").format(ident, attributes))
                conn.execute(
                    sql.SQL("COMMENT ON ROLE {} IS {}").format(
                        ident, sql.Literal(_mark(ENVIRONMENT_MARK))
                    )
                )
            else:
                conn.execute(sql.SQL("ALTER ROLE {} {}").format(ident, attributes))
            if not auth.superuser:
                # A role with CREATEROLE manages the objects of the roles it is a member of.
                conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(ident))
        lock_down(conn, server)
        _open_postgres(conn, ident)
    return RoleResult(role, found is None)


def _open_postgres(conn: psycopg.Connection[Any], ident: sql.Identifier) -> None:
    """Let the role connect to ``postgres``. Odoo connects there when it starts with a
    database name, to see whether that database exists
    (``odoo.service.db._create_empty_database``), and stops if it cannot; the database
    holds nothing of any environment. On any server, embedded or not: PUBLIC's CONNECT
    on it may have been revoked (:func:`lock_down`, or by an administrator). A login
    that may not grant it leaves it to PUBLIC."""
    try:
        with conn.transaction():
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE postgres TO {}").format(ident))
    except psycopg.errors.InsufficientPrivilege:
        return


def lock_down(conn: psycopg.Connection[Any], server: DatabaseServer) -> None:
    """On the embedded cluster, nobody but odooplane connects to PostgreSQL's own
    databases (an external server's are its administrator's business)."""
    if not server.embedded:
        return
    for name in ("postgres", "template1"):
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(name)))


def retire_role(server: DatabaseServer, role: str) -> bool:
    """Drop the environment role ``role`` (its database is gone); True when dropped.

    A role still owning something (objects inside a kept snapshot of its database) is
    kept but can no longer log in.
    """
    with server.connect(server.maintenance_db) as conn:
        found = _role_row(conn, role)
        if found is None or found[0] or not _is_ours(found[1], ENVIRONMENT_MARK):
            return False
        ident = sql.Identifier(role)
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE postgres FROM {}").format(ident))
        try:
            conn.execute(sql.SQL("DROP ROLE {}").format(ident))
            return True
        except psycopg.errors.DependentObjectsStillExist:
            conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN PASSWORD NULL").format(ident))
            return False


def close_to_public(conn: psycopg.Connection[Any], database: str) -> None:
    """Revoke what every role gets on a new database (CONNECT, TEMP)."""
    conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database)))


def create_extensions(server: DatabaseServer, database: str) -> list[str]:
    """Create Odoo's extensions in ``database`` as the administrative role; those this
    PostgreSQL does not have are skipped (Odoo works without them, slower)."""
    made: list[str] = []
    with server.connect(database) as conn:
        available = {
            str(r[0])
            for r in conn.execute(
                "SELECT name FROM pg_available_extensions WHERE name = ANY(%s)",
                (list(ODOO_EXTENSIONS),),
            ).fetchall()
        }
        for name in ODOO_EXTENSIONS:
            if name in available:
                conn.execute(
                    sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(name))
                )
                made.append(name)
    return made


@dataclass(frozen=True)
class Settled:
    database: str
    owner: str
    reassigned: int


def settle(server: DatabaseServer, database: str, role: str | None = None) -> Settled:
    """Make ``database`` owned by ``role`` inside and out, and closed to everyone else.

    Without ``role``, the environment role named like the database is used if odooplane
    made one; otherwise the database stays the administrative role's. A database closed
    to connections (a snapshot) belongs to the administrative role, its objects left as
    they are.
    """
    with server.connect(server.maintenance_db) as conn:
        admin = _authority(conn).user
        row = conn.execute(
            "SELECT datallowconn FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if row is None:
            return Settled(database, admin, 0)
        if role is None:
            role = environment_role(conn, database)
        owner = role if role is not None and row[0] else admin
        conn.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(database), sql.Identifier(owner)
            )
        )
        close_to_public(conn, database)
    if role is None or not row[0]:
        return Settled(database, owner, 0)
    with server.connect(database) as conn:
        count = reassign_objects(conn, role)
    return Settled(database, owner, count)


# Objects inside a database that have an owner, and the ALTER that changes it. Members
# of extensions are left to the extension; a table's indexes, its TOAST table, its row
# type and the sequences it owns follow the table.
_USER_NAMESPACES = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp\\_%%'"
)


def _not_extension(catalog: str, oid: str) -> str:
    return (
        f"NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{catalog}'::regclass "
        f"AND d.objid = {oid} AND d.deptype = 'e')"
    )


def _in_namespace(alias: str, namespace: str, catalog: str, owner: str) -> str:
    """The FROM and WHERE of user objects of ``catalog`` not owned by the role."""
    return (
        f"FROM {catalog} {alias} JOIN pg_namespace n ON n.oid = {alias}.{namespace} "
        f"WHERE {_USER_NAMESPACES} AND {alias}.{owner} <> (SELECT oid FROM me) "
        f"AND {_not_extension(catalog, alias + '.oid')}"
    )


_OBJECT_QUERIES = (
    (
        "SCHEMA",
        "SELECT quote_ident(n.nspname) FROM pg_namespace n "
        f"WHERE {_USER_NAMESPACES} AND n.nspowner <> (SELECT oid FROM me) "
        f"AND n.nspowner <> '{ADMIN_ONLY}'::regrole "
        f"AND {_not_extension('pg_namespace', 'n.oid')}",
    ),
    (
        "TABLE",
        "SELECT c.oid::regclass::text "
        + _in_namespace("c", "relnamespace", "pg_class", "relowner")
        + " AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
    ),
    (
        "SEQUENCE",
        "SELECT c.oid::regclass::text "
        + _in_namespace("c", "relnamespace", "pg_class", "relowner")
        + " AND c.relkind = 'S' AND NOT EXISTS (SELECT 1 FROM pg_depend d "
        "WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid "
        "AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))",
    ),
    (
        "ROUTINE",
        "SELECT p.oid::regprocedure::text "
        + _in_namespace("p", "pronamespace", "pg_proc", "proowner"),
    ),
    (
        "TYPE",
        "SELECT t.oid::regtype::text "
        + _in_namespace("t", "typnamespace", "pg_type", "typowner")
        + " AND (t.typtype IN ('e', 'r') OR (t.typtype = 'c' AND "
        "(SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))",
    ),
    (
        "DOMAIN",
        "SELECT t.oid::regtype::text "
        + _in_namespace("t", "typnamespace", "pg_type", "typowner")
        + " AND t.typtype = 'd'",
    ),
    (
        "COLLATION",
        "SELECT quote_ident(n.nspname) || '.' || quote_ident(o.collname) "
        + _in_namespace("o", "collnamespace", "pg_collation", "collowner"),
    ),
    (
        "CONVERSION",
        "SELECT quote_ident(n.nspname) || '.' || quote_ident(o.conname) "
        + _in_namespace("o", "connamespace", "pg_conversion", "conowner"),
    ),
    (
        "TEXT SEARCH CONFIGURATION",
        "SELECT o.oid::regconfig::text "
        + _in_namespace("o", "cfgnamespace", "pg_ts_config", "cfgowner"),
    ),
    (
        "TEXT SEARCH DICTIONARY",
        "SELECT o.oid::regdictionary::text "
        + _in_namespace("o", "dictnamespace", "pg_ts_dict", "dictowner"),
    ),
    (
        "STATISTICS",
        "SELECT quote_ident(n.nspname) || '.' || quote_ident(o.stxname) "
        + _in_namespace("o", "stxnamespace", "pg_statistic_ext", "stxowner"),
    ),
    (
        "LARGE OBJECT",
        "SELECT oid::text FROM pg_largeobject_metadata WHERE lomowner <> (SELECT oid FROM me)",
    ),
)


def _owned_by_others(conn: psycopg.Connection[Any], role: str) -> list[tuple[str, str]]:
    """(kind, name as SQL) of every object in the database not owned by ``role``."""
    found: list[tuple[str, str]] = []
    for kind, query in _OBJECT_QUERIES:
        statement = "WITH me AS (SELECT oid FROM pg_roles WHERE rolname = %s) " + query
        rows = conn.execute(statement, (role,)).fetchall()
        found += [(kind, str(r[0])) for r in rows]
    return found


def reassign_objects(conn: psycopg.Connection[Any], role: str) -> int:
    """Give every object of the connected database to ``role``; returns how many moved.

    In one transaction (one commit, not one per table); a database that is serving (an
    environment settled for the first time) may hold a lock the transaction needs:
    then one ALTER per object, each committed on its own, so Odoo waits a moment for
    one table, never for all of them.
    """
    try:
        with conn.transaction():
            conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal("5s")))
            return _reassign(conn, role, batch=True)
    except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
        conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)))
        return _reassign(conn, role, batch=False)


def _reassign(conn: psycopg.Connection[Any], role: str, *, batch: bool) -> int:
    """``batch`` (inside the caller's transaction): all ALTERs of a round in one round
    trip instead of three each (savepoint, ALTER, release): measured on a copy of the
    reference database (227 objects), 0.13 s instead of 0.23 s, paid by every preview.
    One by one when one of them cannot move alone, or outside a transaction."""
    moved = 0
    target = sql.Identifier(role).as_string(conn)
    for _round in range(3):
        pending = _owned_by_others(conn, role)
        if not pending:
            break
        if batch:
            statements = ";\n".join(
                f"ALTER {kind} {name} OWNER TO {target}" for kind, name in pending
            )
            try:
                with conn.transaction():
                    conn.execute(statements.encode())
                moved += len(pending)
                continue
            except (psycopg.errors.FeatureNotSupported, psycopg.errors.WrongObjectType):
                pass
        for kind, name in pending:
            # Names come from the catalog already quoted (regclass, quote_ident...).
            statement = f"ALTER {kind} {name} OWNER TO {target}"
            try:
                with conn.transaction():
                    conn.execute(statement)
            except (psycopg.errors.FeatureNotSupported, psycopg.errors.WrongObjectType):
                # Moves with another object (a multirange with its range): next round.
                continue
            moved += 1
    return moved


def objects_owned_by_others(server: DatabaseServer, database: str, role: str) -> int:
    """How many objects of ``database`` ``role`` does not own (0 once settled)."""
    with server.connect(database) as conn:
        return len(_owned_by_others(conn, role))


@contextlib.contextmanager
def temporary_owner(server: DatabaseServer, database: str) -> Iterator[DatabaseServer]:
    """A throw-away unprivileged role owning ``database`` (and every object in it) for
    the time of a job that must not run with odooplane's rights: loading an untrusted
    dump (its ``COPY ... TO PROGRAM``, ``CREATE ROLE`` or ``ALTER SYSTEM`` fail), or a
    gate running a build's Odoo code. Afterwards what it owns belongs to the
    administrative role and the role is dropped.

    On a server whose role may not create roles, the job runs as that role.
    """
    with server.connect(server.maintenance_db) as conn:
        auth = _authority(conn)
    if not auth.per_environment:
        yield server
        return
    for stray in stray_temporary_roles(server):
        # Left by a job that died: gone once it owns nothing any more.
        with contextlib.suppress(psycopg.Error), server.connect(server.maintenance_db) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(stray)))
    name = TEMPORARY_PREFIX + secrets.token_hex(6)
    password = new_password()
    ident = sql.Identifier(name)
    # One transaction: a role another job's cleanup may see always owns its database.
    with server.connect(server.maintenance_db) as conn, conn.transaction():
        conn.execute(
            sql.SQL(
                "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                "NOBYPASSRLS PASSWORD {}"
            ).format(ident, sql.Literal(scram_verifier(password)))
        )
        conn.execute(
            sql.SQL("COMMENT ON ROLE {} IS {}").format(ident, sql.Literal(_mark(TEMPORARY_MARK)))
        )
        if not auth.superuser:
            conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(ident))
        conn.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(database), ident)
        )
        close_to_public(conn, database)
        _open_postgres(conn, ident)
    try:
        with server.connect(database) as conn:
            # Before PostgreSQL 15 the public schema belongs to the bootstrap superuser.
            reassign_objects(conn, name)
        yield replace(server, user=name, password=password, maintenance_db=database)
    finally:
        _drop_temporary(server, database, name)


def _drop_temporary(server: DatabaseServer, database: str, name: str) -> None:
    ident = sql.Identifier(name)
    with server.connect(server.maintenance_db) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if exists.fetchone() is not None:
            # Terminate what the dump may have left connected, then take everything back.
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (name,),
            )
            with server.connect(database) as inside:
                inside.execute(sql.SQL("REASSIGN OWNED BY {} TO CURRENT_USER").format(ident))
                inside.execute(sql.SQL("DROP OWNED BY {}").format(ident))
        with contextlib.suppress(psycopg.Error), conn.transaction():
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE postgres FROM {}").format(ident))
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(ident))


def stray_temporary_roles(server: DatabaseServer) -> list[str]:
    """Temporary roles left by a job that died."""
    with server.connect(server.maintenance_db) as conn:
        rows = conn.execute(
            "SELECT rolname, shobj_description(oid, 'pg_authid') FROM pg_roles "
            "WHERE left(rolname, %s) = %s",
            (len(TEMPORARY_PREFIX), TEMPORARY_PREFIX),
        ).fetchall()
    return [str(r[0]) for r in rows if _is_ours(r[1], TEMPORARY_MARK)]
