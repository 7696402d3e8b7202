"""What odooplane needs from git: SHAs, branches, commit metadata, changed files, exports.

Everything goes through the ``git`` program (no library), read-only on the project's
repository: an export never touches the user's working tree, index or worktree list.
Submodules are exported from the commit's gitlinks, looked up in the project's own
``.git/modules`` first and fetched into a cache next to the exports only when the
commit they point at is nowhere on the machine.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlparse

from odooplane.errors import ExternalToolError, NotFoundError, UsageError
from odooplane.results import Result

_GIT_ENV_DROP = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE")


@dataclass(frozen=True)
class CommitInfo(Result):
    sha: str
    subject: str
    message: str
    author_name: str
    author_email: str
    timestamp: str  # ISO 8601, UTC, of the commit (committer date)
    author_timestamp: str


@dataclass(frozen=True)
class ChangedFile:
    status: str  # git's letter: A added, M modified, D deleted, R renamed, ...
    path: str
    old_path: str | None = None


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _GIT_ENV_DROP}
    # Never prompt for credentials: a command waiting on a hidden prompt looks hung.
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.setdefault("LC_ALL", "C")
    return env


def git(
    repo: Path,
    *args: str,
    check: bool = True,
    input_bytes: bytes | None = None,
    config: tuple[str, ...] = (),
) -> str:
    """Run ``git -C repo args`` and return its stdout (stripped)."""
    return (
        git_bytes(repo, *args, check=check, input_bytes=input_bytes, config=config)
        .decode("utf-8", "replace")
        .strip()
    )


def git_bytes(
    repo: Path,
    *args: str,
    check: bool = True,
    input_bytes: bytes | None = None,
    config: tuple[str, ...] = (),
) -> bytes:
    argv = ["git"]
    for item in config:
        argv += ["-c", item]
    argv += ["-C", str(repo), *args]
    try:
        result = subprocess.run(
            argv, input=input_bytes, capture_output=True, env=_env(), check=False
        )
    except FileNotFoundError:
        raise ExternalToolError(
            "The `git` program is not installed or not on PATH.",
            hint="Install git (apt-get install git) and retry.",
        ) from None
    if check and result.returncode != 0:
        err = result.stderr.decode("utf-8", "replace").strip()
        raise ExternalToolError(f"`git {' '.join(args)}` failed in {repo}: {err}")
    return result.stdout


def is_repository(path: Path) -> bool:
    result = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "--git-dir"],
        capture_output=True,
        env=_env(),
        check=False,
    )
    return result.returncode == 0


def require_repository(path: Path) -> None:
    if not is_repository(path):
        raise UsageError(
            f"{path} is not a git repository.",
            hint="odooplane builds commits: run `git init` and commit your addons first.",
        )


def resolve_ref(repo: Path, ref: str) -> str:
    """The full commit SHA ``ref`` names; a clear NotFoundError when it names nothing."""
    require_repository(repo)
    if not ref or ref.startswith("-"):
        raise UsageError(f"'{ref}' is not a git reference.")
    result = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        capture_output=True,
        env=_env(),
        check=False,
    )
    sha = result.stdout.decode().strip()
    if result.returncode != 0 or not sha:
        raise NotFoundError(
            f"'{ref}' is not a branch, tag or commit of the repository {repo}.",
            hint="List branches with `git branch -a`; fetch first if it lives on a remote.",
        )
    return sha


def head_sha(repo: Path) -> str:
    return resolve_ref(repo, "HEAD")


def current_branch(repo: Path) -> str | None:
    """The checked-out branch, or None on a detached HEAD."""
    name = git(repo, "rev-parse", "--abbrev-ref", "HEAD", check=False)
    return None if name in ("", "HEAD") else name


def local_branches(repo: Path) -> list[str]:
    out = git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads")
    return sorted(line for line in out.splitlines() if line)


def is_branch(repo: Path, ref: str) -> bool:
    result = subprocess.run(
        ["git", "-C", str(repo), "show-ref", "--verify", "--quiet", f"refs/heads/{ref}"],
        env=_env(),
        check=False,
    )
    return result.returncode == 0


def branches_pointing_at(repo: Path, sha: str) -> list[str]:
    out = git(repo, "for-each-ref", "--points-at", sha, "--format=%(refname:short)", "refs/heads")
    return sorted(line for line in out.splitlines() if line)


def branch_of(repo: Path, ref: str, sha: str) -> str | None:
    """The branch a build of ``ref`` comes from: ``ref`` itself when it is one, else a
    branch whose tip is the commit (the current branch first), else None."""
    if is_branch(repo, ref):
        return ref
    tips = branches_pointing_at(repo, sha)
    current = current_branch(repo)
    if current in tips:
        return current
    return tips[0] if tips else None


def _iso(epoch: str) -> str:
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc).isoformat()


def commit_info(repo: Path, ref: str) -> CommitInfo:
    sha = resolve_ref(repo, ref)
    sep = "\x1f"
    raw = git_bytes(repo, "show", "-s", f"--format=%H{sep}%an{sep}%ae{sep}%ct{sep}%at{sep}%B", sha)
    fields = raw.decode("utf-8", "replace").split(sep, 5)
    message = fields[5].strip()
    return CommitInfo(
        sha=fields[0].strip(),
        subject=message.splitlines()[0] if message else "",
        message=message,
        author_name=fields[1],
        author_email=fields[2],
        timestamp=_iso(fields[3]),
        author_timestamp=_iso(fields[4]),
    )


def changed_files(repo: Path, old: str, new: str) -> list[ChangedFile]:
    """Files that differ between two commits (renames detected)."""
    a = resolve_ref(repo, old)
    b = resolve_ref(repo, new)
    raw = git_bytes(repo, "diff", "--name-status", "-z", "-M", a, b)
    parts = raw.decode("utf-8", "replace").split("\0")
    changes: list[ChangedFile] = []
    i = 0
    while i < len(parts) and parts[i]:
        status = parts[i]
        if status[0] in "RC":
            changes.append(ChangedFile(status[0], parts[i + 2], parts[i + 1]))
            i += 3
        else:
            changes.append(ChangedFile(status[0], parts[i + 1]))
            i += 2
    return changes


@dataclass(frozen=True)
class Submodule:
    path: str
    sha: str
    name: str
    url: str | None


def submodules_at(repo: Path, sha: str) -> list[Submodule]:
    """The gitlinks (submodule commits) recorded in ``sha``, with their .gitmodules data."""
    out = git_bytes(repo, "ls-tree", "-r", "-z", sha)
    links: list[tuple[str, str]] = []
    for entry in out.decode("utf-8", "replace").split("\0"):
        if not entry:
            continue
        meta, path = entry.split("\t", 1)
        mode, kind, obj = meta.split()
        if mode == "160000" and kind == "commit":
            links.append((path, obj))
    if not links:
        return []
    names: dict[str, str] = {}
    urls: dict[str, str] = {}
    gitmodules = git_bytes(repo, "show", f"{sha}:.gitmodules", check=False)
    if gitmodules:
        listing = git(
            repo,
            "config",
            "--blob",
            f"{sha}:.gitmodules",
            "--get-regexp",
            r"^submodule\..*\.(path|url)$",
            check=False,
        )
        paths_by_name: dict[str, str] = {}
        urls_by_name: dict[str, str] = {}
        for line in listing.splitlines():
            key, _, value = line.partition(" ")
            name, _, attr = key[len("submodule.") :].rpartition(".")
            (paths_by_name if attr == "path" else urls_by_name)[name] = value
        for name, path in paths_by_name.items():
            names[path] = name
            if name in urls_by_name:
                urls[path] = urls_by_name[name]
    return [
        Submodule(path=path, sha=obj, name=names.get(path, path), url=urls.get(path))
        for path, obj in links
    ]


def has_commit(repo: Path, sha: str) -> bool:
    result = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "-e", f"{sha}^{{commit}}"],
        capture_output=True,
        env=_env(),
        check=False,
    )
    return result.returncode == 0


def _git_dir(repo: Path) -> Path:
    return Path(git(repo, "rev-parse", "--absolute-git-dir"))


def _absolute_url(url: str, parent_repo: Path) -> str:
    """Relative submodule URLs (``../lib.git``) are relative to the parent's origin."""
    if not url.startswith(("./", "../")):
        return url
    origin = git(parent_repo, "remote", "get-url", "origin", check=False)
    base = origin or str(parent_repo)
    if "://" in base:
        parsed = urlparse(base)
        joined = os.path.normpath(os.path.join(parsed.path, url))
        return parsed._replace(path=joined).geturl()
    return os.path.normpath(os.path.join(base, url))


