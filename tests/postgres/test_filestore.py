"""Filestore copies: hard links on one filesystem, a real copy across filesystems."""

from __future__ import annotations

import hashlib
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from odooplane.errors import RefusedError
from odooplane.postgres.filestore import (
    copy_filestore,
    filestore_size,
    move_filestore,
    remove_filestore,
)


def make_filestore(folder: Path, contents: list[bytes]) -> dict[str, bytes]:
    """A filestore laid out like Odoo's: <first two hex digits>/<sha1 of the content>."""
    files = {}
    for content in contents:
        digest = hashlib.sha1(content).hexdigest()
        relative = f"{digest[:2]}/{digest}"
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        files[relative] = content
    (folder / "checklist").mkdir(parents=True, exist_ok=True)
    return files


def test_copy_on_one_filesystem_hard_links_every_file(tmp_path: Path) -> None:
    source = tmp_path / "filestore" / "prod"
    files = make_filestore(source, [b"invoice pdf", b"logo png", b"x" * 100_000])
    result = copy_filestore(source, tmp_path / "filestore" / "staging")
    assert result.method == "hardlink"
    assert result.files == 3
    assert result.bytes == sum(len(c) for c in files.values())
    for relative, content in files.items():
        src, dst = source / relative, tmp_path / "filestore" / "staging" / relative
        assert dst.read_bytes() == content
        assert src.stat().st_ino == dst.stat().st_ino
    assert (tmp_path / "filestore" / "staging" / "checklist").is_dir()
    # No temporary folder is left beside the result.
    assert sorted(p.name for p in (tmp_path / "filestore").iterdir()) == ["prod", "staging"]


def test_deleting_one_side_keeps_the_other(tmp_path: Path) -> None:
    source = tmp_path / "a"
    files = make_filestore(source, [b"shared attachment"])
    copy_filestore(source, tmp_path / "b")
    assert remove_filestore(source)
    assert not source.exists()
    ((relative, content),) = files.items()
    assert (tmp_path / "b" / relative).read_bytes() == content


@pytest.fixture
def other_filesystem() -> Iterator[Path]:
    shm = Path("/dev/shm")
    if not shm.is_dir():
        pytest.skip("/dev/shm (a second filesystem) is not available")
    folder = shm / f"odooplane-test-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_copy_across_filesystems_falls_back(tmp_path: Path, other_filesystem: Path) -> None:
    source = tmp_path / "prod"
    files = make_filestore(source, [b"one", b"two"])
    assert source.stat().st_dev != other_filesystem.stat().st_dev
    result = copy_filestore(source, other_filesystem / "copy")
    assert result.method in ("copy", "reflink")
    for relative, content in files.items():
        copied = other_filesystem / "copy" / relative
        assert copied.read_bytes() == content
        assert copied.stat().st_ino != (source / relative).stat().st_ino


def test_missing_source_copies_nothing(tmp_path: Path) -> None:
    result = copy_filestore(tmp_path / "absent", tmp_path / "target")
    assert result.method == "none"
    assert not (tmp_path / "target").exists()
    assert copy_filestore(None, tmp_path / "target").method == "none"


def test_existing_target_is_refused(tmp_path: Path) -> None:
    make_filestore(tmp_path / "a", [b"1"])
    make_filestore(tmp_path / "b", [b"2"])
    with pytest.raises(RefusedError, match="already exists"):
        copy_filestore(tmp_path / "a", tmp_path / "b")


def test_move_and_remove(tmp_path: Path) -> None:
    make_filestore(tmp_path / "a", [b"1", b"2"])
    assert filestore_size(tmp_path / "a") == (2, 2)
    assert move_filestore(tmp_path / "a", tmp_path / "b")
    assert not (tmp_path / "a").exists()
    assert filestore_size(tmp_path / "b") == (2, 2)
    assert not move_filestore(tmp_path / "a", tmp_path / "c")
    make_filestore(tmp_path / "c", [b"3"])
    with pytest.raises(RefusedError):
        move_filestore(tmp_path / "b", tmp_path / "c")
    assert remove_filestore(tmp_path / "b")
    assert not remove_filestore(tmp_path / "b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]
