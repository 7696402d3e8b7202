"""Dump files: recognising them, loading them into a database, writing Odoo backups.

Formats are recognised by their first bytes, never by the file name:

- ``zip``: Odoo's backup (``dump.sql`` plain SQL + ``filestore/`` + ``manifest.json``);
- ``custom`` / ``tar``: pg_dump's ``-Fc`` / ``-Ft`` archives, loaded with pg_restore;
- ``sql``: plain SQL from pg_dump, loaded with psql (``ON_ERROR_STOP``: a dump that fails
  half way is an error, not a half database);
- ``sql.gz`` / ``custom.gz``: the same, gzip-compressed, decompressed on the fly.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Any

from odooplane.errors import ExternalToolError, NotFoundError, RefusedError, UsageError
from odooplane.postgres.server import DatabaseServer
from odooplane.progress import Progress, report

CHUNK = 1024 * 1024
# The lines of a plain SQL script that matter here: the start and end of COPY data
# (inside it nothing is a statement), \connect, and COMMENT ON EXTENSION.
# A table-of-contents line of pg_restore --list: "1234; 0 0 COMMENT - EXTENSION pg_trgm".
_EXTENSION_COMMENT_RE = re.compile(r"^\d+; \d+ \d+ COMMENT - EXTENSION ")
_SCRIPT_LINE_RE = re.compile(
    rb"^(?:(?P<copy>COPY [^\n]* FROM stdin;)|(?P<end>\\\.)"
    rb"|(?P<comment>COMMENT ON EXTENSION [^\n]*;)|(?P<connect>\\c(?:onnect)?(?:[ \t][^\n]*)?))"
    rb"\r?$",
    re.M,
)
FORMATS = ("zip", "custom", "tar", "sql", "sql.gz", "custom.gz")
# An Odoo backup expands its dump.sql about 5-30 times and its filestore (images,
# PDFs) hardly at all; a zip expanding more than this as a whole is a zip bomb.
MAX_ZIP_RATIO = 200
# Below this a ratio says nothing (a tiny dump.sql of repeated INSERTs compresses well).
ZIP_RATIO_FLOOR = 64 * 1024 * 1024
MAX_ZIP_MEMBERS = 2_000_000
# Room kept free on the disk after an extraction: PostgreSQL and Odoo need some too.
DISK_MARGIN = 256 * 1024 * 1024
# pg_dump's plain output starts and ends with these lines: a dump that has the first
# and not the last was cut short (a copy interrupted, a disk full while dumping).
_DUMP_HEADER = b"-- PostgreSQL database dump"
_DUMP_FOOTER = b"-- PostgreSQL database dump complete"


def detect_format(path: Path) -> str:
    """One of :data:`FORMATS`, from the file's content."""
    if not path.exists():
        raise NotFoundError(f"Dump file {path} does not exist.")
    if not path.is_file():
        raise UsageError(
            f"{path} is not a regular file (a folder, a device or a pipe), so not a dump.",
            hint="Give the path of a .sql, .sql.gz, pg_dump archive or Odoo backup .zip.",
        )
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            if "dump.sql" not in zf.namelist():
                raise UsageError(
                    f"{path} is a zip file without dump.sql, so not an Odoo backup.",
                    hint="Odoo backups hold dump.sql, filestore/ and manifest.json.",
                )
        return "zip"
    with path.open("rb") as fh:
        head = fh.read(8192)
    if head.startswith(b"PGDMP"):
        return "custom"
    if head.startswith(b"\x1f\x8b"):
        try:
            with gzip.open(path, "rb") as gz:
                inner = gz.read(8192)
        except (OSError, EOFError) as exc:
            raise UsageError(
                f"{path} is gzip-compressed but truncated or corrupt ({exc}).",
                hint="Copy or download it again, completely.",
            ) from None
        if inner.startswith(b"PGDMP"):
            return "custom.gz"
        if _looks_like_text(inner):
            return "sql.gz"
        raise UsageError(f"{path} is gzip-compressed, but neither SQL nor a pg_dump archive.")
    if len(head) >= 262 and head[257:262] == b"ustar" and tarfile.is_tarfile(path):
        with tarfile.open(path) as tf:
            if "toc.dat" in tf.getnames():
                return "tar"
    if _looks_like_text(head):
        return "sql"
    raise UsageError(
        f"{path} is not a dump odooplane recognises.",
        hint="Use plain SQL (.sql or .sql.gz), pg_dump -Fc output, or an Odoo backup .zip.",
    )


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        return exc.start >= len(head) - 4
    return True


# -- loading -----------------------------------------------------------------------------