def _submodule_source(parent: Path, sub: Submodule, cache: Path) -> Path:
    """A local repository holding ``sub.sha``: the project's checkout or a fetched cache."""
    candidates: list[Path] = []
    git_dir = _git_dir(parent)
    candidates.append(git_dir / "modules" / sub.name)
    candidates.append(parent / sub.path)
    for candidate in candidates:
        if (
            candidate.exists()
            and is_repository(candidate)
            and has_commit(candidate, sub.sha)
            # parent/sub.path without its own .git resolves to the parent repository.
            and _git_dir(candidate) != git_dir
        ):
            return candidate
    if not sub.url:
        raise NotFoundError(
            f"Submodule '{sub.path}' (commit {sub.sha[:12]}) has no URL in .gitmodules "
            "and its commit is not on this machine.",
            hint="Run `git submodule update --init --recursive` in the project.",
        )
    url = _absolute_url(sub.url, parent)
    mirror = cache / hashlib.sha256(url.encode()).hexdigest()[:16]
    # Local-path URLs are refused by git >= 2.38 for submodules unless allowed.
    allow = ("protocol.file.allow=always",)
    if not (mirror / "HEAD").exists():
        mirror.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".mirror-", dir=mirror.parent))
        try:
            git(tmp, "init", "-q", "--bare", str(tmp), config=allow)
            git(tmp, "remote", "add", "origin", url)
            os.replace(tmp, mirror)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    if not has_commit(mirror, sub.sha):
        try:
            git(mirror, "fetch", "-q", "origin", sub.sha, config=allow)
        except ExternalToolError:
            # Servers that refuse fetching by SHA still serve every branch and tag.
            git(
                mirror,
                "fetch",
                "-q",
                "origin",
                "+refs/heads/*:refs/heads/*",
                "--tags",
                config=allow,
            )
    if not has_commit(mirror, sub.sha):
        raise NotFoundError(
            f"Submodule '{sub.path}' points at commit {sub.sha[:12]}, which {url} does not have.",
            hint="Push that submodule commit, or update the submodule pointer.",
        )
    return mirror


