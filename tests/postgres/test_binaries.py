"""Finding the PostgreSQL programs of this machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from odooplane.errors import ConfigError
from odooplane.postgres.binaries import CLIENT_TOOLS, SERVER_TOOLS, find_binaries


def test_server_programs_are_found_with_their_version() -> None:
    found = find_binaries()
    for tool in SERVER_TOOLS:
        assert found.tool(tool).is_file()
    assert found.major >= 12
    # A PATH symlink leads to the real folder, where initdb's siblings are.
    assert (found.bin_dir / "pg_ctl").is_file()


def test_configured_folder_wins(tmp_path: Path) -> None:
    real = find_binaries().bin_dir
    assert find_binaries(str(real)).bin_dir == real
    with pytest.raises(ConfigError) as info:
        find_binaries(str(tmp_path))
    assert "database.postgres_bin" in info.value.message
    assert "initdb" in info.value.message


def test_client_programs_and_minimum_version() -> None:
    found = find_binaries(tools=CLIENT_TOOLS, min_major=10)
    for tool in CLIENT_TOOLS:
        assert (found.bin_dir / tool).exists()
    # Asking for a version newer than any installed falls back to the newest there is.
    newest = find_binaries(tools=CLIENT_TOOLS, min_major=99)
    assert newest.major < 99 and (newest.bin_dir / "pg_dump").exists()
