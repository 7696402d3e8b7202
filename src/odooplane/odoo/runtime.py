"""The Python environment that runs Odoo: one per dependencies hash, shared, never half.

A runtime is a virtual environment under ``<cache>/runtimes/<hash>``. The hash (the
"dependencies hash" builds and evidence record) covers the Python version, Odoo's
``requirements.txt``, the project's requirement files, the addons'
``external_dependencies`` and the recipe below; every environment with the same hash
shares the runtime, and a change of any input makes a new one.

A runtime is built in a temporary folder beside its final place and renamed when
complete, with its metadata file already inside: a folder named by a hash is always a
finished runtime. A package whose build needs system headers that are missing (such as
python-ldap without libldap2-dev) is skipped with a warning naming the Debian package,
and recorded in the metadata; the rest of the runtime is built.

``uv`` installs (it ships with odooplane); without it, ``venv`` + ``pip``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from filelock import FileLock

from odooplane.errors import ConfigError, ExternalToolError, OdooplaneError
from odooplane.fsutil import write_json_atomic
from odooplane.odoo.addons import project_addons, python_requirements
from odooplane.odoo.series import OPTION_ENV_VARS, for_series
from odooplane.paths import CONFIG_FILENAME, cache_dir
from odooplane.progress import Progress, report, warn
from odooplane.results import Result

if TYPE_CHECKING:
    from odooplane.odoo.source import OdooSource
    from odooplane.project import Project

# Bump when the way a runtime is built changes: every hash changes with it.
RECIPE_VERSION = "1"
METADATA_FILE = "odooplane-runtime.json"
BUILD_LOG = "odooplane-build.log"
BATCH_SIZE = 8
Installer = Literal["uv", "pip"]

_NAME_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")
_COMMENT_RE = re.compile(r"(^|\s)#.*$")
_MISSING_HEADER_RE = re.compile(r"fatal error: ([\w./+-]+\.h): No such file or directory")
_MISSING_PROGRAM_RE = re.compile(r"\b([\w-]+) executable not found|\b([\w-]+): command not found")
_UV_FAILED_RE = re.compile(r"Failed to (?:download and )?build `([^`]+)`")
_BUILD_FAILURE_MARKERS = (
    "Failed to build",
    "Failed to download and build",
    "build backend returned an error",
    "subprocess-exited-with-error",
    "Failed building wheel",
    "metadata-generation-failed",
    "error: command '",
)

# Debian packages providing a header or program that builds of Python packages look for.
SYSTEM_PACKAGES = {
    "Python.h": "python3-dev",
    "ldap.h": "libldap2-dev",
    "lber.h": "libldap2-dev",
    "sasl/sasl.h": "libsasl2-dev",
    "libpq-fe.h": "libpq-dev",
    "pg_config": "libpq-dev",
    "ffi.h": "libffi-dev",
    "zlib.h": "zlib1g-dev",
    "jpeglib.h": "libjpeg-dev",
    "ft2build.h": "libfreetype-dev",
    "cups/cups.h": "libcups2-dev",
    "krb5.h": "libkrb5-dev",
    "gssapi/gssapi.h": "libkrb5-dev",
    "mysql.h": "default-libmysqlclient-dev",
    "mysql_config": "default-libmysqlclient-dev",
    "sql.h": "unixodbc-dev",
    "yaml.h": "libyaml-dev",
    "lzma.h": "liblzma-dev",
    "bzlib.h": "libbz2-dev",
    "sqlite3.h": "libsqlite3-dev",
    "xmlsec/xmlsec.h": "libxmlsec1-dev",
    "xmlsec1-config": "libxmlsec1-dev",
}
_SYSTEM_PREFIXES = {"openssl/": "libssl-dev", "libxml/": "libxml2-dev", "libxslt/": "libxslt1-dev"}


@dataclass(frozen=True)
class BuildNeed:
    """What building a known package from source needs from the system."""

    headers: tuple[str, ...] = ()
    programs: tuple[str, ...] = ()
    debian: tuple[str, ...] = ()
    # A package that provides the same module as a prebuilt wheel, same version.
    substitute: str | None = None


# Packages of Odoo's requirements that PyPI only has as source for Linux.
KNOWN_BUILD_NEEDS = {
    "python-ldap": BuildNeed(
        headers=("ldap.h", "lber.h", "sasl/sasl.h"), debian=("libldap2-dev", "libsasl2-dev")
    ),
    "psycopg2": BuildNeed(
        programs=("pg_config",), debian=("libpq-dev",), substitute="psycopg2-binary"
    ),
}


class SystemProbe:
    """Looks for C headers and programs on this machine. Tests pass a subclass to stand
    for a machine lacking some."""

    def include_dirs(self) -> list[Path]:
        dirs = [Path(p) for p in os.environ.get("CPATH", "").split(":") if p]
        dirs += [Path("/usr/local/include"), Path("/usr/include")]
        dirs += sorted(Path("/usr/include").glob("*-linux-gnu*"))
        dirs.append(Path("/usr/include/postgresql"))
        return dirs

    def has_header(self, header: str) -> bool:
        return any((folder / header).is_file() for folder in self.include_dirs())

    def has_program(self, name: str) -> bool:
        return shutil.which(name) is not None

    def missing_for(self, need: BuildNeed) -> list[str]:
        """The headers and programs of ``need`` this machine lacks."""
        missing = [h for h in need.headers if not self.has_header(h)]
        return missing + [p for p in need.programs if not self.has_program(p)]


@dataclass(frozen=True)
class SkippedPackage(Result):
    """A requirement left out of a runtime, and why."""

    name: str
    requirement: str
    reason: str
    system_packages: tuple[str, ...] = ()

    def warning(self) -> str:
        text = f"{self.requirement} was not installed: {self.reason}."
        if self.system_packages:
            text += (
                f" Install {' '.join(self.system_packages)} (apt-get install "
                f"{' '.join(self.system_packages)}), then run `odooplane odoo setup --rebuild`."
            )
        return text


@dataclass(frozen=True)
class Runtime:
    """A finished runtime: a virtual environment able to run ``odoo-bin``."""

    path: Path
    python: Path
    deps_hash: str
    skipped: tuple[SkippedPackage, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def bin_dir(self) -> Path:
        return self.path / "bin"

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """A process environment for Odoo: the runtime's ``bin`` first on PATH, because
        Odoo's reloader re-executes a bare ``python``; no PYTHONPATH/PYTHONHOME leaking
        in from odooplane's own interpreter, and none of the variables Odoo 19 reads over
        odoo.conf (a ``$PGHOST`` or ``$ODOO_DEV`` of the calling shell would otherwise
        point Odoo at another server or switch developer features on)."""
        env = dict(os.environ if base is None else base)
        for key in ("PYTHONPATH", "PYTHONHOME", "__PYVENV_LAUNCHER__", *OPTION_ENV_VARS):
            env.pop(key, None)
        env["VIRTUAL_ENV"] = str(self.path)
        env["PATH"] = os.pathsep.join([str(self.bin_dir), env.get("PATH", os.defpath)])
        return env

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "python": str(self.python),
            "deps_hash": self.deps_hash,
            "skipped": [s.to_dict() for s in self.skipped],
            "python_tag": self.metadata.get("python_tag"),
            "installer": self.metadata.get("installer"),
            "created_at": self.metadata.get("created_at"),
            "build_seconds": self.metadata.get("build_seconds"),
        }


# -- requirement files ------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    line: str
    origin: str

    @property
    def name(self) -> str:
        return requirement_name(self.line)


def requirement_name(line: str) -> str:
    """The normalized distribution name of a requirement line (a path's folder name for
    a local path)."""
    text = line.strip()
    if text.startswith("-e "):
        text = text[3:].strip()
    if "@" in text and not text.startswith(("/", ".", "file:")):
        text = text.split("@", 1)[0]
    elif text.startswith(("/", ".", "file:")):
        text = Path(text.removeprefix("file://").split(";")[0].strip()).name
    match = _NAME_RE.match(text)
    name = match.group(1) if match else text
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class RequirementSet:
    """Requirements flattened from files (``-r``/``-c`` followed), ready to hash and
    install."""

    requirements: list[Requirement] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    # Normalized text of every file read, for the hash.
    texts: list[tuple[str, str]] = field(default_factory=list)

    def add_file(
        self,
        path: Path,
        *,
        label: str,
        constraint: bool = False,
        seen: frozenset[Path] = frozenset(),
    ) -> None:
        resolved = path.resolve()
        if resolved in seen:
            return
        try:
            content = resolved.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{label}: cannot read {path} ({exc.strerror}).") from None
        lines: list[str] = []
        for number, raw in enumerate(content.splitlines(), start=1):
            line = _COMMENT_RE.sub("", raw).strip()
            if not line:
                continue
            lines.append(line)
            where = f"{path}:{number}"
            nested = re.match(r"^(-r|--requirement|-c|--constraint)[\s=]+(.+)$", line)
            if nested:
                child = (resolved.parent / nested.group(2).strip()).resolve()
                self.add_file(
                    child,
                    label=where,
                    constraint=constraint or nested.group(1) in ("-c", "--constraint"),
                    seen=seen | {resolved},
                )
                continue
            if line.startswith("-") and not line.startswith("-e"):
                self.options.append(line)
                continue
            line = _absolute_local(line, resolved.parent)
            if constraint:
                self.constraints.append(line)
            else:
                self.requirements.append(Requirement(line, where))
        self.texts.append((label, "\n".join(lines)))

    def add(self, line: str, origin: str) -> None:
        self.requirements.append(Requirement(line, origin))


def _absolute_local(line: str, base: Path) -> str:
    """Local paths in a requirement file are read relative to that file, wherever
    odooplane runs from."""
    prefix = ""
    text = line
    if text.startswith("-e "):
        prefix, text = "-e ", text[3:].strip()
    if text.startswith(("./", "../")):
        return prefix + str((base / text).resolve())
    return line


# -- the hash ---------------------------------------------------------------------------


def python_tag(interpreter: Path | None = None) -> str:
    """``cpython-3.11-linux-x86_64``: what of an interpreter a runtime depends on."""
    if interpreter is None or _same_interpreter(interpreter):
        return (
            f"{sys.implementation.name}-{sys.version_info[0]}.{sys.version_info[1]}-"
            f"{sysconfig.get_platform()}"
        )
    code = (
        "import sys, sysconfig; print(f'{sys.implementation.name}-"
        "{sys.version_info[0]}.{sys.version_info[1]}-{sysconfig.get_platform()}')"
    )
    try:
        result = subprocess.run(
            [str(interpreter), "-c", code], capture_output=True, text=True, timeout=60
        )
    except OSError as exc:
        raise ConfigError(f"The Python interpreter {interpreter} cannot run: {exc}.") from None
    if result.returncode != 0:
        raise ConfigError(
            f"The Python interpreter {interpreter} failed: {result.stderr.strip()[-300:]}"
        )
    return result.stdout.strip()


def _same_interpreter(interpreter: Path) -> bool:
    try:
        return interpreter.resolve() == Path(sys.executable).resolve()
    except OSError:
        return False


def interpreter_version(interpreter: Path) -> tuple[int, int] | None:
    """``(3, 11)`` for an interpreter, None when it cannot run."""
    match = re.search(r"-(\d+)\.(\d+)-", _tag_or_empty(interpreter))
    return (int(match.group(1)), int(match.group(2))) if match else None


def _tag_or_empty(interpreter: Path) -> str:
    try:
        return python_tag(interpreter)
    except ConfigError:
        return ""


def installed_interpreters() -> list[tuple[Path, tuple[int, int]]]:
    """The ``python3.N`` commands on PATH with their versions, newest first."""
    found: dict[tuple[int, int], Path] = {}
    for folder in os.environ.get("PATH", os.defpath).split(os.pathsep):
        try:
            names = sorted(os.listdir(folder or "."))
        except OSError:
            continue
        for name in names:
            if not re.fullmatch(r"python3\.\d+", name):
                continue
            path = Path(folder or ".") / name
            if not os.access(path, os.X_OK):
                continue
            version = interpreter_version(path)
            if version is not None and version not in found:
                found[version] = path
    return [(path, version) for version, path in sorted(found.items(), reverse=True)]


def pick_interpreter(
    current: tuple[Path, tuple[int, int]],
    candidates: Sequence[tuple[Path, tuple[int, int]]],
    accepted: tuple[tuple[int, int], tuple[int, int]],
) -> Path:
    """The interpreter for a series accepting Pythons ``accepted`` (lowest, highest):
    the one running odooplane when it fits, else the newest installed one that fits,
    else the one running odooplane (the build then warns)."""
    low, high = accepted
    path, version = current
    if low <= version <= high:
        return path
    fitting = [c for c in candidates if low <= c[1] <= high]
    if fitting:
        return max(fitting, key=lambda c: c[1])[0]
    return path


def choose_python(project: Project, series: str | None = None) -> Path:
    """The interpreter a project's runtime is built from: ``odoo.python`` (a path, a
    command such as ``python3.11``, or a version such as ``3.11``); else the one running
    odooplane when ``series`` accepts it, else the newest installed ``python3.N`` the
    series accepts."""
    wanted = project.config.odoo.python
    if not wanted:
        current = Path(sys.executable)
        if series is None:
            return current
        accepted = for_series(series).python_tested
        version = (sys.version_info[0], sys.version_info[1])
        if accepted[0] <= version <= accepted[1]:
            return current
        return pick_interpreter((current, version), installed_interpreters(), accepted)
    where = f"{project.root / CONFIG_FILENAME}: odoo.python"
    candidate = Path(wanted).expanduser()
    if "/" in wanted:
        path = candidate if candidate.is_absolute() else project.root / candidate
        if not os.access(path, os.X_OK) or not path.is_file():
            raise ConfigError(f"{where}: {path} is not an executable Python interpreter.")
        return path
    name = f"python{wanted}" if re.fullmatch(r"\d+\.\d+", wanted) else wanted
    found = shutil.which(name)
    if found:
        return Path(found)
    uv = _uv_bin()
    if uv and re.fullmatch(r"\d+\.\d+", wanted):
        result = subprocess.run(
            [uv, "python", "find", "--python-preference", "only-system", wanted],
            capture_output=True,
            text=True,
            env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
        )
        if result.returncode == 0 and result.stdout.strip():
            return Path(result.stdout.strip())
    raise ConfigError(
        f"{where}: no Python interpreter '{wanted}' on this machine.",
        hint="Install it (Debian: apt-get install python3.11 python3.11-venv) or name a path.",
    )


def collect_requirements(source: OdooSource, project: Project) -> RequirementSet:
    """Odoo's requirements.txt, the project's requirement files, then the addons'
    external Python dependencies."""
    reqs = RequirementSet()
    if source.requirements.is_file():
        reqs.add_file(source.requirements, label="odoo:requirements.txt")
    for index, raw in enumerate(project.config.odoo.requirements):
        path = (project.root / Path(raw).expanduser()).resolve()
        label = f"{project.root / CONFIG_FILENAME}: odoo.requirements[{index}]"
        if not path.is_file():
            raise ConfigError(
                f"{label} '{raw}' does not exist ({path}).",
                hint="List requirement files relative to the project root.",
            )
        reqs.add_file(path, label=f"project:{raw}")
    for name in python_requirements(project_addons(project).values()):
        reqs.add(name, "addons external_dependencies")
    reqs.texts.append(
        ("addons", "\n".join(r.line for r in reqs.requirements if r.origin.startswith("addons")))
    )
    return reqs


def _hash_of(python: str, series: str, reqs: RequirementSet) -> str:
    digest = hashlib.sha256()
    parts = [
        f"recipe={RECIPE_VERSION}",
        f"python={python}",
        "constraints=" + ",".join(for_series(series).runtime_constraints),
        "build=" + ",".join(for_series(series).build_constraints),
    ]
    # What gets installed counts, not which file says it: an empty or comment-only
    # requirement file changes nothing.
    parts += [text for _label, text in reqs.texts if text]
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def dependencies_hash(source: OdooSource, project: Project, python: str) -> str:
    """The dependencies hash of a project on ``source`` with a Python ``python``
    (a :func:`python_tag`). Comments and blank lines of requirement files do not count."""
    return _hash_of(python, source.series, collect_requirements(source, project))


# -- where runtimes live ----------------------------------------------------------------


def runtimes_dir() -> Path:
    return cache_dir() / "runtimes"


def runtime_dir(deps_hash: str) -> Path:
    return runtimes_dir() / deps_hash


def load_runtime(deps_hash: str) -> Runtime | None:
    """The finished runtime of ``deps_hash``, or None."""
    path = runtime_dir(deps_hash)
    meta_path = path / METADATA_FILE
    try:
        meta = json.loads(meta_path.read_text())
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None
    skipped = tuple(
        SkippedPackage(
            name=s["name"],
            requirement=s["requirement"],
            reason=s["reason"],
            system_packages=tuple(s.get("system_packages", ())),
        )
        for s in meta.get("skipped", [])
    )
    return Runtime(
        path=path,
        python=path / "bin" / "python",
        deps_hash=deps_hash,
        skipped=skipped,
        metadata=meta,
    )


@dataclass(frozen=True)
class RuntimeStatus:
    deps_hash: str
    path: Path
    python_tag: str
    runtime: Runtime | None

    @property
    def state(self) -> str:
        return "ready" if self.runtime is not None else "missing"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "deps_hash": self.deps_hash,
            "path": str(self.path),
            "python_tag": self.python_tag,
            "state": self.state,
        }
        if self.runtime is not None:
            data.update(self.runtime.to_dict())
        return data


def runtime_status(project: Project, source: OdooSource) -> RuntimeStatus:
    """Which runtime the project needs and whether it is built; builds nothing."""
    tag = python_tag(choose_python(project, source.series))
    deps_hash = dependencies_hash(source, project, tag)
    return RuntimeStatus(deps_hash, runtime_dir(deps_hash), tag, load_runtime(deps_hash))


# -- building ---------------------------------------------------------------------------


def ensure_runtime(
    project: Project,
    source: OdooSource,
    *,
    progress: Progress | None = None,
    rebuild: bool = False,
    installer: Installer | None = None,
    probe: SystemProbe | None = None,
) -> Runtime:
    """The runtime of ``project`` on ``source``: reused when its hash is built, built
    otherwise (or again with ``rebuild``)."""
    interpreter = choose_python(project, source.series)
    tag = python_tag(interpreter)
    reqs = collect_requirements(source, project)
    deps_hash = _hash_of(tag, source.series, reqs)
    if not rebuild and (existing := load_runtime(deps_hash)) is not None:
        return existing
    final = runtime_dir(deps_hash)
    final.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(final) + ".lock", timeout=3600):
        if not rebuild and (existing := load_runtime(deps_hash)) is not None:
            return existing  # built by another process while we waited
        for stale in [
            *final.parent.glob(f".{deps_hash}.tmp-*"),
            *final.parent.glob(f".{deps_hash}.old-*"),
        ]:
            shutil.rmtree(stale, ignore_errors=True)
        if final.exists() and load_runtime(deps_hash) is None:
            shutil.rmtree(final)  # a folder without metadata was never ours to trust
        tmp = Path(tempfile.mkdtemp(prefix=f".{deps_hash}.tmp-", dir=final.parent))
        try:
            builder = _Builder(
                tmp=tmp,
                final=final,
                interpreter=interpreter,
                tag=tag,
                deps_hash=deps_hash,
                series=source.series,
                reqs=reqs,
                installer=installer or ("uv" if _uv_bin() else "pip"),
                probe=probe or SystemProbe(),
                progress=progress,
            )
            try:
                builder.build()
            except OdooplaneError as exc:
                kept = final.parent / f"{deps_hash}.failed.log"
                raise _with_log(exc, tmp / BUILD_LOG, kept) from exc.__cause__
            if final.exists():
                old = final.with_name(f".{deps_hash}.old-{os.getpid()}")
                final.rename(old)
                tmp.rename(final)
                shutil.rmtree(old, ignore_errors=True)
            else:
                tmp.rename(final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    runtime = load_runtime(deps_hash)
    if runtime is None:
        raise ExternalToolError(f"The runtime {final} vanished right after it was built.")
    return runtime


def _with_log(exc: OdooplaneError, log: Path, keep: Path) -> OdooplaneError:
    """``exc`` with the build log saved where it outlives the temporary folder."""
    if log.is_file():
        shutil.copyfile(log, keep)
        note = f"The full build log is {keep}."
        exc.hint = f"{exc.hint}\n{note}" if exc.hint else note
    return exc


def _uv_bin() -> str | None:
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


class _Reporter:
    """The build's phases, counts and warnings, as progress events (or nothing)."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self._phase = ""
        self._done = 0
        self._total = 0

    def step(self, description: str, total: int | None = None) -> None:
        self._phase, self._done, self._total = description, 0, total or 0
        report(self.progress, description, 0, self._total)

    def advance(self, amount: int) -> None:
        self._done += amount
        report(self.progress, self._phase, self._done, self._total)

    def done(self) -> None:
        self.step("Runtime ready", total=1)
        self.advance(1)

    def warn(self, message: str) -> None:
        warn(self.progress, message, self._phase)