def check_zip(path: Path, zf: zipfile.ZipFile, *, room: Path | None) -> None:
    """Refuse a zip that is not a plain Odoo backup: a symbolic link among its entries,
    more entries than any filestore holds, or an expansion that is a zip bomb (a sane
    ratio exceeded) or would not fit in the free space of ``room`` (the filestores'
    disk). Declared sizes are what :mod:`zipfile` enforces while reading, so checking
    them up front is exact."""
    members = zf.infolist()
    if len(members) > MAX_ZIP_MEMBERS:
        raise UsageError(
            f"{path} holds {len(members)} entries, more than an Odoo backup ever does; "
            "refusing to extract it."
        )
    for member in members:
        mode = member.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise UsageError(
                f"{path} holds a symbolic link '{member.filename}'; an Odoo backup holds "
                "plain files only, so it is refused (a link could point anywhere on this "
                "machine).",
                hint="Export the backup again with Odoo or `odooplane db export`.",
            )
    expanded = sum(m.file_size for m in members)
    packed = max(1, sum(m.compress_size for m in members))
    if expanded > ZIP_RATIO_FLOOR and expanded / packed > MAX_ZIP_RATIO:
        raise UsageError(
            f"{path} would expand from {_human(packed)} to {_human(expanded)} "
            f"({expanded // packed}:1), more than an Odoo backup does (at most "
            f"{MAX_ZIP_RATIO}:1): refused as a zip bomb.",
            hint="If it is a genuine backup, unzip it yourself and import its dump.sql.",
        )
    if room is not None:
        folder = room
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        free = shutil.disk_usage(folder).free
        if expanded + DISK_MARGIN > free:
            raise UsageError(
                f"{path} expands to {_human(expanded)}, and the disk of {folder} has "
                f"{_human(free)} free: refusing to fill it.",
                hint="Free disk space, or import on a machine with room for the backup.",
            )


