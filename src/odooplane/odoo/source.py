"""Where the Odoo source is: a local folder or a shallow git clone kept in the cache.

``odoo.source`` in odooplane.yaml is either a path (relative to the project root) or
``{git: URL, ref: REF}``. A git source is fetched once, shallow, into
``<cache>/odoo-src/<hash of url+ref>`` and reused by every project naming the same URL
and ref. The series is read from ``odoo/release.py`` (parsed, never imported) and must
match ``odoo.series``.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from odooplane.config import GitSource, OdooConfig
from odooplane.errors import ConfigError, ExternalToolError, NotFoundError
from odooplane.odoo.series import SUPPORTED_SERIES
from odooplane.paths import CONFIG_FILENAME, cache_dir
from odooplane.progress import Progress, report
from odooplane.results import Result

RELEASE_FILE = Path("odoo") / "release.py"
REQUIREMENTS_FILE = "requirements.txt"
_GIT_PROGRESS_RE = re.compile(
    r"(Receiving objects|Resolving deltas|remote: Counting objects)"
    r":\s+(\d+)%"
)


@dataclass(frozen=True)
class OdooSource(Result):
    """An Odoo source tree on disk.

    ``revision`` is the git commit when the tree is a git checkout (or our clone), else a
    content hash of ``odoo/release.py`` and ``requirements.txt``.
    """

    path: Path
    series: str
    revision: str

    @property
    def odoo_bin(self) -> Path:
        return self.path / "odoo-bin"

    @property
    def requirements(self) -> Path:
        return self.path / REQUIREMENTS_FILE

    def addons_dirs(self) -> list[Path]:
        """Odoo's own addons folders: ``addons`` (full checkouts) then ``odoo/addons``."""
        return [d for d in (self.path / "addons", self.path / "odoo" / "addons") if d.is_dir()]


# -- reading a tree ---------------------------------------------------------------------


def read_series(release_py: Path) -> str:
    """``version_info = (17, 0, 0, FINAL, 0, '')`` -> ``"17.0"``; ``saas~17.2`` for a
    SaaS release. Parsed with :mod:`ast`: nothing of the tree is executed."""
    try:
        tree = ast.parse(release_py.read_text(encoding="utf-8"), filename=str(release_py))
    except (OSError, SyntaxError, ValueError) as exc:
        raise ConfigError(f"{release_py} cannot be read as Python ({exc}).") from None
    for node in tree.body:
        if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.Tuple):
            continue
        if not any(isinstance(t, ast.Name) and t.id == "version_info" for t in node.targets):
            continue
        numbers = [
            e.value
            for e in node.value.elts[:2]
            if isinstance(e, ast.Constant) and isinstance(e.value, int)
        ]
        if len(numbers) == 2:
            major, minor = numbers
            return f"{major}.{minor}" if minor == 0 else f"saas~{major}.{minor}"
    raise ConfigError(
        f"{release_py} has no `version_info = (MAJOR, MINOR, ...)` line: is this an Odoo "
        "source tree?"
    )


def content_revision(path: Path) -> str:
    """A content hash standing in for a commit when the tree is not a git checkout."""
    digest = hashlib.sha256()
    for rel in (RELEASE_FILE, Path(REQUIREMENTS_FILE)):
        file = path / rel
        digest.update(str(rel).encode() + b"\0")
        digest.update(file.read_bytes() if file.is_file() else b"<missing>")
        digest.update(b"\0")
    return "content-" + digest.hexdigest()[:16]


def _git(
    args: list[str], cwd: Path | None = None, *, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )
    except FileNotFoundError:
        raise ExternalToolError(
            "git is not installed.", hint="Install git (Debian: apt-get install git)."
        ) from None


def git_revision(path: Path) -> str | None:
    """The commit checked out at ``path`` when ``path`` is the top of a git work tree."""
    if not (path / ".git").exists():
        return None
    result = _git(["rev-parse", "HEAD"], cwd=path)
    sha = result.stdout.strip()
    return sha if result.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", sha) else None