def _extract_tree(repo: Path, sha: str, target: Path) -> None:
    data = git_bytes(repo, "archive", "--format=tar", sha)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        # The archive comes from our own git; the filter still refuses absolute paths,
        # links escaping the target and device files.
        try:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(target, filter="data")
            else:  # Python 3.10 before 3.10.12 has no extraction filters
                tar.extractall(target)
        except tarfile.TarError as exc:
            raise ExternalToolError(
                f"Commit {sha[:12]} of {repo} holds a file that cannot be exported safely: {exc}.",
                hint="Symbolic links must stay inside the repository.",
            ) from None


def export_commit(repo: Path, sha: str, target: Path, *, submodule_cache: Path) -> list[str]:
    """Write the files of commit ``sha`` (submodules included, recursively) to ``target``.

    The export is assembled in a temporary folder beside ``target`` and renamed into
    place, so ``target`` either does not exist or is complete. Returns the submodule
    paths exported.
    """
    if target.exists():
        return []
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    exported: list[str] = []
    try:
        _export_into(repo, sha, tmp, submodule_cache, "", exported)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return exported


def _export_into(
    repo: Path, sha: str, dest: Path, cache: Path, prefix: str, exported: list[str]
) -> None:
    _extract_tree(repo, sha, dest)
    for sub in submodules_at(repo, sha):
        source = _submodule_source(repo, sub, cache)
        sub_dest = dest / sub.path
        sub_dest.mkdir(parents=True, exist_ok=True)
        exported.append(prefix + sub.path)
        _export_into(source, sub.sha, sub_dest, cache, f"{prefix}{sub.path}/", exported)
