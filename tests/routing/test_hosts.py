"""Hostnames the router serves: checked as DNS names, local ones told apart from those a
public certificate authority can vouch for, and the URLs people open."""

from __future__ import annotations

import pytest

from odooplane.errors import UsageError
from odooplane.routing.hosts import is_ip, is_local, normalize_hostname, url_for


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("localhost", True),
        ("LOCALHOST.", True),
        ("pr-12.localhost", True),
        ("127.0.0.1", True),
        ("::1", True),
        ("10.1.2.3", True),
        ("odoo.local", True),
        ("shop.test", True),
        ("erp.corp.internal", True),
        ("nas.lan", True),
        ("printer.home.arpa", True),
        ("shop.example.com", False),
        ("localhost.example.com", False),
        ("testing.com", False),
    ],
)
def test_is_local(host: str, local: bool) -> None:
    assert is_local(host) is local


def test_is_ip() -> None:
    assert is_ip("192.168.0.1") and is_ip("fe80::1")
    assert not is_ip("example.com") and not is_ip("999.1.1.1")


def test_normalize_lowercases_and_strips() -> None:
    assert normalize_hostname("  PR-12-Login.Previews.Example.COM. ") == (
        "pr-12-login.previews.example.com"
    )
    assert normalize_hostname("::1") == "::1"
    assert normalize_hostname("a" * 63 + ".com") == "a" * 63 + ".com"


@pytest.mark.parametrize(
    "bad",
    ["", "-shop.com", "shop-.com", "sh_op.com", "a..b", "a" * 64 + ".com", "x." * 127 + "com"],
)
def test_invalid_names_are_refused_with_a_sentence(bad: str) -> None:
    with pytest.raises(UsageError) as info:
        normalize_hostname(bad, what="preview hostname")
    assert f"'{bad}' is not a valid preview hostname" in str(info.value)
    assert "pr-12-login.previews.example.com" in str(info.value)


def test_url_for_leaves_default_ports_out() -> None:
    assert url_for("shop.example.com", https=True, port=443) == "https://shop.example.com"
    assert url_for("shop.example.com", https=False, port=80) == "http://shop.example.com"
    assert url_for("shop.test", https=True, port=8443) == "https://shop.test:8443"
    assert url_for("127.0.0.1", https=False, port=443) == "http://127.0.0.1:443"
    assert url_for("::1", https=False, port=8069) == "http://[::1]:8069"