class _Builder:
    """Builds one runtime in ``tmp``; :func:`ensure_runtime` renames it into place."""

    def __init__(
        self,
        *,
        tmp: Path,
        final: Path,
        interpreter: Path,
        tag: str,
        deps_hash: str,
        series: str,
        reqs: RequirementSet,
        installer: Installer,
        probe: SystemProbe,
        progress: Progress | None,
    ) -> None:
        self.tmp = tmp
        self.final = final
        self.interpreter = interpreter
        self.tag = tag
        self.deps_hash = deps_hash
        self.series = series
        self.reqs = reqs
        self.installer: Installer = installer
        self.probe = probe
        self.reporter = _Reporter(progress)
        self.skipped: list[SkippedPackage] = []
        self.work = tmp / ".odooplane-build"
        self.log_path = tmp / BUILD_LOG
        self.uv = _uv_bin() if installer == "uv" else None
        if installer == "uv" and self.uv is None:
            raise ExternalToolError("uv was asked for but is not installed.")

    @property
    def python(self) -> Path:
        return self.tmp / "bin" / "python"

    # -- running tools ----------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        env.setdefault("UV_CACHE_DIR", str(cache_dir() / "uv"))
        env["UV_PYTHON_DOWNLOADS"] = "never"
        env["VIRTUAL_ENV"] = str(self.tmp)
        env["NO_COLOR"] = "1"
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        env["PIP_NO_INPUT"] = "1"
        if self.installer == "pip" and self.work.is_dir():
            # pip's isolated build environments read constraints from the environment
            # only (uv takes --build-constraints).
            env["PIP_CONSTRAINT"] = str(self._build_constraints_file())
        return env

    def _run(self, argv: Sequence[str], what: str) -> subprocess.CompletedProcess[str]:
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(f"\n$ {' '.join(argv)}\n")
            log.flush()
            started = time.monotonic()
            result = subprocess.run(
                list(argv), cwd=self.work, env=self._env(), capture_output=True, text=True
            )
            log.write(result.stdout)
            log.write(result.stderr)
            elapsed = time.monotonic() - started
            log.write(f"[exit {result.returncode} after {elapsed:.1f} s: {what}]\n")
        return result

    # -- the build ------------------------------------------------------------------------

    def build(self) -> None:
        started = time.monotonic()
        self.work.mkdir(parents=True)
        self._warn_python()
        self.reporter.step(f"Creating the Python environment ({self.tag})")
        self._create_venv()
        items = self._requirement_lines()
        if self.installer == "uv":
            self.reporter.step("Resolving requirements")
            # Checked on the resolved pins: environment markers are evaluated by then
            # (Odoo lists python-ldap twice, for Python < 3.12 and >= 3.12).
            items = self._compile(items)
        items = self._apply_known_needs(items)
        self.reporter.step("Installing packages", total=len(items))
        installed = self._install(items)
        self._relocate()
        self.reporter.done()
        shutil.rmtree(self.work, ignore_errors=True)
        write_json_atomic(
            self.tmp / METADATA_FILE,
            {
                "deps_hash": self.deps_hash,
                "python_tag": self.tag,
                "base_python": str(self.interpreter),
                "installer": self.installer,
                "series": self.series,
                "recipe": RECIPE_VERSION,
                "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "build_seconds": round(time.monotonic() - started, 1),
                "packages": installed,
                "skipped": [s.to_dict() for s in self.skipped],
            },
        )

    def _warn_python(self) -> None:
        low, high = for_series(self.series).python_tested
        match = re.search(r"-(\d+)\.(\d+)-", self.tag)
        if match:
            version = (int(match.group(1)), int(match.group(2)))
            if not low <= version <= high:
                self.reporter.warn(
                    f"Odoo {self.series} runs on Python {low[0]}.{low[1]} to "
                    f"{high[0]}.{high[1]}, this runtime uses {version[0]}.{version[1]} (no "
                    "python3.N on PATH fits); install one, or set odoo.python in "
                    "odooplane.yaml to pick another interpreter."
                )

    def _create_venv(self) -> None:
        if self.installer == "uv":
            assert self.uv is not None
            argv = [
                self.uv,
                "venv",
                "--quiet",
                "--relocatable",
                "--allow-existing",
                "--color",
                "never",
                "--python",
                str(self.interpreter),
                str(self.tmp),
            ]
        else:
            argv = [str(self.interpreter), "-m", "venv", str(self.tmp)]
        result = self._run(argv, "create the environment")
        if result.returncode != 0:
            raise ExternalToolError(
                f"Creating a Python environment with {self.interpreter} failed: "
                f"{_tail(result.stderr)}",
                hint=None
                if self.installer == "uv"
                else "Debian: apt-get install python3-venv for the venv module.",
            )

    def _requirement_lines(self) -> list[str]:
        lines = [r.line for r in self.reqs.requirements]
        lines += list(for_series(self.series).runtime_constraints)
        return _unique(lines)

    def _constraints_file(self) -> Path:
        path = self.work / "constraints.txt"
        lines = [*self.reqs.constraints, *for_series(self.series).runtime_constraints]
        path.write_text("\n".join(lines) + "\n")
        return path

    def _build_constraints_file(self) -> Path:
        path = self.work / "build-constraints.txt"
        path.write_text("\n".join(for_series(self.series).build_constraints) + "\n")
        return path

    def _requirements_file(self, name: str, lines: Sequence[str]) -> Path:
        path = self.work / name
        path.write_text("\n".join([*self.reqs.options, *lines]) + "\n")
        return path

    def _skip(self, line: str, reason: str, system: Sequence[str]) -> None:
        skipped = SkippedPackage(
            name=requirement_name(line),
            requirement=line,
            reason=reason,
            system_packages=tuple(_unique(system)),
        )
        self.skipped.append(skipped)
        self.reporter.warn(skipped.warning())

    def _apply_known_needs(self, lines: list[str]) -> list[str]:
        """Leave out (or swap for a prebuilt wheel) the known source-only packages whose
        headers or programs this machine lacks, before trying to build them."""
        kept: list[str] = []
        for line in lines:
            need = KNOWN_BUILD_NEEDS.get(requirement_name(line))
            missing = self.probe.missing_for(need) if need else []
            if need is None or not missing:
                kept.append(line)
                continue
            if need.substitute:
                kept.append(_substitute(line, need.substitute))
                self.reporter.warn(
                    f"{line}: {', '.join(missing)} not found, installing "
                    f"{need.substitute} instead (install {' '.join(need.debian)} to build it)."
                )
                continue
            self._skip(line, f"building it needs {', '.join(missing)}, not found", need.debian)
        return kept

    def _compile(self, lines: list[str]) -> list[str]:
        """Resolve ``lines`` to exact pins with uv (so the install below can go by
        batches, with a real progress count); a package whose metadata cannot be built is
        handled like a failed build."""
        constraints = self._constraints_file()
        for _attempt in range(10):
            infile = self._requirements_file("requirements.in", lines)
            out = self.work / "requirements.lock"
            # From the cache alone first: an online resolve revalidates every index page
            # (5 to 15 s for Odoo's requirements here), the cached one takes 0.1 s.
            result = self._uv_compile(infile, constraints, out, offline=True)
            if result.returncode != 0:
                result = self._uv_compile(infile, constraints, out, offline=False)
            if result.returncode == 0:
                return [
                    line.strip()
                    for line in out.read_text().splitlines()
                    if line.strip() and not line.lstrip().startswith(("#", "-"))
                ]
            output = result.stdout + result.stderr
            failed = _UV_FAILED_RE.search(output)
            if not failed or not _is_build_failure(output):
                raise ExternalToolError(
                    f"The requirements cannot be resolved:\n{_tail(output, 25)}",
                    hint="Check the versions pinned in your requirement files.",
                )
            name = requirement_name(failed.group(1))
            match = [line for line in lines if requirement_name(line) == name]
            if not match:
                raise ExternalToolError(
                    f"Building {failed.group(1)} failed while resolving:\n{_tail(output, 25)}"
                )
            lines = self._handle_failure(lines, match[0], output)
        raise ExternalToolError("Resolving the requirements kept failing.")

    def _uv_compile(
        self, infile: Path, constraints: Path, out: Path, *, offline: bool
    ) -> subprocess.CompletedProcess[str]:
        assert self.uv is not None
        argv = [
            self.uv,
            "pip",
            "compile",
            # A resolve writes fresh metadata entries for source distributions into the
            # cache, after which the next install builds them again: resolving with a
            # cache of its own keeps the built wheels reusable.
            "--cache-dir",
            str(cache_dir() / "uv-resolve"),
            "--color",
            "never",
            "--quiet",
            "--no-header",
            "--no-annotate",
            "--python",
            str(self.python),
            "-c",
            str(constraints),
            "--build-constraints",
            str(self._build_constraints_file()),
            str(infile),
            "-o",
            str(out),
        ]
        if offline:
            argv.insert(3, "--offline")
        return self._run(argv, "resolve requirements" + (" (offline)" if offline else ""))

    def _handle_failure(self, lines: list[str], line: str, output: str) -> list[str]:
        """Drop (or swap) ``line`` after its build failed, saying what the system lacks."""
        need = KNOWN_BUILD_NEEDS.get(requirement_name(line))
        missing = _missing_from_output(output)
        system = [pkg for pkg in (_system_package(m) for m in missing) if pkg]
        if not system and need is not None:
            system = list(need.debian)
        rest = [other for other in lines if other != line]
        if need and need.substitute:
            self.reporter.warn(
                f"building {line} failed, installing {need.substitute} instead "
                f"(install {' '.join(need.debian)} to build it)."
            )
            return [*rest, _substitute(line, need.substitute)]
        if missing:
            reason = f"its build needs {', '.join(missing)}, not found"
        else:
            reason = f"its build failed: {_tail(output, 3).strip()}"
        self._skip(line, reason, system)
        return rest

    def _install(self, items: list[str]) -> list[str]:
        installed: list[str] = []
        constraints = self._constraints_file()
        for start in range(0, len(items), BATCH_SIZE):
            batch = items[start : start + BATCH_SIZE]
            installed += self._install_batch_or_skip(batch, constraints)
            self.reporter.advance(len(batch))
        return installed

    def _install_batch_or_skip(self, batch: list[str], constraints: Path) -> list[str]:
        """Install ``batch``; a package whose build fails is skipped (or swapped) and the
        rest installed. uv names the package that failed; otherwise each is tried alone."""
        while batch:
            result = self._install_batch(batch, constraints)
            if result.returncode == 0:
                return batch
            output = result.stdout + result.stderr
            if not _is_build_failure(output):
                raise ExternalToolError(
                    f"Installing packages failed:\n{_tail(output, 20)}",
                    hint="Check that this machine reaches the package index.",
                )
            failed = _UV_FAILED_RE.search(output)
            culprit = next(
                (
                    line
                    for line in batch
                    if failed and requirement_name(line) == requirement_name(failed.group(1))
                ),
                None,
            )
            if culprit is None:
                break
            rest = [line for line in batch if line != culprit]
            batch = rest + self._handle_failure([culprit], culprit, output)
        if not batch:
            return []
        installed: list[str] = []
        for line in batch:
            single = self._install_batch([line], constraints)
            if single.returncode == 0:
                installed.append(line)
                continue
            text = single.stdout + single.stderr
            if not _is_build_failure(text):
                raise ExternalToolError(f"Installing {line} failed:\n{_tail(text, 20)}")
            for retry in self._handle_failure([line], line, text):
                again = self._install_batch([retry], constraints)
                if again.returncode == 0:
                    installed.append(retry)
                else:
                    self._skip(retry, f"its build failed: {_tail(again.stderr, 3)}", [])
        return installed

    def _install_batch(
        self, lines: Sequence[str], constraints: Path
    ) -> subprocess.CompletedProcess[str]:
        reqfile = self._requirements_file("batch.txt", lines)
        if self.installer == "uv":
            assert self.uv is not None
            argv = [
                self.uv,
                "pip",
                "install",
                "--color",
                "never",
                "--python",
                str(self.python),
                "--no-deps",
                "-c",
                str(constraints),
                "--build-constraints",
                str(self._build_constraints_file()),
                "-r",
                str(reqfile),
            ]
        else:
            argv = [
                str(self.python),
                "-m",
                "pip",
                "install",
                "--no-input",
                "-c",
                str(constraints),
                "-r",
                str(reqfile),
            ]
        return self._run(argv, "install " + ", ".join(lines))

    def _relocate(self) -> None:
        """Scripts written by pip name the temporary folder; point them at the final one
        (uv's --relocatable scripts need nothing)."""
        old, new = str(self.tmp), str(self.final)
        for script in (self.tmp / "bin").iterdir():
            if script.is_symlink() or not script.is_file():
                continue
            try:
                text = script.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            if old in text:
                mode = script.stat().st_mode
                script.write_text(text.replace(old, new), encoding="utf-8")
                os.chmod(script, mode)


