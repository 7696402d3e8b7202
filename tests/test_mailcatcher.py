"""The mail catcher daemon: real SMTP on one port per environment, messages on disk."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from odooplane import mailcatcher as mc
from odooplane.errors import NotFoundError


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "project" / ".odooplane"
    folder.mkdir(parents=True)
    yield folder
    mc.stop_catcher(folder)


def send(
    port: int, subject: str, to: str = "customer@example.org", html: str | None = None
) -> None:
    msg = EmailMessage()
    msg["From"] = "Acme <notifications@acme.example>"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(f"plain body of {subject}")
    if html:
        msg.add_alternative(html, subtype="html")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(msg)


def test_ports_are_allocated_once_per_environment(state: Path) -> None:
    host, staging = mc.catcher_address(state, "staging")
    _, preview = mc.catcher_address(state, "pr-12-login")
    assert host == "127.0.0.1" and staging != preview
    assert mc.catcher_address(state, "staging") == (host, staging)
    assert json.loads((state / "mail" / "ports.json").read_text()) == {
        "staging": staging,
        "pr-12-login": preview,
    }


def test_mail_is_caught_per_environment(state: Path) -> None:
    _, staging = mc.ensure_catcher(state, "staging")
    _, preview = mc.ensure_catcher(state, "preview")
    send(staging, "Invoice INV/2024/0001", html="<p>Your <b>invoice</b></p>")
    send(preview, "Password reset", to="admin@acme.example")
    send(staging, "Quotation S00042")

    staged = mc.list_messages(state, "staging")
    assert [m.subject for m in staged] == ["Invoice INV/2024/0001", "Quotation S00042"]
    assert staged[0].rcpt_tos == ["customer@example.org"]
    assert staged[0].header_from == "Acme <notifications@acme.example>"
    assert [m.subject for m in mc.list_messages(state, "preview")] == ["Password reset"]

    entry, path = mc.find_message(state, "staging", staged[0].id[:22])
    assert entry == staged[0] and path.suffix == ".eml" and path.is_file()
    message = mc.read_message(path)
    assert message["Subject"] == "Invoice INV/2024/0001"
    assert mc.message_text(message).strip() == "plain body of Invoice INV/2024/0001"
    latest, _ = mc.find_message(state, "staging")
    assert latest.subject == "Quotation S00042"


def test_start_is_idempotent_and_new_environments_join_without_restart(state: Path) -> None:
    mc.ensure_catcher(state, "staging")
    first = mc.catcher_status(state)
    assert first.running and first.pid
    again = mc.start_catcher(state)
    assert again.pid == first.pid
    _, port = mc.ensure_catcher(state, "pr-7")
    status = mc.catcher_status(state)
    assert status.pid == first.pid and status.ports["pr-7"] == port
    send(port, "hello pr-7")
    assert [m.subject for m in mc.list_messages(state, "pr-7")] == ["hello pr-7"]
    # A new environment's port is looked at on SIGUSR1 instead of at the next reload;
    # the daemon says it takes the signal, and survives it.
    assert json.loads((state / "mail" / "catcher.json").read_text())["nudge"] == "SIGUSR1"
    os.kill(first.pid, signal.SIGUSR1)
    mc.ensure_catcher(state, "pr-8")
    assert mc.catcher_status(state).pid == first.pid


def test_stop_and_stale_pid_file(state: Path) -> None:
    _, port = mc.ensure_catcher(state, "staging")
    status = mc.catcher_status(state)
    assert status.pid is not None
    os.kill(status.pid, signal.SIGKILL)
    # Our own child here: it stays a zombie until reaped, which status treats as dead.
    deadline = time.monotonic() + 10
    while mc.catcher_status(state).running and time.monotonic() < deadline:
        time.sleep(0.05)
    # The file is still there but names a dead process: not running.
    assert (state / "mail" / "catcher.json").exists()
    assert not mc.catcher_status(state).running
    restarted = mc.start_catcher(state)
    assert restarted.running and restarted.pid != status.pid and restarted.ports["staging"] == port
    stopped = mc.stop_catcher(state)
    assert not stopped.running and not (state / "mail" / "catcher.json").exists()
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP("127.0.0.1", port, timeout=2)
    assert mc.stop_catcher(state).running is False  # idempotent


def test_busy_port_is_reported_with_the_log(state: Path) -> None:
    import socket

    _, port = mc.catcher_address(state, "staging")
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", port))
    blocker.listen(1)
    try:
        started = time.monotonic()
        with pytest.raises(Exception, match="did not start listening") as caught:
            mc.start_catcher(state)
        assert time.monotonic() - started < mc.START_TIMEOUT + 5
        assert "cannot listen" in str(caught.value)
    finally:
        blocker.close()


def test_unknown_message_and_empty_environment(state: Path) -> None:
    with pytest.raises(NotFoundError, match="No mail has been caught"):
        mc.find_message(state, "staging")
    _, port = mc.ensure_catcher(state, "staging")
    send(port, "one")
    with pytest.raises(NotFoundError, match="No caught mail 'nope'"):
        mc.find_message(state, "staging", "nope")
