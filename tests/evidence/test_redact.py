"""Redaction: known values and secret-looking keys never reach evidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from odooplane.evidence.redact import MASK, Redactor, key_looks_secret, redactor_for


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("db_password=hunter22 other", "db_password=*** other"),
        ('cfg {"api_key": "abc def", "x": 1}', 'cfg {"api_key": "***", "x": 1}'),
        ("odoo-bin --db_password hunter22 -d x", "odoo-bin --db_password *** -d x"),
        ("Authorization: Bearer abcdefghijkl123", "Authorization: *** ***"),
        ("curl -H 'X: Bearer abcdefghijkl123'", "curl -H 'X: Bearer ***'"),
        ("postgresql://odoo:pw123@db:5432/x", "postgresql://odoo:***@db:5432/x"),
        ("PASSWORD='with space' after", "PASSWORD='***' after"),
        ("admin_passwd = False", "admin_passwd = False"),
        ("SECRET_KEY: abcdef", "SECRET_KEY: ***"),
    ],
)
def test_secret_looking_keys_are_masked(text: str, expected: str) -> None:
    assert Redactor().text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "12 passed, 0 failed; author: Ann",
        "cd $PWD && ls",
        "Running odoo-bin --log-level=error",
        "module sale: 17.0.1.0 -> 17.0.1.1",
    ],
)
def test_ordinary_output_is_left_alone(text: str) -> None:
    assert Redactor().text(text) == text


def test_known_values_are_masked_anywhere() -> None:
    redactor = Redactor(["s3cr3t-value", "s3cr3t"])
    assert redactor.text("a s3cr3t-value b s3cr3t c") == f"a {MASK} b {MASK} c"


def test_structures_mask_values_under_secret_keys() -> None:
    redactor = Redactor(["leaked-value-1"])
    data = {
        "password": "x1",
        "env": {"GITHUB_TOKEN": "abc", "WORKERS": 2},
        "message": "see leaked-value-1",
        "items": [1, "token: zzz"],
        "author": "Ann",
    }
    assert redactor.value(data) == {
        "password": MASK,
        "env": {"GITHUB_TOKEN": MASK, "WORKERS": 2},
        "message": f"see {MASK}",
        "items": [1, f"token: {MASK}"],
        "author": "Ann",
    }


def test_redactor_for_reads_env_files_urls_and_the_environment(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SMTP_PASSWORD=abc\nLONG_VALUE=not-short-1234\nWORKERS=2\nDEBUG=1\n")
    redactor = redactor_for(
        [env_file, tmp_path / "missing.env"],
        urls=["postgresql://u:urlpass99@h/db", None, "embedded"],
        environ={"GH_TOKEN": "ghp_abcdefgh", "HOME": "/root"},
    )
    text = "abc not-short-1234 urlpass99 ghp_abcdefgh 2 1 /root"
    assert redactor.text(text) == f"{MASK} {MASK} {MASK} {MASK} 2 1 /root"


def test_key_classification() -> None:
    assert key_looks_secret("DB_PASSWORD")
    assert key_looks_secret("stripe_api_key")
    assert key_looks_secret("client-secret")
    assert not key_looks_secret("author")
    assert not key_looks_secret("PWD")
    assert not key_looks_secret("passed")
    assert not key_looks_secret("reset_passwords")
