"""Hostnames the router serves: validation, which ones are local, their URLs.

A hostname is *local* when no public certificate authority could ever vouch for it:
``localhost`` and ``*.localhost`` (which resolve to 127.0.0.1 on their own, so a browser
on the machine reaches a preview by name without any DNS), IP addresses, and the
reserved suffixes ``.local``, ``.test``, ``.internal``, ``.lan`` and ``.home.arpa``.
Caddy serves local names with its own internal certificate authority (or plain HTTP),
and real domains with automatic HTTPS.
"""

from __future__ import annotations

import ipaddress
import re

from odooplane.errors import UsageError

_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
LOCAL_SUFFIXES = (".localhost", ".local", ".test", ".internal", ".lan", ".home.arpa")
MAX_HOSTNAME = 253


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_local(host: str) -> bool:
    """True for names only this machine or network can resolve (no public certificate)."""
    host = host.lower().rstrip(".")
    return host == "localhost" or is_ip(host) or host.endswith(LOCAL_SUFFIXES)


def normalize_hostname(host: str, *, what: str = "hostname") -> str:
    """``host`` lowercased and checked as a DNS name (or an IP address)."""
    value = host.strip().lower().rstrip(".")
    if is_ip(value):
        return value
    labels = value.split(".")
    if not value or len(value) > MAX_HOSTNAME or not all(_LABEL_RE.match(x) for x in labels):
        raise UsageError(
            f"'{host}' is not a valid {what}: use DNS labels of letters, digits and '-' "
            "(at most 63 characters each), such as pr-12-login.previews.example.com."
        )
    return value


def url_for(host: str, *, https: bool, port: int) -> str:
    """The URL people open for ``host`` served on ``port`` (default ports left out)."""
    scheme = "https" if https else "http"
    default = 443 if https else 80
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" + ("" if port == default else f":{port}")
