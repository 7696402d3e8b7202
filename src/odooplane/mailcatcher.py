"""The mail catcher: a real SMTP server that keeps every mail of non-production environments.

One catcher process per project (a detached daemon) listens on **one port per
environment**: the port a message arrives on says which environment sent it, whatever
the sender, the headers or the SMTP client (Odoo, a script, a test). Neutralization
points the environment's only active ``ir_mail_server`` (and its ``odoo.conf``) at that
port, so nothing else is needed to tell environments apart.

Layout under the project's state folder::

    .odooplane/mail/
        ports.json          {environment: port}, allocated once, kept for life
        catcher.json        the running daemon: pid, host, ports it listens on
        catcher.log         its log
        <environment>/
            index.jsonl     one JSON line per message (id, date, from, to, subject...)
            <id>.eml        the message exactly as received

Ports come from a machine-wide registry in the user's cache (``mail-ports.json``), so two
projects on one machine never share one. The daemon re-reads ``ports.json`` twice a
second: an environment created while it runs starts being caught without a restart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.parser
import email.policy
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import filelock
import psutil  # type: ignore[import-untyped, unused-ignore]

from odooplane.errors import ExternalToolError, NotFoundError, RefusedError
from odooplane.fsutil import read_json, write_atomic, write_json_atomic
from odooplane.paths import cache_dir
from odooplane.ports import is_port_free, port_range
from odooplane.results import Result

DEFAULT_HOST = "127.0.0.1"
RANGE_ENV = "ODOOPLANE_MAIL_PORT_RANGE"
DEFAULT_RANGE = (2525, 3524)
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
RELOAD_SECONDS = 0.5


# -- where things are ---------------------------------------------------------------------


def mail_root(state_dir: Path) -> Path:
    return state_dir / "mail"


def mail_dir(state_dir: Path, environment: str) -> Path:
    return mail_root(state_dir) / environment


def _ports_file(state_dir: Path) -> Path:
    return mail_root(state_dir) / "ports.json"


def _daemon_file(state_dir: Path) -> Path:
    return mail_root(state_dir) / "catcher.json"


def log_file(state_dir: Path) -> Path:
    return mail_root(state_dir) / "catcher.log"


def _registry() -> Path:
    return cache_dir() / "mail-ports.json"


# -- ports --------------------------------------------------------------------------------


def allocated_ports(state_dir: Path) -> dict[str, int]:
    data = read_json(_ports_file(state_dir), default={})
    return {str(k): int(v) for k, v in data.items()} if isinstance(data, dict) else {}


def catcher_address(
    state_dir: Path, environment: str, *, host: str = DEFAULT_HOST
) -> tuple[str, int]:
    """The ``(host, port)`` that catches ``environment``'s mail, allocated on first use."""
    mine = allocated_ports(state_dir)
    if environment in mine:
        return host, mine[environment]
    registry_path = _registry()
    registry_path.parent.mkdir(parents=True, exist_ok=True)
    key_root = str(state_dir.resolve())
    with filelock.FileLock(str(registry_path) + ".lock", timeout=30):
        registry = read_json(registry_path, default={})
        if not isinstance(registry, dict):
            registry = {}
        # Projects whose state folder is gone give their ports back.
        registry = {k: int(v) for k, v in registry.items() if Path(k.split("::", 1)[0]).is_dir()}
        mine = allocated_ports(state_dir)
        if environment not in mine:
            taken = set(registry.values())
            low, high = port_range(RANGE_ENV, DEFAULT_RANGE)
            port = next(
                (p for p in range(low, high + 1) if p not in taken and is_port_free(p, host)), None
            )
            if port is None:
                raise RefusedError(
                    f"No free mail catcher port left between {low} and {high}.",
                    hint="Destroy unused environments or widen the range with "
                    f"{RANGE_ENV}=LOW-HIGH.",
                )
            mine[environment] = port
            registry[f"{key_root}::{environment}"] = port
            write_json_atomic(registry_path, registry)
            write_json_atomic(_ports_file(state_dir), mine)
    return host, mine[environment]


