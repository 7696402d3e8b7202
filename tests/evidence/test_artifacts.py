"""Artifact layout, hashing, compression."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

from fixtures_disk import fill
from odooplane.errors import ConfigError
from odooplane.evidence.artifacts import (
    ArtifactLayout,
    ArtifactWriter,
    compress,
    parse_offset,
    parse_stamp,
    read_artifact,
    sha256_of,
    stamp,
    write_artifact,
)
from odooplane.evidence.redact import Redactor

MOMENT = datetime(2026, 3, 14, 7, 30, tzinfo=timezone.utc)


def test_folder_stamp_uses_the_configured_offset(tmp_path: Path) -> None:
    assert stamp(MOMENT, parse_offset("+0800")) == "20260314-1530+0800"
    assert stamp(MOMENT, parse_offset("-05:30")) == "20260314-0200-0530"
    assert stamp(MOMENT, parse_offset("UTC")) == "20260314-0730+0000"
    layout = ArtifactLayout(tmp_path / "web/docs/evidence", tmp_path, parse_offset("+0800"))
    logs = layout.logs_dir(MOMENT, "deploy staging/1")
    assert logs == tmp_path / "web/docs/evidence/20260314-1530+0800/deploy-staging-1/logs"
    assert layout.to_record(logs) == "web/docs/evidence/20260314-1530+0800/deploy-staging-1/logs"
    assert layout.from_record("/abs/x.log") == Path("/abs/x.log")
    assert parse_stamp("20260314-1530+0800") == MOMENT
    assert parse_stamp("notes") is None


@pytest.mark.parametrize("value", ["8", "+8", "+2500", "Asia/Shanghai", "+08:75"])
def test_a_bad_offset_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError, match=r"evidence\.timezone"):
        parse_offset(value)


def test_writer_hashes_what_it_writes_after_redaction(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "01-step.log"
    writer = ArtifactWriter(path, Redactor(["topsecret"]))
    writer.write("one topsec")
    writer.write("ret two\nthree")
    sha, size = writer.close()
    data = path.read_bytes()
    assert data == b"one *** two\nthree"
    assert sha == hashlib.sha256(data).hexdigest() and size == len(data)
    assert sha256_of(path) == sha


def test_compressed_artifacts_read_back_the_same(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    sha, _ = write_artifact(path, "line 1\nline 2\n", Redactor())
    compressed = compress(path)
    assert compressed.name == "a.log.gz" and not path.exists()
    assert read_artifact(path) == "line 1\nline 2\n"
    assert read_artifact(path, start=7) == "line 2\n"
    assert sha256_of(path) == sha
    with pytest.raises(FileExistsError):
        write_artifact(path, "again", Redactor())
    assert read_artifact(tmp_path / "gone.log") is None


def test_a_full_disk_stops_the_log_not_the_writer(small_disk: Callable[..., Path]) -> None:
    disk = small_disk()
    fill(disk)
    writer = ArtifactWriter(disk / "logs" / "01-step.log", Redactor(["topsecret"]))
    for number in range(200):
        writer.write(f"line {number} topsecret\n")
    sha, size = writer.close()
    assert sha is None, "an incomplete file must not get a hash that claims it whole"
    assert size > 0
    assert writer.error is not None and "No space left on device" in writer.error
    assert writer.tail.splitlines()[-1] == "line 199 ***"
    assert "topsecret" not in writer.tail
