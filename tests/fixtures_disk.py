"""A really full disk: a tiny tmpfs mounted for the test (root only), so writes fail
with ENOSPC the way they do on a full artifacts disk."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def _mount_tmpfs(target: Path, size: str) -> str | None:
    """Mount a tmpfs of ``size`` on ``target``; the reason it could not, or None."""
    if os.geteuid() != 0:
        return "mounting a small tmpfs needs root"
    target.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return f"mount -t tmpfs failed: {(result.stderr or result.stdout).strip()}"
    return None


def fill(folder: Path) -> None:
    """Fill the filesystem holding ``folder`` to its last byte."""
    block = b"\0" * 4096
    with (folder / ".filler").open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(block)
        except OSError:
            pass
        try:
            while True:
                fh.write(b"\0")
        except OSError:
            pass


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """``small_disk(name="disk", size="256k")``: a folder on its own tiny tmpfs;
    ``fill(folder)`` then makes every further write fail with ENOSPC."""
    mounted: list[Path] = []

    def make(name: str = "disk", size: str = "256k") -> Path:
        target = tmp_path / name
        reason = _mount_tmpfs(target, size)
        if reason is not None:
            pytest.skip(f"no small filesystem for a full-disk test: {reason}")
        mounted.append(target)
        return target

    yield make
    for target in reversed(mounted):
        subprocess.run(["umount", "-l", str(target)], check=False)
