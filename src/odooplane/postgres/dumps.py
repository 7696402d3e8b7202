"""pg_dump and pg_restore in PostgreSQL's custom format: backups, and copies of a
database that must not be stopped (``CREATE DATABASE ... TEMPLATE`` needs its source
idle; a dump reads one consistent snapshot while the source keeps serving)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from odooplane.errors import ExternalToolError
from odooplane.postgres.databases import create_database, drop_database
from odooplane.postgres.server import DatabaseServer


def _fail(what: str, code: int, stderr: str) -> ExternalToolError:
    tail = "\n".join(stderr.strip().splitlines()[-8:])
    return ExternalToolError(f"{what} failed (exit code {code}):\n{tail}")


def dump_custom(server: DatabaseServer, database: str, path: Path) -> int:
    """Write ``database`` to ``path`` (custom format, no owners); returns its size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        str(server.tool("pg_dump")),
        "--format=custom",
        "--no-owner",
        "--no-privileges",
        f"--file={path}",
        database,
    ]
    done = subprocess.run(
        argv, env=server.tool_env(database), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        path.unlink(missing_ok=True)
        raise _fail(f"Dumping '{database}'", done.returncode, done.stderr)
    return path.stat().st_size


def restore_custom(server: DatabaseServer, path: Path, database: str) -> None:
    """Create ``database`` and load the custom-format dump ``path`` into it; on failure
    the half-loaded database is dropped."""
    create_database(server, database)
    argv = [
        str(server.tool("pg_restore")),
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        f"--dbname={database}",
        str(path),
    ]
    done = subprocess.run(
        argv, env=server.tool_env(database), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        drop_database(server, database, terminate=True, missing_ok=True)
        raise _fail(f"Restoring {path.name} into '{database}'", done.returncode, done.stderr)


def copy_live(server: DatabaseServer, source: str, target: str) -> None:
    """Copy ``source`` into the new ``target`` while ``source`` keeps serving."""
    with tempfile.TemporaryDirectory(prefix="odooplane-copy-") as folder:
        dump = Path(folder) / "copy.dump"
        dump_custom(server, source, dump)
        restore_custom(server, dump, target)
