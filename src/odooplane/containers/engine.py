"""The Docker engine, driven through its own command line.

odooplane talks to Docker with the ``docker`` program (the engine's API through the
client every operator already has and trusts), never through a Python SDK: what
odooplane does can be replayed by hand from its logs. Every failure becomes a sentence
naming the command and the engine's own words.

Images are built with the classic builder (``DOCKER_BUILDKIT=0``): it needs no buildx
plugin, works with every engine from 17.05 on, and its layer cache is what makes the
runtime layer shared between builds.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from odooplane.errors import ExternalToolError, NotFoundError

SETUP_HINT = (
    "Start the Docker engine (`dockerd`; on a CI machine `bash .ci/setup-docker` installs "
    "and starts it), or point DOCKER_HOST at one."
)
DEFAULT_TIMEOUT = 600.0


def docker_binary() -> str:
    found = os.environ.get("ODOOPLANE_DOCKER") or shutil.which("docker")
    if not found:
        raise NotFoundError("The `docker` command is not installed.", hint=SETUP_HINT)
    return found


@dataclass(frozen=True)
class ContextFile:
    """One file of a build context, from disk or from memory."""

    name: str
    data: bytes | None = None
    source: Path | None = None
    mode: int = 0o644


@dataclass(frozen=True)
class ContextTree:
    """A folder added to a build context under ``name``, minus what ``skip`` says."""

    name: str
    source: Path
    skip: Callable[[Path], bool] | None = None


ContextItem = ContextFile | ContextTree


def _write_context(items: Iterable[ContextItem], stream: IO[bytes]) -> None:
    """The build context as a tar stream. Owners and times are normalized: the classic
    builder's cache keys on content and mode, and the context says nothing of the host."""

    def normalize(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mtime = 0
        return info

    with tarfile.open(fileobj=stream, mode="w|") as tar:
        for item in items:
            if isinstance(item, ContextFile):
                if item.source is not None:
                    info = normalize(tar.gettarinfo(str(item.source), arcname=item.name))
                    info.mode = item.mode
                    with item.source.open("rb") as fh:
                        tar.addfile(info, fh)
                else:
                    data = item.data or b""
                    info = normalize(tarfile.TarInfo(item.name))
                    info.size = len(data)
                    info.mode = item.mode
                    tar.addfile(info, io.BytesIO(data))
                continue
            _add_tree(tar, item, normalize)


def _add_tree(
    tar: tarfile.TarFile, item: ContextTree, normalize: Callable[[tarfile.TarInfo], tarfile.TarInfo]
) -> None:
    root = item.source
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        rel = here.relative_to(root)
        dirs[:] = sorted(d for d in dirs if not (item.skip and item.skip(rel / d)))
        arc = f"{item.name}/{rel}" if str(rel) != "." else item.name
        info = normalize(tar.gettarinfo(str(here), arcname=arc))
        # Readable by the image's unprivileged user, whatever the host's umask was.
        info.mode |= 0o555
        tar.addfile(info)
        # A link to a folder is listed with the folders and never walked: add it as the
        # link it is, or the image would lack what the build has.
        for name in [d for d in dirs if (here / d).is_symlink()]:
            dirs.remove(name)
            tar.addfile(normalize(tar.gettarinfo(str(here / name), arcname=f"{arc}/{name}")))
        for name in sorted(files):
            path = here / name
            if item.skip and item.skip(rel / name):
                continue
            info = normalize(tar.gettarinfo(str(path), arcname=f"{arc}/{name}"))
            if info.isreg():
                info.mode |= 0o444
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            elif info.issym() or info.islnk():
                tar.addfile(info)


class Docker:
    """One Docker engine (the one ``docker`` reaches by default, or ``DOCKER_HOST``)."""

    def __init__(self, binary: str | None = None) -> None:
        self.binary = binary or docker_binary()

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of a ``docker`` command."""
        env = dict(os.environ)
        env["DOCKER_BUILDKIT"] = "0"
        # The classic builder's deprecation notice is not an error worth showing.
        env.setdefault("DOCKER_CLI_HINTS", "false")
        if extra:
            env.update(extra)
        return env

    def run(
        self,
        args: Sequence[str],
        *,
        check: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        input_text: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        argv = [self.binary, *args]
        try:
            result = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=timeout,
                input=input_text,
                env=self.env(env),
            )
        except subprocess.TimeoutExpired:
            raise ExternalToolError(
                f"`docker {' '.join(args[:3])}` did not finish within {timeout:.0f} s."
            ) from None
        except OSError as exc:
            raise ExternalToolError(f"{self.binary} cannot run: {exc.strerror}.") from None
        if check and result.returncode != 0:
            raise self.error(args, result.stderr or result.stdout)
        return result

    def error(self, args: Sequence[str], output: str) -> ExternalToolError:
        text = output.strip()
        if "Cannot connect to the Docker daemon" in text or "docker.sock" in text:
            return ExternalToolError(f"The Docker engine does not answer: {text}", hint=SETUP_HINT)
        tail = "\n".join(text.splitlines()[-12:])
        return ExternalToolError(f"`docker {' '.join(args[:2])}` failed: {tail}")

    def json(self, args: Sequence[str]) -> Any:
        return json.loads(self.run(args).stdout or "null")

    def version(self) -> str:
        """The engine's version; raises a sentence when it does not answer."""
        return self.run(["version", "--format", "{{.Server.Version}}"], timeout=30).stdout.strip()

    def available(self) -> bool:
        try:
            self.version()
        except (ExternalToolError, NotFoundError):
            return False
        return True

    # -- objects ------------------------------------------------------------------------

    def inspect(self, kind: str, name: str) -> dict[str, Any] | None:
        """``docker <kind> inspect name`` as a dict, or None when there is no such thing."""
        result = self.run([kind, "inspect", name], check=False, timeout=60)
        if result.returncode != 0:
            text = (result.stderr or "").lower()
            if "no such" in text or "not found" in text:
                return None
            raise self.error([kind, "inspect", name], result.stderr)
        data = json.loads(result.stdout)
        return data[0] if isinstance(data, list) and data else None

    def image(self, ref: str) -> dict[str, Any] | None:
        return self.inspect("image", ref)

    def names(self, kind: str, labels: Mapping[str, str]) -> list[str]:
        """Names (or ids) of containers, volumes or networks carrying ``labels``."""
        filters = [arg for k, v in labels.items() for arg in ("--filter", f"label={k}={v}")]
        if kind == "container":
            args = ["ps", "--all", "--format", "{{.Names}}", *filters]
        else:
            args = [kind, "ls", "--format", "{{.Name}}", *filters]
        return sorted(line for line in self.run(args).stdout.splitlines() if line.strip())

    # -- building -----------------------------------------------------------------------

    def build(
        self,
        items: Sequence[ContextItem],
        *,
        tag: str,
        labels: Mapping[str, str] | None = None,
        on_line: Callable[[str], None] | None = None,
        timeout: float = 3600.0,
    ) -> tuple[str, str]:
        """Build the Dockerfile of ``items`` (a context streamed from memory and disk) and
        tag it; returns (image id, the builder's output)."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="odooplane-build-") as tmp:
            iidfile = Path(tmp) / "iid"
            args = ["build", "--iidfile", str(iidfile), "--tag", tag, "--force-rm"]
            for key, value in sorted((labels or {}).items()):
                args += ["--label", f"{key}={value}"]
            args.append("-")
            proc = subprocess.Popen(
                [self.binary, *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=self.env(),
            )
            assert proc.stdin is not None and proc.stdout is not None
            failure: list[BaseException] = []

            def feed() -> None:
                assert proc.stdin is not None
                try:
                    _write_context(items, proc.stdin)
                except BrokenPipeError:
                    # The builder stopped reading: its own output says why.
                    return
                except BaseException as exc:  # reported below, after the builder ends
                    failure.append(exc)
                finally:
                    with contextlib.suppress(BrokenPipeError):
                        proc.stdin.close()

            feeder = threading.Thread(target=feed, daemon=True)
            feeder.start()
            lines: list[str] = []
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                lines.append(line)
                if on_line is not None:
                    on_line(line)
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise ExternalToolError(
                    f"Building image {tag} took over {timeout:.0f} s."
                ) from None
            feeder.join(timeout=60)
            output = "\n".join(lines)
            if failure:
                raise ExternalToolError(f"Sending the build context of {tag} failed: {failure[0]}")
            if code != 0 or not iidfile.is_file():
                raise ExternalToolError(
                    f"Building image {tag} failed:\n" + "\n".join(lines[-25:]),
                    hint=SETUP_HINT if "Cannot connect to the Docker daemon" in output else None,
                )
            return iidfile.read_text().strip(), output