def _unique(values: Sequence[str]) -> list[str]:
    seen: list[str] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


def _substitute(line: str, substitute: str) -> str:
    match = _NAME_RE.match(line.strip())
    return substitute + line.strip()[match.end() :] if match else substitute


def _is_build_failure(output: str) -> bool:
    return any(marker in output for marker in _BUILD_FAILURE_MARKERS)


def _missing_from_output(output: str) -> list[str]:
    found = list(dict.fromkeys(_MISSING_HEADER_RE.findall(output)))
    for match in _MISSING_PROGRAM_RE.finditer(output):
        program = match.group(1) or match.group(2)
        if program and program not in found and program in SYSTEM_PACKAGES:
            found.append(program)
    return found


def _system_package(missing: str) -> str | None:
    if missing in SYSTEM_PACKAGES:
        return SYSTEM_PACKAGES[missing]
    for prefix, package in _SYSTEM_PREFIXES.items():
        if missing.startswith(prefix):
            return package
    return None


def _tail(text: str, lines: int = 12) -> str:
    # uv ends a failed build with a generic "hint:" line that says nothing of the cause.
    kept = [
        line
        for line in text.strip().splitlines()
        if line.strip() and not line.lstrip().startswith("hint:")
    ]
    return "\n".join(kept[-lines:])