# -- messages -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CaughtMessage(Result):
    id: str
    received_at: str
    mail_from: str
    rcpt_tos: list[str]
    subject: str
    header_from: str
    header_to: str
    message_id: str
    size: int
    peer: str = ""


class MailStore:
    """The messages of one environment: ``.eml`` files plus an append-only index."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def index(self) -> Path:
        return self.folder / "index.jsonl"

    def save(
        self, mail_from: str, rcpt_tos: list[str], content: bytes, peer: str = ""
    ) -> CaughtMessage:
        self.folder.mkdir(parents=True, exist_ok=True)
        now = datetime.now(timezone.utc)
        msg_id = f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(content)
        entry = CaughtMessage(
            id=msg_id,
            received_at=now.isoformat(timespec="seconds"),
            mail_from=mail_from,
            rcpt_tos=list(rcpt_tos),
            subject=str(headers.get("Subject", "")),
            header_from=str(headers.get("From", "")),
            header_to=str(headers.get("To", "")),
            message_id=str(headers.get("Message-Id", "")),
            size=len(content),
            peer=peer,
        )
        # The message first, the index line last: an index entry always has its file.
        write_atomic(self.folder / f"{msg_id}.eml", content)
        with self.index.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry.to_dict(), sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return entry

    def list(self) -> list[CaughtMessage]:
        try:
            lines = self.index.read_text("utf-8").splitlines()
        except FileNotFoundError:
            return []
        messages: list[CaughtMessage] = []
        for line in lines:
            try:
                data = json.loads(line)
            except ValueError:
                continue  # a line being written right now
            messages.append(CaughtMessage(**data))
        return messages

    def path(self, msg_id: str) -> Path:
        return self.folder / f"{msg_id}.eml"


def list_messages(state_dir: Path, environment: str) -> list[CaughtMessage]:
    """Messages caught for ``environment``, oldest first."""
    return MailStore(mail_dir(state_dir, environment)).list()


def find_message(
    state_dir: Path, environment: str, msg_id: str | None = None
) -> tuple[CaughtMessage, Path]:
    """One message (the latest when ``msg_id`` is None, or a unique id prefix)."""
    messages = list_messages(state_dir, environment)
    if not messages:
        raise NotFoundError(f"No mail has been caught for environment '{environment}'.")
    if msg_id is None:
        chosen = messages[-1]
    else:
        matches = [m for m in messages if m.id == msg_id] or [
            m for m in messages if m.id.startswith(msg_id)
        ]
        if not matches:
            raise NotFoundError(
                f"No caught mail '{msg_id}' for environment '{environment}'.",
                hint=f"`odooplane mail list {environment}` shows the ids.",
            )
        if len(matches) > 1:
            raise NotFoundError(
                f"'{msg_id}' matches {len(matches)} mails of '{environment}'; give more of the id."
            )
        chosen = matches[0]
    return chosen, MailStore(mail_dir(state_dir, environment)).path(chosen.id)


def read_message(path: Path) -> EmailMessage:
    message = email.parser.BytesParser(policy=email.policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    return message


def message_text(message: EmailMessage) -> str:
    """The readable body: the plain text part, else the HTML one."""
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    try:
        return str(body.get_content())
    except (LookupError, ValueError):
        payload = body.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


# -- the daemon ---------------------------------------------------------------------------


@dataclass
class CatcherStatus(Result):
    running: bool
    pid: int | None = None
    host: str | None = None
    ports: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    started_at: str | None = None
    log: str | None = None


def _process_matches(info: dict[str, Any]) -> bool:
    """The pid in catcher.json is our daemon (alive, and not a recycled pid)."""
    pid = info.get("pid")
    if not isinstance(pid, int):
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        started = float(proc.create_time())
        return abs(started - float(info.get("pid_started", 0))) < 1.0
    except psutil.Error:
        return False


def catcher_status(state_dir: Path) -> CatcherStatus:
    info = read_json(_daemon_file(state_dir), default=None)
    log = str(log_file(state_dir))
    if not isinstance(info, dict) or not _process_matches(info):
        return CatcherStatus(running=False, ports=allocated_ports(state_dir), log=log)
    return CatcherStatus(
        running=True,
        pid=int(info["pid"]),
        host=str(info.get("host")),
        ports={str(k): int(v) for k, v in dict(info.get("ports", {})).items()},
        errors={str(k): str(v) for k, v in dict(info.get("errors", {})).items()},
        started_at=info.get("started_at"),
        log=log,
    )


def _log_tail(state_dir: Path, lines: int = 8) -> str:
    try:
        return "\n".join(log_file(state_dir).read_text("utf-8", "replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def _wait_for(
    state_dir: Path, ports: dict[str, int], proc: subprocess.Popen[bytes] | None
) -> CatcherStatus:
    wanted = ", ".join(f"{env}:{port}" for env, port in sorted(ports.items()))
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        status = catcher_status(state_dir)
        if status.running and all(status.ports.get(e) == p for e, p in ports.items()):
            return status
        if status.running and any(e in status.errors for e in ports):
            break
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.05)
    raise ExternalToolError(
        f"The mail catcher did not start listening on {wanted or 'its ports'}.",
        hint=f"Its log ({log_file(state_dir)}) ends with:\n{_log_tail(state_dir)}",
    )


def start_catcher(state_dir: Path, *, host: str = DEFAULT_HOST) -> CatcherStatus:
    """Start the project's catcher daemon (idempotent) and wait until it listens."""
    ports = allocated_ports(state_dir)
    root = mail_root(state_dir)
    root.mkdir(parents=True, exist_ok=True)
    # Two commands starting the catcher at once must not start two daemons.
    with filelock.FileLock(str(root / "catcher.lock"), timeout=START_TIMEOUT * 2):
        status = catcher_status(state_dir)
        if status.running:
            info = read_json(_daemon_file(state_dir), default={})
            # A daemon started by an older odooplane would die of SIGUSR1: only one
            # that says it listens for it is nudged.
            nudge = isinstance(info, dict) and info.get("nudge") == "SIGUSR1"
            if nudge and status.pid and any(status.ports.get(e) != p for e, p in ports.items()):
                with contextlib.suppress(OSError):
                    os.kill(status.pid, signal.SIGUSR1)
            return _wait_for(state_dir, ports, None)
        with log_file(state_dir).open("ab") as log:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "odooplane.mailcatcher",
                    "--state-dir",
                    str(state_dir),
                    "--host",
                    host,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                close_fds=True,
            )
        return _wait_for(state_dir, ports, proc)


