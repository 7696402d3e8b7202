"""Small values config check used to accept and a later command failed on (issue 10):
an unknown time zone, a malformed server URL, unusable branch patterns."""

from __future__ import annotations

from datetime import timedelta, timezone
from pathlib import Path

import pytest

from fixtures_config import VALID, issues_of, write
from odooplane.config import load_config
from odooplane.config.values import parse_timezone
from odooplane.globs import bracket_problem


def test_time_zones() -> None:
    assert parse_timezone("+0800") == timezone(timedelta(hours=8))
    assert parse_timezone("-05:30") == timezone(-timedelta(hours=5, minutes=30))
    assert parse_timezone("UTC") == timezone.utc
    for bad in ("Mars/Olympus", "Europe/Brussels", "+2500", "../../etc/passwd", "", "8"):
        assert parse_timezone(bad) is None, bad


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Asia/Shanghai", "+2500", "8 hours"])
def test_unknown_time_zone_is_refused(tmp_path: Path, zone: str) -> None:
    """config check accepted these; `history` then refused them (issue 10)."""
    path = write(tmp_path, VALID + f"evidence:\n  timezone: '{zone}'\n")
    [issue] = issues_of(path)
    assert issue.path == "evidence.timezone" and "is not a UTC offset" in issue.message


def test_offsets_are_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "evidence:\n  timezone: '-05:30'\n")
    assert load_config(path, environ={}).evidence.timezone == "-05:30"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://u:p@[::1:5432/db", "Invalid IPv6 URL"),
        ("postgresql://u:p@host:99999/db", "Port out of range"),
        ("postgresql://u:p@host:0/db", "port 0"),
        ("postgresql://u:p@:5432/db", "names no host"),
    ],
)
def test_malformed_server_urls(tmp_path: Path, url: str, says: str) -> None:
    path = write(tmp_path, VALID + f"database:\n  server: '{url}'\n")
    [issue] = issues_of(path)
    assert issue.path == "database.server" and says in issue.message
    assert ":p@" not in issue.message  # the password is never repeated


def test_socket_url_is_accepted(tmp_path: Path) -> None:
    url = "postgresql:///postgres?host=/var/run/postgresql"
    path = write(tmp_path, VALID + f"database:\n  server: '{url}'\n")
    assert load_config(path, environ={}).database.server == url


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        ("[", "never closed"),
        ("[a-", "never closed"),
        ("feature/[", "never closed"),
        ("[]]", "starts with ']'"),
        ("[!]]", "starts with ']'"),
        ("x[z-a]", "reversed"),
    ],
)
def test_unusable_branch_patterns(tmp_path: Path, pattern: str, says: str) -> None:
    path = write(tmp_path, VALID.replace('branches: ["*"]', f'branches: ["{pattern}"]'))
    [issue] = issues_of(path)
    assert issue.path == "environments.dev.branches[0]" and says in issue.message


@pytest.mark.parametrize("pattern", ["*", "feature/*", "release-[0-9]*", "[!x]y", "v?.?"])
def test_usable_branch_patterns(pattern: str) -> None:
    assert bracket_problem(pattern) is None


@pytest.mark.parametrize(
    ("extra", "path", "says"),
    [
        ("routing:\n  listen: 'not an ip'\n", "routing.listen", "not an IP address"),
        ("neutralization:\n  cron_allowlist: ['']\n", "neutralization.cron_allowlist[0]", "XML id"),
        ("previews:\n  ttl_hours: 1000000000000000000000\n", "previews.ttl_hours", "at most"),
        ("previews:\n  idle_minutes: 99999999999\n", "previews.idle_minutes", "at most"),
    ],
)
def test_values_a_later_command_would_choke_on(
    tmp_path: Path, extra: str, path: str, says: str
) -> None:
    """Found by trying bad inputs: Caddy failed to bind, a date overflowed (issue 10)."""
    [issue] = issues_of(write(tmp_path, VALID + extra))
    assert issue.path == path and says in issue.message


def test_listen_addresses_are_accepted(tmp_path: Path) -> None:
    for address in ("", "127.0.0.1", "::1", "0.0.0.0"):
        path = write(tmp_path, VALID + f"routing:\n  listen: '{address}'\n")
        assert load_config(path, environ={}).routing.listen == address
