"""TCP ports on this machine: is one free, who holds it, pick a free one, read a range.

The low-level helpers every part uses (the embedded PostgreSQL, Odoo processes, the
mail catcher, the environments' port registry in :mod:`odooplane.environments.ports`).
Freedom is checked by binding, with ``SO_REUSEADDR`` as Odoo and PostgreSQL bind: a
port in TIME_WAIT is usable, a listener is not.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import socket
from pathlib import Path

import psutil  # type: ignore[import-untyped, unused-ignore]

from odooplane.errors import ConfigError, RefusedError


def port_range(variable: str, default: tuple[int, int]) -> tuple[int, int]:
    """The port range named by the environment ``variable`` (``LOW-HIGH``), else ``default``."""
    raw = os.environ.get(variable)
    if not raw:
        return default
    example = f"{default[0]}-{default[1]}"
    try:
        low_s, high_s = raw.split("-", 1)
        low, high = int(low_s), int(high_s)
    except ValueError:
        raise ConfigError(f"{variable}='{raw}' is not a port range such as {example}.") from None
    if not 1024 <= low < high <= 65535:
        raise ConfigError(f"{variable}='{raw}' must lie within 1024-65535, low before high.")
    return low, high


def is_port_free(port: int, host: str = "0.0.0.0") -> bool:
    """True when nothing listens on ``port`` (checked by binding it, as Odoo will)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Odoo sets SO_REUSEADDR too: a port in TIME_WAIT is usable, a listener is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def port_user(port: int) -> str:
    """A description of the process listening on ``port`` (best effort)."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
                if conn.pid:
                    try:
                        proc = psutil.Process(conn.pid)
                        return f"pid {conn.pid} ({' '.join(proc.cmdline()[:4])})"
                    except psutil.Error:
                        return f"pid {conn.pid}"
                return "another process"
    except psutil.Error:
        pass
    return "another process"


def ensure_port_free(port: int, what: str) -> None:
    if not is_port_free(port):
        raise RefusedError(
            f"Port {port} ({what}) is already in use by {port_user(port)}.",
            hint="Stop that process, or set another port under odoo_options "
            "(http_port / gevent_port) for this environment in odooplane.yaml.",
        )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_port_below_ephemeral(host: str = "127.0.0.1") -> int:
    """A free TCP port, preferably below the kernel's ephemeral range so an outgoing
    connection does not grab it while its server is stopped."""
    low = 32768
    with contextlib.suppress(OSError, ValueError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    if low > 20000:
        for _ in range(64):
            port = random.randint(20000, low - 1)
            if is_port_free(port, host):
                return port
    return free_port(host)