def inspect_source(path: Path, *, where: str | None = None) -> OdooSource:
    """Read the Odoo tree at ``path``; a folder that is not one is a ConfigError.

    ``where`` names what pointed at the folder (``odooplane.yaml: odoo.source``)."""
    origin = f"{where}: " if where else ""
    if not path.exists():
        raise ConfigError(
            f"{origin}the Odoo source folder {path} does not exist.",
            hint="Point odoo.source at an Odoo checkout (the folder holding odoo-bin), "
            "or at {git: https://github.com/odoo/odoo.git, ref: '17.0'}.",
        )
    if not path.is_dir():
        raise ConfigError(f"{origin}{path} is a file, not an Odoo source folder.")
    release = path / RELEASE_FILE
    if not release.is_file():
        hint = "Point odoo.source at the folder holding odoo-bin and the odoo/ package."
        if (path / "release.py").is_file():
            hint = f"{path} looks like the inner odoo/ package: use its parent {path.parent}."
        raise ConfigError(
            f"{origin}{path} is not an Odoo source tree: {RELEASE_FILE} is missing.", hint=hint
        )
    if not (path / "odoo-bin").is_file():
        raise ConfigError(
            f"{origin}{path} has {RELEASE_FILE} but no odoo-bin: is this a complete Odoo checkout?"
        )
    series = read_series(release)
    revision = git_revision(path) or content_revision(path)
    return OdooSource(path=path, series=series, revision=revision)


def check_series(source: OdooSource, expected: str, *, where: str) -> None:
    """A ConfigError unless ``source`` is the configured, supported series."""
    if source.series != expected:
        raise ConfigError(
            f"{where}: odoo.series is '{expected}' but the Odoo source at {source.path} is "
            f"{source.series} (read from {RELEASE_FILE}).",
            hint=f"Set odoo.series to '{source.series}', or point odoo.source at a "
            f"{expected} checkout.",
        )
    if source.series not in SUPPORTED_SERIES:
        raise ConfigError(
            f"{where}: Odoo {source.series} is not supported by odooplane.",
            hint=f"Supported series: {', '.join(SUPPORTED_SERIES)}.",
        )


# -- git sources ------------------------------------------------------------------------


def clone_dir(source: GitSource) -> Path:
    """Where the shallow clone of ``source`` lives in the cache."""
    key = hashlib.sha256(f"{source.git}\n{source.ref}".encode()).hexdigest()[:16]
    return cache_dir() / "odoo-src" / key


def _redact(url: str) -> str:
    # A token in an https URL must not end up in a message or a log.
    return re.sub(r"(://)[^/@]+@", r"\1***@", url)