def ensure_catcher(
    state_dir: Path, environment: str, *, host: str = DEFAULT_HOST
) -> tuple[str, int]:
    """Allocate ``environment``'s port, make sure the daemon catches it; return the address."""
    address = catcher_address(state_dir, environment, host=host)
    start_catcher(state_dir, host=host)
    return address


def listen_also_on(state_dir: Path, address: str) -> CatcherStatus:
    """Make the catcher listen on ``address`` too (the gateway of a container network,
    for containers whose 127.0.0.1 is their own); restarts it once when it must."""
    status = catcher_status(state_dir)
    hosts = (status.host or DEFAULT_HOST).split(",") if status.running else [DEFAULT_HOST]
    if status.running and address in hosts:
        return status
    if status.running:
        stop_catcher(state_dir)
    return start_catcher(state_dir, host=",".join([*hosts, address]))


def stop_catcher(state_dir: Path) -> CatcherStatus:
    """Stop the daemon (SIGTERM, then SIGKILL after a grace period); idempotent."""
    info = read_json(_daemon_file(state_dir), default=None)
    if isinstance(info, dict) and _process_matches(info):
        proc = psutil.Process(int(info["pid"]))
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT)
        except psutil.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT)
    with contextlib.suppress(FileNotFoundError):
        _daemon_file(state_dir).unlink()
    return catcher_status(state_dir)