def _human(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


def _safe_member(name: str) -> PurePosixPath | None:
    """The path below ``filestore/`` of a zip member, or None for anything suspicious."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name:
        return None
    return PurePosixPath(*path.parts[1:]) if len(path.parts) > 1 else None


class _ConnectFound(Exception):
    pass


class _Script:
    """Plain SQL on its way to psql, read line by line (in C, by one regex over each
    chunk) and aware of COPY data:

    - ``\\connect`` outside COPY data stops the load (it would send the rest of the
      script to another database);
    - ``COMMENT ON EXTENSION`` lines are dropped: odooplane created Odoo's extensions
      beforehand, and the unprivileged role loading the dump does not own them.
    """

    def __init__(self) -> None:
        self.carry = b""
        self.in_copy = False

    def feed(self, chunk: bytes, *, final: bool = False) -> bytes:
        data = self.carry + chunk
        if final:
            complete, self.carry = data, b""
        else:
            cut = data.rfind(b"\n") + 1
            complete, self.carry = data[:cut], data[cut:]
        kept: list[bytes] = []
        start = 0
        for match in _SCRIPT_LINE_RE.finditer(complete):
            if self.in_copy:
                self.in_copy = match.group("end") is None
                continue
            if match.group("copy"):
                self.in_copy = True
            elif match.group("connect"):
                raise _ConnectFound
            elif match.group("comment"):
                kept.append(complete[start : match.start()])
                start = match.end() + (complete[match.end() : match.end() + 1] == b"\n")
        kept.append(complete[start:])
        return b"".join(kept)


def _run_feeding(
    command: list[str],
    env: dict[str, str],
    stream: IO[bytes],
    *,
    position: Callable[[], int],
    total: int,
    phase: str,
    progress: Progress | None,
    what: str,
    guard_connect: bool = False,
    source: Path | None = None,
) -> None:
    """Run ``command`` with ``stream`` on its stdin; errors carry its last stderr lines.

    With ``guard_connect`` (plain SQL for psql) a ``\\connect`` meta-command stops the load:
    it would send the rest of the script to another database than the one being loaded.
    A line starting with a backslash cannot be COPY data (which escapes it), so the test
    is exact.

    A compressed stream that ends early, or plain SQL that starts like pg_dump's output
    and lacks its last line, is a truncated dump: the program is killed before the
    end of its input, so its single transaction is rolled back and nothing is loaded.
    """
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors, env=env
        )
        assert proc.stdin is not None
        tail = b"\n"
        head = b""
        script = _Script() if guard_connect else None
        try:
            while chunk := _read(stream, what, source):
                if len(head) < 256:
                    head += chunk[:256]
                tail = (tail + chunk)[-256:]
                if script is not None:
                    chunk = _guarded(script, chunk, what)
                try:
                    proc.stdin.write(chunk)
                except BrokenPipeError:
                    break  # the program stopped early: its exit code and stderr say why
                if progress:
                    report(progress, phase, position(), total)
            else:
                if script is not None and _DUMP_HEADER in head and _DUMP_FOOTER not in tail:
                    raise UsageError(
                        f"{what}: the dump is truncated (it starts like pg_dump's output but "
                        "does not end with its '-- PostgreSQL database dump complete' line); "
                        "nothing was loaded.",
                        hint="Copy or dump it again, completely.",
                    )
                if script is not None:
                    with contextlib.suppress(BrokenPipeError):
                        proc.stdin.write(_guarded(script, b"", what, final=True))
            proc.stdin.close()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        code = proc.wait()
        errors.seek(0)
        text = errors.read().decode(errors="replace")
    if code != 0:
        _fail(what, command[0], code, text)


def _guarded(script: _Script, chunk: bytes, what: str, *, final: bool = False) -> bytes:
    try:
        return script.feed(chunk, final=final)
    except _ConnectFound:
        raise UsageError(
            f"{what}: the SQL switches to another database with \\connect (a dump made "
            "with pg_dump --create or pg_dumpall); refusing to run it.",
            hint="Dump the single database without --create, e.g. "
            "pg_dump --no-owner DBNAME > dump.sql.",
        ) from None


def _read(stream: IO[bytes], what: str, source: Path | None) -> bytes:
    """The next chunk of a dump; a compressed stream that ends early or is corrupt is a
    sentence (an EOFError would otherwise reach the command line as 'Aborted.')."""
    try:
        return stream.read(CHUNK)
    except (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile) as exc:
        name = source or "the dump"
        raise UsageError(
            f"{what}: {name} is truncated or corrupt ({exc}); nothing was loaded.",
            hint="Copy or download it again, completely.",
        ) from None


def _privileged(detail: str) -> str | None:
    """What the dump tried that only a superuser may do, from PostgreSQL's error."""
    low = detail.lower()
    if "external program" in low or "pg_execute_server_program" in low:
        return "it tries to run a program on the database server (COPY ... PROGRAM)"
    role_words = ("create role", "alter role", "superusers", "superuser role", "attribute")
    if any(word in low for word in role_words):
        return "it tries to create or change a role"
    if "permission denied to create extension" in low or "must be owner of extension" in low:
        return (
            "it needs an extension only a superuser may create (odooplane creates pg_trgm "
            "and unaccent itself)"
        )
    if "pg_read_server_files" in low or "pg_write_server_files" in low:
        return "it tries to read or write files of the database server"
    if "must be superuser" in low or "permission denied to set parameter" in low:
        return "it needs superuser rights"
    if "permission denied for language" in low or ("language" in low and "untrusted" in low):
        return "it creates functions in an untrusted language"
    return None


def _fail(what: str, program: str, code: int, stderr: str) -> None:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    interesting = [line for line in lines if "ERROR" in line or "error" in line] or lines
    detail = "\n".join(interesting[-5:]) or f"exit code {code}"
    hint = None
    if "role" in detail and "does not exist" in detail:
        hint = (
            "The dump assigns objects to a role this server does not have: dump with "
            "--no-owner (Odoo's backups do), or create that role first."
        )
    refused = _privileged(detail)
    if refused is not None:
        raise RefusedError(
            f"{what}: {refused}; dumps are loaded by an unprivileged role, so the dump was "
            f"refused and nothing was loaded.\n{detail}",
            hint="Load only dumps you trust to be plain data (pg_dump --no-owner "
            "--no-privileges of one Odoo database).",
        )
    raise ExternalToolError(
        f"{what} failed ({Path(program).name} exit {code}):\n{detail}", hint=hint
    )


def _load_env(server: DatabaseServer, dbname: str) -> dict[str, str]:
    env = server.tool_env(dbname)
    # Not waiting for each commit's WAL flush is safe here: the database is only renamed
    # into place by a later, synchronous commit, which flushes all WAL before it.
    options = "-c client_min_messages=warning -c synchronous_commit=off"
    env["PGOPTIONS"] = (env.get("PGOPTIONS", "") + " " + options).strip()
    return env


def _psql(server: DatabaseServer, dbname: str) -> tuple[list[str], dict[str, str]]:
    # One transaction: one WAL flush instead of one per statement, and CREATE DATABASE
    # (a dump made with --create) fails instead of creating another database.
    command = [
        str(server.tool("psql")),
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "--single-transaction",
        "-d",
        dbname,
    ]
    return command, _load_env(server, dbname)


def _pg_restore(
    server: DatabaseServer, dbname: str, *, listing: Path | None = None
) -> tuple[list[str], dict[str, str]]:
    """pg_restore of an archive: from a file with the table of contents ``listing``
    (without the comments on extensions, whose owner is odooplane, not the loading
    role), or from a stream without any comment (a stream cannot be listed first)."""
    command = [
        str(server.tool("pg_restore")),
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        "--dbname",
        dbname,
        *(["--use-list", str(listing)] if listing is not None else ["--no-comments"]),
    ]
    return command, _load_env(server, dbname)


def _restore_file(
    server: DatabaseServer, path: Path, dbname: str, progress: Progress | None
) -> None:
    """pg_restore of a custom/tar archive, progress counted in table-of-contents items."""
    listing = subprocess.run(
        [str(server.tool("pg_restore")), "--list", str(path)],
        capture_output=True,
        text=True,
        env=server.tool_env(),
    )
    if listing.returncode != 0:
        _fail(f"Reading {path}", "pg_restore", listing.returncode, listing.stderr)
    entries = [
        line
        for line in listing.stdout.splitlines()
        if line and not line.startswith(";") and not _EXTENSION_COMMENT_RE.search(line)
    ]
    total = len(entries)
    with (
        tempfile.NamedTemporaryFile("w", suffix=".list") as kept,
        tempfile.TemporaryFile() as errors,
    ):
        kept.write("\n".join(entries) + "\n")
        kept.flush()
        command, env = _pg_restore(server, dbname, listing=Path(kept.name))
        proc = subprocess.Popen(
            [*command, "--verbose", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert proc.stderr is not None
        done = 0
        for raw in proc.stderr:
            errors.write(raw)
            line = raw.decode(errors="replace")
            if line.startswith(("pg_restore: creating ", "pg_restore: processing ")):
                done += 1
                if progress:
                    report(progress, "restoring", min(done, total), total)
        code = proc.wait()
        errors.seek(0)
        text = errors.read().decode(errors="replace")
    if code != 0:
        _fail(f"Restoring {path}", command[0], code, text)


class _Counting:
    """A readable file whose raw position (compressed bytes consumed) is observable."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw

    def position(self) -> int:
        return self.raw.tell()


def load(
    server: DatabaseServer,
    path: Path,
    kind: str,
    dbname: str,
    *,
    filestore_dir: Path | None,
    progress: Progress | None = None,
) -> None:
    """Load dump ``path`` of format ``kind`` into the existing empty database ``dbname``;
    an Odoo zip's filestore is extracted to ``filestore_dir`` (skipped when None)."""
    size = path.stat().st_size
    if kind in ("custom", "tar"):
        _restore_file(server, path, dbname, progress)
        return
    if kind in ("sql", "sql.gz", "custom.gz"):
        command, env = _psql(server, dbname) if kind != "custom.gz" else _pg_restore(server, dbname)
        with path.open("rb") as raw:
            counter = _Counting(raw)
            stream: IO[bytes] = (
                gzip.GzipFile(fileobj=raw) if kind.endswith(".gz") else raw  # type: ignore[assignment]
            )
            _run_feeding(
                command,
                env,
                stream,
                position=counter.position,
                total=size,
                phase="loading",
                progress=progress,
                what=f"Importing {path}",
                guard_connect=kind != "custom.gz",
                source=path,
            )
        return
    if kind != "zip":
        raise UsageError(f"Unknown dump format '{kind}'.")
    with zipfile.ZipFile(path) as zf:
        check_zip(path, zf, room=filestore_dir.parent if filestore_dir is not None else None)
        if filestore_dir is not None:
            _extract_filestore(zf, filestore_dir, progress)
        info = zf.getinfo("dump.sql")
        command, env = _psql(server, dbname)
        with zf.open(info) as member:
            _run_feeding(
                command,
                env,
                member,
                position=member.tell,
                total=info.file_size,
                phase="loading dump.sql",
                progress=progress,
                what=f"Importing dump.sql of {path}",
                guard_connect=True,
                source=path,
            )


def _extract_filestore(zf: zipfile.ZipFile, target: Path, progress: Progress | None) -> None:
    members = [m for m in zf.infolist() if m.filename.startswith("filestore/") and not m.is_dir()]
    total = sum(m.file_size for m in members)
    done = 0
    for member in members:
        relative = _safe_member(member.filename)
        if relative is None:
            raise UsageError(
                f"The backup holds a suspicious path '{member.filename}'; refusing to extract it."
            )
        out = target.joinpath(*relative.parts)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            # O_EXCL + O_NOFOLLOW: a name given twice, or a file standing where a folder
            # of another entry goes, is refused rather than followed or overwritten.
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        except (FileExistsError, NotADirectoryError):
            raise UsageError(
                f"The backup holds '{member.filename}' twice, or as both a file and a "
                "folder; refusing to extract it."
            ) from None
        with zf.open(member) as src, os.fdopen(fd, "wb") as dst:
            while chunk := _read(src, "Extracting the filestore", None):
                dst.write(chunk)
        done += member.file_size
        if progress:
            report(progress, "extracting filestore", done, total)
    if not members:
        return


# -- writing Odoo backups ------------------------------------------------------------------


def odoo_manifest(
    server: DatabaseServer, database: str, db_name: str | None = None
) -> dict[str, Any]:
    """manifest.json as Odoo's ``dump_db_manifest`` writes it, read from ``database``
    (``db_name`` is the name written into it, by default the same)."""
    with server.connect(database) as conn:
        version_num = int(conn.info.server_version)
        modules: dict[str, str | None] = {}
        row = conn.execute("SELECT to_regclass('ir_module_module')").fetchone()
        if row and row[0]:
            modules = dict(
                conn.execute(
                    "SELECT name, latest_version FROM ir_module_module WHERE state = 'installed'"
                ).fetchall()
            )
    base = modules.get("base") or ""
    parts = base.split(".")
    series = ".".join(parts[:2]) if len(parts) >= 2 else None
    version_info: list[Any] | None = None
    if series:
        major, minor = series.split(".")[:2]
        version_info = [int(major) if major.isdigit() else major, int(minor), 0, "final", 0, ""]
    return {
        "odoo_dump": "1",
        "db_name": db_name or database,
        "version": series,
        "version_info": version_info,
        "major_version": series,
        # Odoo formats server_version (e.g. 150018) as "15.0".
        "pg_version": f"{version_num // 10000}.{(version_num // 100) % 100}",
        "modules": modules,
    }


def _walk_files(folder: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(dirpath) / name


def write_odoo_zip(
    server: DatabaseServer,
    database: str,
    target: Path,
    *,
    filestore_dir: Path | None,
    expected_bytes: int = 0,
    progress: Progress | None = None,
    db_name: str | None = None,
) -> tuple[dict[str, Any], int]:
    """Write the Odoo backup of ``database`` to ``target`` (atomically: built beside it,
    renamed at the end). Returns (manifest, number of filestore files)."""
    manifest = odoo_manifest(server, database, db_name)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, partial_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".partial", dir=target.parent
    )
    os.close(fd)
    partial = Path(partial_name)
    files = 0
    try:
        with zipfile.ZipFile(
            partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6, allowZip64=True
        ) as zf:
            _dump_into(server, database, zf, expected_bytes, progress)
            if filestore_dir is not None and filestore_dir.is_dir():
                entries = list(_walk_files(filestore_dir))
                for number, file in enumerate(entries, 1):
                    zf.write(file, "filestore/" + file.relative_to(filestore_dir).as_posix())
                    if progress:
                        report(progress, "adding filestore", number, len(entries))
                files = len(entries)
            zf.writestr("manifest.json", json.dumps(manifest, indent=4))
        os.chmod(partial, 0o600)
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return manifest, files


def _dump_into(
    server: DatabaseServer,
    database: str,
    zf: zipfile.ZipFile,
    expected_bytes: int,
    progress: Progress | None,
) -> None:
    command = [str(server.tool("pg_dump")), "--no-owner", database]
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=errors, env=server.tool_env(database)
        )
        assert proc.stdout is not None
        written = 0
        try:
            with zf.open("dump.sql", "w", force_zip64=True) as member:
                while chunk := proc.stdout.read(CHUNK):
                    member.write(chunk)
                    written += len(chunk)
                    if progress:
                        # The dump's size is only known at the end; the database's size
                        # on disk is the closest estimate beforehand.
                        report(progress, "dumping", written, max(expected_bytes, written))
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        code = proc.wait()
        errors.seek(0)
        text = errors.read().decode(errors="replace")
    if code != 0:
        _fail(f"Dumping '{database}'", command[0], code, text)


def dump_custom(server: DatabaseServer, database: str, path: Path) -> None:
    """``pg_dump --format=custom`` of ``database`` into ``path`` (no owners), the form
    :func:`load` restores (kind ``custom``)."""
    command = [
        str(server.tool("pg_dump")),
        "--format=custom",
        "--compress=1",
        "--no-owner",
        "--file",
        str(path),
        database,
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=server.tool_env(database))
    if done.returncode != 0:
        path.unlink(missing_ok=True)
        _fail(f"Dumping '{database}'", command[0], done.returncode, done.stderr)
