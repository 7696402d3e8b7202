"""One PostgreSQL server, embedded or external, and how every part of odooplane reaches it.

:class:`DatabaseServer` is the only thing the rest of the code needs to talk to
PostgreSQL: a libpq connection string for psycopg, environment variables for psql and
pg_dump, and the ``db_*`` options for odoo.conf. :func:`server_for` returns the
project's server: the embedded cluster under ``.odooplane/pg`` (started when needed), or
the ``postgresql://`` URL configured in ``database.server`` (self-hosted, managed,
Supabase: anything libpq reaches).
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from odooplane.errors import ConfigError, ExternalToolError, NotFoundError
from odooplane.postgres.binaries import CLIENT_TOOLS, find_binaries
from odooplane.postgres.protection import NO_PROTECTION, Protection

APPLICATION_NAME = "odooplane"

# libpq parameters that have an environment variable, for psql/pg_dump/pg_restore.
_PARAM_ENV = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "channel_binding": "PGCHANNELBINDING",
    "gssencmode": "PGGSSENCMODE",
    "options": "PGOPTIONS",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "passfile": "PGPASSFILE",
}
# Connection keys held in dedicated fields, never in ``params``.
_CORE_KEYS = {"host", "hostaddr", "port", "user", "password", "dbname"}


@dataclass(frozen=True)
class DatabaseServer:
    """Where a PostgreSQL server is and how to log in to it."""

    host: str
    port: int
    user: str
    password: str | None
    bin_dir: Path
    maintenance_db: str = "postgres"
    params: tuple[tuple[str, str], ...] = ()
    embedded: bool = False
    socket_dir: Path | None = field(default=None, compare=False)
    # Databases its operations refuse to replace or remove without force (production's,
    # when the server comes from a project: odooplane.postgres.project_server).
    protection: Protection = field(default=NO_PROTECTION, compare=False, repr=False)

    # -- connection strings -------------------------------------------------------------

    def conninfo(self, dbname: str = "postgres") -> str:
        """libpq connection string (password included) for ``dbname``."""
        values: dict[str, Any] = {
            "host": self.host,
            "port": str(self.port),
            "user": self.user,
            "dbname": dbname,
            **dict(self.params),
        }
        if self.password is not None:
            values["password"] = self.password
        return make_conninfo("", **values)

    def describe(self) -> str:
        """``user@host:port`` for messages: never the password."""
        return f"{self.user}@{self.host}:{self.port}"

    def url(self, dbname: str | None = None, *, redact: bool = True) -> str:
        """A postgresql:// URL; the password is replaced by ``***`` unless ``redact=False``."""
        from urllib.parse import quote, urlencode

        auth = quote(self.user, safe="")
        if self.password is not None:
            auth += ":" + ("***" if redact else quote(self.password, safe=""))
        host = f"[{self.host}]" if ":" in self.host else quote(self.host, safe="")
        query = f"?{urlencode(self.params)}" if self.params else ""
        return f"postgresql://{auth}@{host}:{self.port}/{dbname or self.maintenance_db}{query}"

    def connect(
        self, dbname: str = "postgres", *, autocommit: bool = True
    ) -> psycopg.Connection[Any]:
        """Open a connection; failures become errors that say which server and why."""
        try:
            return psycopg.connect(
                self.conninfo(dbname),
                autocommit=autocommit,
                connect_timeout=int(dict(self.params).get("connect_timeout", "10")),
                application_name=APPLICATION_NAME,
            )
        except psycopg.OperationalError as exc:
            text = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
            if f'database "{dbname}" does not exist' in str(exc):
                raise NotFoundError(
                    f"Database '{dbname}' does not exist on {self.describe()}.",
                    hint="`odooplane db list` shows the databases of this server.",
                ) from None
            refused = "CONNECT privilege" in str(exc) or "authentication failed" in str(exc)
            raise ExternalToolError(
                f"Could not connect to PostgreSQL {self.describe()} (database '{dbname}'): {text}",
                hint=(
                    f"The role '{self.user}' may not open '{dbname}' with these credentials: "
                    "each environment's role opens its own database only."
                    if refused
                    else "Start it with `odooplane db server start`."
                    if self.embedded
                    else "Check database.server in odooplane.yaml and that the server is "
                    "reachable from this machine."
                ),
            ) from None

    def server_version(self) -> int:
        """``server_version_num`` (e.g. 150004)."""
        with self.connect(self.maintenance_db) as conn:
            return int(conn.info.server_version)

    # -- other programs -----------------------------------------------------------------

    def libpq_env(self, dbname: str | None = None) -> dict[str, str]:
        """PG* variables for psql, pg_dump and pg_restore (password included)."""
        env = {"PGHOST": self.host, "PGPORT": str(self.port), "PGUSER": self.user}
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        if dbname is not None:
            env["PGDATABASE"] = dbname
        for key, value in self.params:
            if key in _PARAM_ENV:
                env[_PARAM_ENV[key]] = value
        return env

    def tool_env(self, dbname: str | None = None) -> dict[str, str]:
        """The process environment for a PostgreSQL program: ours, minus stray PG*
        variables (a PGSERVICE or PGDATABASE of the caller must not redirect a restore),
        plus :meth:`libpq_env`."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        base["PGAPPNAME"] = APPLICATION_NAME
        return {**base, **self.libpq_env(dbname)}

    def tool(self, name: str) -> Path:
        """Path of a PostgreSQL program (psql, pg_dump, pg_restore) in :attr:`bin_dir`."""
        path = self.bin_dir / name
        if not path.is_file():
            raise ExternalToolError(
                f"{name} is not in {self.bin_dir}.",
                hint="Install the PostgreSQL client programs or set database.postgres_bin.",
            )
        return path

    def odoo_options(self) -> dict[str, str]:
        """The ``db_*`` options of odoo.conf for this server."""
        options = {
            "db_host": self.host,
            "db_port": str(self.port),
            "db_user": self.user,
            # odoo.conf spells "no password" as False.
            "db_password": self.password if self.password is not None else "False",
        }
        sslmode = dict(self.params).get("sslmode")
        if sslmode:
            options["db_sslmode"] = sslmode
        return options

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_url(
        cls, url: str, *, postgres_bin: str | Path | None = None, bin_dir: Path | None = None
    ) -> DatabaseServer:
        """A server from a ``postgresql://user:password@host:port/dbname?sslmode=...`` URL.

        The URL's database is the maintenance database odooplane connects to for CREATE
        and DROP DATABASE (``postgres`` when absent). Client programs come from
        ``bin_dir``, else ``postgres_bin``, else PATH / ``/usr/lib/postgresql``.
        """
        try:
            values = conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise ConfigError(
                f"database.server is not a valid PostgreSQL URL: {exc}.",
                hint="Write it like postgresql://USER:PASSWORD@HOST:5432/postgres?sslmode=require",
            ) from None
        host = str(values.get("host") or values.get("hostaddr") or "")
        if not host:
            raise ConfigError(
                "database.server has no host.",
                hint="Write it like postgresql://USER:PASSWORD@HOST:5432/postgres",
            )
        port_text = str(values.get("port") or "5432")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(f"database.server has an invalid port '{port_text}'.")
        password = values.get("password")
        params = tuple(sorted((str(k), str(v)) for k, v in values.items() if k not in _CORE_KEYS))
        if bin_dir is None:
            bin_dir = find_binaries(postgres_bin, tools=CLIENT_TOOLS).bin_dir
        return cls(
            host=host,
            port=int(port_text),
            user=str(values.get("user") or getpass.getuser()),
            password=None if password is None else str(password),
            bin_dir=bin_dir,
            maintenance_db=str(values.get("dbname") or "postgres"),
            params=params,
        )