class _Handler:
    def __init__(self, environment: str, store: MailStore) -> None:
        self.environment = environment
        self.store = store

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8")
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer or "")
        entry = self.store.save(
            str(envelope.mail_from or ""), list(envelope.rcpt_tos), content, peer
        )
        print(
            f"{entry.received_at} {self.environment}: {entry.id} to {', '.join(entry.rcpt_tos)}",
            flush=True,
        )
        return "250 Message accepted for delivery (odooplane mail catcher)"


def _smtp_factory(handler: _Handler) -> Callable[[], asyncio.BaseProtocol]:
    from aiosmtpd.smtp import SMTP

    def make() -> asyncio.BaseProtocol:
        return SMTP(handler, hostname="odooplane-mail-catcher", enable_SMTPUTF8=True)

    return make


async def _serve(state_dir: Path, host: str) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    nudged = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # SIGUSR1: an environment was just given a port (start_catcher); look now rather
    # than at the next reload.
    loop.add_signal_handler(signal.SIGUSR1, nudged.set)
    servers: dict[str, tuple[int, asyncio.Server]] = {}
    failed: dict[tuple[str, int], str] = {}
    me = psutil.Process(os.getpid())
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")

    def publish() -> None:
        write_json_atomic(
            _daemon_file(state_dir),
            {
                "pid": me.pid,
                "pid_started": me.create_time(),
                "host": host,
                "ports": {env: port for env, (port, _s) in servers.items()},
                "errors": {env: error for (env, _port), error in failed.items()},
                "started_at": started_at,
                "nudge": "SIGUSR1",
            },
        )

    publish()
    while not stop.is_set():
        wanted = allocated_ports(state_dir)
        changed = False
        for env in [e for e, (port, _s) in servers.items() if wanted.get(e) != port]:
            servers.pop(env)[1].close()
            changed = True
        for env, port in sorted(wanted.items()):
            if env in servers:
                continue
            try:
                server = await loop.create_server(
                    _smtp_factory(_Handler(env, MailStore(mail_dir(state_dir, env)))),
                    # One address, or several separated by commas (listen_also_on).
                    host=host.split(","),
                    port=port,
                    reuse_address=True,
                )
            except OSError as exc:
                if (env, port) not in failed:
                    failed[(env, port)] = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
                    print(f"cannot listen on {host}:{port} for {env}: {exc}", flush=True)
                    publish()
                continue
            servers[env] = (port, server)
            failed.pop((env, port), None)
            print(f"catching mail of {env} on {host}:{port}", flush=True)
            changed = True
        if changed:
            publish()
        nudged.clear()
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(nudged.wait())]
        _done, pending = await asyncio.wait(
            waits, timeout=RELOAD_SECONDS, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
    for _port, server in servers.values():
        server.close()
    with contextlib.suppress(FileNotFoundError):
        info = read_json(_daemon_file(state_dir), default={})
        if isinstance(info, dict) and info.get("pid") == me.pid:
            _daemon_file(state_dir).unlink()


def serve_forever(state_dir: Path, host: str = DEFAULT_HOST) -> None:
    """Run the catcher in the foreground until SIGTERM/SIGINT (the daemon's body)."""
    asyncio.run(_serve(state_dir, host))


def iter_environment_folders(state_dir: Path) -> Iterator[str]:
    root = mail_root(state_dir)
    if root.is_dir():
        for child in sorted(root.iterdir()):
            if child.is_dir():
                yield child.name


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m odooplane.mailcatcher")
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--host", default=DEFAULT_HOST)
    args = parser.parse_args(argv)
    serve_forever(args.state_dir.resolve(), args.host)


if __name__ == "__main__":
    main()
