"""The Docker engine's build context, written as a real tar stream: files from memory
and disk, folders minus what is skipped, owners and times normalized so the cache keys
on content (running the engine itself: tests/backends/test_docker.py)."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from odooplane.containers.engine import (
    ContextFile,
    ContextTree,
    _write_context,
    docker_binary,
)
from odooplane.errors import NotFoundError


def _tar(items: list[ContextFile | ContextTree]) -> dict[str, tarfile.TarInfo]:
    stream = io.BytesIO()
    _write_context(items, stream)
    stream.seek(0)
    with tarfile.open(fileobj=stream, mode="r") as tar:
        members = {m.name: m for m in tar.getmembers()}
        for member in members.values():
            if member.isreg():
                extracted = tar.extractfile(member)
                assert extracted is not None
                member.pax_headers = {"data": extracted.read().decode()}
    return members


def test_files_and_trees(tmp_path: Path) -> None:
    code = tmp_path / "code"
    (code / "addons" / "sale_x").mkdir(parents=True)
    (code / "addons" / "sale_x" / "__init__.py").write_text("x = 1\n")
    (code / "addons" / "sale_x" / "__init__.py").chmod(0o600)  # a strict umask's file
    (code / "addons").chmod(0o700)
    (code / ".git").mkdir()
    (code / ".git" / "HEAD").write_text("ref\n")
    (code / "addons" / "sale_x" / "notes.pyc").write_text("junk")
    (code / "link").symlink_to("addons")
    entry = tmp_path / "entry.sh"
    entry.write_text("#!/bin/sh\n")
    members = _tar(
        [
            ContextFile("Dockerfile", data=b"FROM scratch\n"),
            ContextFile("entrypoint.sh", source=entry, mode=0o755),
            ContextTree(
                "project",
                code,
                skip=lambda rel: rel.parts[0] == ".git" or rel.suffix == ".pyc",
            ),
        ]
    )
    assert sorted(members) == [
        "Dockerfile",
        "entrypoint.sh",
        "project",
        "project/addons",
        "project/addons/sale_x",
        "project/addons/sale_x/__init__.py",
        "project/link",
    ]
    assert members["Dockerfile"].pax_headers["data"] == "FROM scratch\n"
    assert members["entrypoint.sh"].mode == 0o755
    # Readable by the image's unprivileged user whatever the host's umask was.
    assert members["project/addons/sale_x/__init__.py"].mode & 0o444 == 0o444
    assert members["project/addons"].mode & 0o555 == 0o555
    assert members["project/link"].issym() and members["project/link"].linkname == "addons"
    for member in members.values():
        assert (member.uid, member.gid, member.uname, member.mtime) == (0, 0, "root", 0)


def test_the_same_content_gives_the_same_bytes(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f").write_text("same")
    first = io.BytesIO()
    _write_context([ContextTree("a", tmp_path / "a")], first)
    os.utime(tmp_path / "a" / "f", (1, 1))
    second = io.BytesIO()
    _write_context([ContextTree("a", tmp_path / "a")], second)
    assert first.getvalue() == second.getvalue()


def test_docker_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ODOOPLANE_DOCKER", "/opt/docker/bin/docker")
    assert docker_binary() == "/opt/docker/bin/docker"
    monkeypatch.delenv("ODOOPLANE_DOCKER")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NotFoundError, match=r"The `docker` command is not installed\."):
        docker_binary()