def _fetch(
    url: str,
    ref: str,
    target: Path,
    on_percent: Callable[[str, int], None] | None,
    *,
    fresh: bool,
) -> None:
    """Fetch ``ref`` of ``url`` (branch, tag or commit) at depth 1 and check it out;
    ``fresh`` first makes ``target`` a new repository."""
    if fresh:
        init = _git(["init", "-q", str(target)])
        if init.returncode != 0:
            raise ExternalToolError(f"git init {target} failed: {init.stderr.strip()}")
        _git(["remote", "add", "origin", url], cwd=target)
    argv = ["git", "fetch", "--depth", "1", "--progress", "origin", ref]
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    proc = subprocess.Popen(
        argv, cwd=target, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert proc.stderr is not None
    stderr_fd = proc.stderr.fileno()
    tail: list[str] = []
    buffer = b""
    # git reports progress with carriage returns; read by chunk and split on both.
    while chunk := os.read(stderr_fd, 4096):
        buffer += chunk
        *lines, buffer = re.split(rb"[\r\n]", buffer)
        for raw in lines:
            line = raw.decode(errors="replace").strip()
            if not line:
                continue
            match = _GIT_PROGRESS_RE.search(line)
            if match and on_percent is not None:
                on_percent(match.group(1), int(match.group(2)))
            elif not match:
                tail = [*tail[-20:], line]
    if buffer.strip():
        tail.append(buffer.decode(errors="replace").strip())
    if proc.wait() != 0:
        text = "\n".join(tail[-8:])
        if "couldn't find remote ref" in text or "not our ref" in text:
            raise NotFoundError(
                f"The Odoo source {_redact(url)} has no branch, tag or commit '{ref}'.",
                hint="Check odoo.source.ref in odooplane.yaml.",
            )
        raise ExternalToolError(
            f"Fetching '{ref}' from {_redact(url)} failed:\n{_redact(text)}",
            hint="Check the URL and that this machine can reach it.",
        )
    checkout = _git(["checkout", "-q", "--detach", "FETCH_HEAD"], cwd=target, timeout=600)
    if checkout.returncode != 0:
        raise ExternalToolError(f"git checkout of '{ref}' failed: {checkout.stderr.strip()}")


def fetch_git_source(
    source: GitSource, *, progress: Progress | None = None, update: bool = False
) -> Path:
    """The clone of ``source`` in the cache, fetched when absent (or again when ``update``).

    A first clone is made in a temporary folder beside its final place and renamed when
    complete: an interrupted fetch never leaves a half tree that looks usable. An update
    fetches into the existing clone, as ``git pull`` would."""
    final = clone_dir(source)
    if final.is_dir() and not update:
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(final) + ".lock", timeout=3600):
        if final.is_dir():
            if update:
                _fetch_with_progress(source, final, progress, fresh=False)
            return final
        for stale in final.parent.glob(f".{final.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
        try:
            _fetch_with_progress(source, tmp, progress, fresh=True)
            tmp.rename(final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return final


def _fetch_with_progress(
    source: GitSource, target: Path, progress: Progress | None, *, fresh: bool
) -> None:
    if progress is None:
        _fetch(source.git, source.ref, target, None, fresh=fresh)
        return
    phase = f"Fetching Odoo {source.ref} from {_redact(source.git)}"

    def on_percent(step: str, percent: int) -> None:
        # Receiving is most of the time; deltas resolve quickly after it.
        done = percent * 0.9 if step != "Resolving deltas" else 90 + percent * 0.1
        report(progress, phase, int(done), 100)

    report(progress, phase, 0, 100)
    _fetch(source.git, source.ref, target, on_percent, fresh=fresh)
    report(progress, phase, 100, 100)


# -- the configured source ----------------------------------------------------------------


def configured_path(config: OdooConfig, project_root: Path) -> Path:
    """The folder ``odoo.source`` names (for a git source: where its clone lives)."""
    if isinstance(config.source, GitSource):
        return clone_dir(config.source)
    return (project_root / Path(config.source).expanduser()).resolve()


def resolve_source(
    config: OdooConfig,
    project_root: Path,
    *,
    progress: Progress | None = None,
    update: bool = False,
    fetch: bool = True,
) -> OdooSource:
    """The Odoo source of a project, checked against ``odoo.series``.

    A git source is cloned into the cache on first use (``fetch=False`` makes a missing
    clone a NotFoundError instead; ``update=True`` fetches the ref again)."""
    where = f"{project_root / CONFIG_FILENAME}: odoo.source"
    if isinstance(config.source, GitSource):
        path = clone_dir(config.source)
        if not fetch and not path.is_dir():
            raise NotFoundError(
                f"The Odoo source {_redact(config.source.git)} at '{config.source.ref}' has "
                "not been fetched yet.",
                hint="Run `odooplane odoo setup` to fetch it.",
            )
        path = fetch_git_source(config.source, progress=progress, update=update)
    else:
        path = configured_path(config, project_root)
    source = inspect_source(path, where=where)
    check_series(source, config.series, where=str(project_root / CONFIG_FILENAME))
    return source
