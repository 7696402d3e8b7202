"""Finding PostgreSQL programs: the configured folder, then PATH, then distribution folders."""

from __future__ import annotations

import functools
import glob
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from odooplane.errors import ConfigError, ExternalToolError

SERVER_TOOLS: tuple[str, ...] = ("initdb", "pg_ctl", "postgres")
CLIENT_TOOLS: tuple[str, ...] = ("psql", "pg_dump", "pg_restore")

# Where distributions install versioned server binaries (Debian/Ubuntu, RHEL/PGDG, source).
_VERSIONED_GLOBS = ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin")
_FIXED_DIRS = ("/usr/local/pgsql/bin",)


@dataclass(frozen=True)
class PostgresBinaries:
    """A folder holding PostgreSQL programs, and their version."""

    bin_dir: Path
    version: tuple[int, int]

    @property
    def major(self) -> int:
        return self.version[0]

    def tool(self, name: str) -> Path:
        return self.bin_dir / name


def _has_tools(folder: Path, tools: Sequence[str]) -> bool:
    return all(os.access(folder / tool, os.X_OK) and (folder / tool).is_file() for tool in tools)


@functools.lru_cache(maxsize=32)
def tool_version(executable: Path) -> tuple[int, int] | None:
    """(major, minor) printed by ``executable --version``, or None if it cannot run."""
    try:
        out = subprocess.run(
            [str(executable), "--version"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?", out) or re.search(
        r"(\d+)(?:\.(\d+))?", out
    )
    if not match:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


def _version_key(folder: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", folder)) or (0,)


def _candidates(tools: Sequence[str]) -> Iterator[Path]:
    found = shutil.which(tools[0])
    if found:
        # A symlink on PATH (e.g. /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb)
        # points at the folder where its siblings live; a wrapper script (Debian's
        # pg_wrapper) does not, so the PATH folder itself is the second choice.
        yield Path(found).resolve().parent
        yield Path(found).parent
    for pattern in _VERSIONED_GLOBS:
        yield from (Path(p) for p in sorted(glob.glob(pattern), key=_version_key, reverse=True))
    yield from (Path(p) for p in _FIXED_DIRS)


def find_binaries(
    configured: str | Path | None = None,
    *,
    tools: Sequence[str] = SERVER_TOOLS,
    min_major: int | None = None,
) -> PostgresBinaries:
    """The first folder holding every program of ``tools``.

    ``configured`` (the config's ``database.postgres_bin``) wins when given and must be
    right. Otherwise PATH is searched, then ``/usr/lib/postgresql/*/bin`` from the highest
    version down. With ``min_major`` (pg_dump must be at least as new as the server it
    dumps) a folder of that version or newer is preferred.
    """
    if configured is not None:
        folder = Path(configured).expanduser()
        if not _has_tools(folder, tools):
            missing = [t for t in tools if not (folder / t).is_file()]
            raise ConfigError(
                f"database.postgres_bin is '{configured}', but it lacks {', '.join(missing)}.",
                hint="Point database.postgres_bin at the folder holding "
                f"{', '.join(tools)} (e.g. /usr/lib/postgresql/16/bin), or remove it to "
                "let odooplane search PATH and /usr/lib/postgresql.",
            )
        version = tool_version(folder / tools[0])
        if version is None:
            raise ExternalToolError(f"{folder / tools[0]} --version did not run.")
        return PostgresBinaries(folder, version)

    fallback: PostgresBinaries | None = None
    seen: set[Path] = set()
    for folder in _candidates(tools):
        if folder in seen or not _has_tools(folder, tools):
            continue
        seen.add(folder)
        version = tool_version(folder / tools[0])
        if version is None:
            continue
        found = PostgresBinaries(folder, version)
        if min_major is None or version[0] >= min_major:
            return found
        if fallback is None or version > fallback.version:
            fallback = found
    if fallback is not None:
        return fallback
    raise ExternalToolError(
        f"No PostgreSQL programs ({', '.join(tools)}) found on PATH or in "
        "/usr/lib/postgresql/*/bin.",
        hint="Install PostgreSQL (e.g. `apt-get install postgresql`), or set "
        "database.postgres_bin in odooplane.yaml to the folder holding them.",
    )
