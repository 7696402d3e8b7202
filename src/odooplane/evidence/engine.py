"""Where the evidence store lives and how to connect to it.

Two backends, one schema name: SQLite (the default, ``<state>/evidence.sqlite``) and
PostgreSQL (any ``postgresql://`` URL, Supabase included). In SQLite the database file is
attached to each connection *as* ``ops``, so every query says ``ops.deployments`` on both
backends and the same SQLAlchemy tables serve them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError

from odooplane.errors import ConfigError

SQLITE_FILENAME = "evidence.sqlite"
# How long a connection attempt to a PostgreSQL store may take before records are
# spooled locally instead: a deployment must not hang on an unreachable evidence server.
CONNECT_TIMEOUT_SECONDS = 5
# SQLite waits this long for another writer (a second odooplane command) to commit.
SQLITE_BUSY_TIMEOUT_MS = 30_000

Backend = Literal["sqlite", "postgresql"]


@dataclass(frozen=True)
class StoreLocation:
    """A resolved ``evidence.url``."""

    backend: Backend
    url: URL
    sqlite_path: Path | None = None

    @property
    def display(self) -> str:
        """The location for messages: never the password."""
        if self.sqlite_path is not None:
            return str(self.sqlite_path)
        return self.url.set(drivername="postgresql").render_as_string(hide_password=True)

    @property
    def password(self) -> str | None:
        return None if self.url.password is None else str(self.url.password)


def resolve_location(configured: str, state_dir: Path) -> StoreLocation:
    """Turn the ``evidence.url`` setting into a location.

    ``sqlite`` means ``<state>/evidence.sqlite``; ``sqlite:///PATH`` names another file;
    ``postgresql://`` (or ``postgres://``) URLs go to PostgreSQL through psycopg 3.
    """
    value = configured.strip()
    if value in ("", "sqlite"):
        path = state_dir / SQLITE_FILENAME
        return StoreLocation("sqlite", make_url("sqlite://"), sqlite_path=path)
    if value.startswith("sqlite:///"):
        path = Path(value[len("sqlite:///") :]).expanduser()
        if not path.is_absolute():
            path = state_dir.parent / path
        return StoreLocation("sqlite", make_url("sqlite://"), sqlite_path=path)
    if value.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        rest = value.split("://", 1)[1]
        try:
            url = make_url(f"postgresql+psycopg://{rest}")
        except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
            raise ConfigError(
                f"evidence.url in odooplane.yaml is not a valid PostgreSQL URL ({exc}).",
                hint="Write it like postgresql://USER:PASSWORD@HOST:5432/DBNAME",
            ) from None
        if not url.host:
            raise ConfigError(
                "evidence.url in odooplane.yaml has no host.",
                hint="Write it like postgresql://USER:PASSWORD@HOST:5432/DBNAME",
            )
        return StoreLocation("postgresql", url)
    raise ConfigError(
        f"evidence.url in odooplane.yaml is '{_hide_password(value)}', which is neither "
        "'sqlite' nor a postgresql:// URL.",
        hint="Use 'sqlite' (the default, a file under .odooplane/) or "
        "postgresql://USER:PASSWORD@HOST:5432/DBNAME (Supabase included).",
    )


def _hide_password(value: str) -> str:
    try:
        return make_url(value).render_as_string(hide_password=True)
    except ArgumentError:
        return value.split("@")[-1] if "@" in value else value


SQLITE_HEADER = b"SQLite format 3\x00"


def check_sqlite_file(path: Path) -> None:
    """Refuse a store path that is a folder or a file other than an SQLite database (an
    empty or missing file is a new store)."""
    if path.is_dir():
        raise ConfigError(
            f"The evidence store {path} (evidence.url) is a folder, not an SQLite file.",
            hint="Point evidence.url at a file, e.g. sqlite:///.odooplane/evidence.sqlite.",
        )
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ConfigError(
            f"The evidence store {path} (evidence.url) cannot be read: {exc.strerror or exc}.",
            hint="Check its permissions.",
        ) from None
    if head and head != SQLITE_HEADER:
        raise ConfigError(
            f"The evidence store {path} (evidence.url) is not an SQLite database.",
            hint="Point evidence.url at the evidence file (or a new path), and move this "
            "file away.",
        )


def create_store_engine(location: StoreLocation) -> Engine:
    if location.sqlite_path is not None:
        check_sqlite_file(location.sqlite_path)
        return _sqlite_engine(location.sqlite_path)
    return sa.create_engine(
        location.url,
        pool_pre_ping=True,
        pool_size=2,
        max_overflow=2,
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "application_name": "odooplane-evidence",
        },
    )


def _sqlite_engine(path: Path) -> Engine:
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine("sqlite://", poolclass=sa.pool.SingletonThreadPool)

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling commits before DDL, which would make
        # migrations non-transactional; take over BEGIN/COMMIT ourselves instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("ATTACH DATABASE ? AS ops", (str(path),))
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            # WAL lets `odooplane logs --follow` read while a deployment writes; FULL
            # makes every commit durable (evidence must survive a power cut).
            cursor.execute("PRAGMA ops.journal_mode = WAL")
            cursor.execute("PRAGMA ops.synchronous = FULL")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        # Writers take the write lock up front: a deferred transaction that reads first
        # and writes later can fail with SQLITE_BUSY instead of waiting its turn.
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine
