from __future__ import annotations

import os
from pathlib import Path

from odooplane.fsutil import read_json, write_atomic, write_json_atomic


def test_write_atomic_creates_with_umask_mode(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "file.txt"
    old = os.umask(0o022)
    try:
        write_atomic(target, "hello")
    finally:
        os.umask(old)
    assert target.read_text() == "hello"
    assert target.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["file.txt"]


def test_write_atomic_keeps_existing_mode_and_explicit_mode(tmp_path: Path) -> None:
    target = tmp_path / "secret.conf"
    write_atomic(target, "a", mode=0o600)
    assert target.stat().st_mode & 0o777 == 0o600
    write_atomic(target, b"b")
    assert target.read_bytes() == b"b"
    assert target.stat().st_mode & 0o777 == 0o600


def test_json_round_trip_and_default(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    assert read_json(target, default={"none": True}) == {"none": True}
    write_json_atomic(target, {"b": 1, "a": [1, 2]})
    assert read_json(target) == {"a": [1, 2], "b": 1}
