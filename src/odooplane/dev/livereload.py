"""The live-reload channel: server-sent events from ``odooplane dev`` to open browser tabs.

The ``odooplane_livereload`` addon's script opens ``GET /events`` on this server (the
Odoo page learns its address from the addon's ``/odooplane_livereload/config`` route) and
reacts to two events: ``reload`` (reload the tab) and ``css`` (swap the stylesheets
without reloading). Server-sent events need no library on either side and reconnect by
themselves when the dev session restarts.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

KEEPALIVE_SECONDS = 15.0
EVENT_TYPES = ("reload", "css", "hello")


class LiveReloadServer:
    """A threaded SSE server on 127.0.0.1; :meth:`publish` reaches every connected client."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._clients: set[queue.Queue[bytes | None]] = set()
        self._lock = threading.Lock()
        self._sequence = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return  # the dev terminal shows what matters; access logs are noise

            def do_OPTIONS(self) -> None:
                self.send_response(204)
                self._cors()
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _cors(self) -> None:
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Access-Control-Allow-Headers", "*")

            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] != "/events":
                    body = b'{"clients": %d}' % owner.client_count
                    self.send_response(200 if self.path == "/status" else 404)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self._cors()
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "keep-alive")
                self._cors()
                self.end_headers()
                inbox = owner._subscribe()
                try:
                    self.wfile.write(_frame("hello", {"at": time.time()}))
                    self.wfile.flush()
                    while True:
                        try:
                            item = inbox.get(timeout=KEEPALIVE_SECONDS)
                        except queue.Empty:
                            item = b": keepalive\n\n"
                        if item is None:
                            return
                        self.wfile.write(item)
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError, OSError):
                    return
                finally:
                    owner._unsubscribe(inbox)

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"

    @property
    def client_count(self) -> int:
        with self._lock:
            return len(self._clients)

    def _subscribe(self) -> queue.Queue[bytes | None]:
        inbox: queue.Queue[bytes | None] = queue.Queue()
        with self._lock:
            self._clients.add(inbox)
        return inbox

    def _unsubscribe(self, inbox: queue.Queue[bytes | None]) -> None:
        with self._lock:
            self._clients.discard(inbox)

    def publish(self, event: str, data: dict[str, Any] | None = None) -> int:
        """Send ``event`` to every client; returns how many were connected."""
        with self._lock:
            self._sequence += 1
            payload = {"seq": self._sequence, **(data or {})}
            frame = _frame(event, payload, event_id=self._sequence)
            clients = list(self._clients)
        for inbox in clients:
            inbox.put(frame)
        return len(clients)

    def start(self) -> LiveReloadServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="odooplane-livereload", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            clients = list(self._clients)
        for inbox in clients:
            inbox.put(None)
        self._httpd.shutdown()
        self._httpd.server_close()


def _frame(event: str, data: dict[str, Any], *, event_id: int | None = None) -> bytes:
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"event: {event}")
    lines.append(f"data: {json.dumps(data)}")
    return ("\n".join(lines) + "\n\n").encode()


class EventStreamClient:
    """A minimal SSE client that connects the way a browser's EventSource does and
    collects events in the background (used by tests and the benchmark)."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        import http.client
        import urllib.parse

        parts = urllib.parse.urlsplit(url)
        self._conn = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port, timeout=timeout
        )
        self._conn.request("GET", parts.path or "/events", headers={"Accept": "text/event-stream"})
        self._response = self._conn.getresponse()
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._cond = threading.Condition()
        self._greeted = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        self._greeted.wait(timeout)

    def _read(self) -> None:
        name = ""
        try:
            while True:
                raw = self._response.fp.readline()
                if not raw:
                    return
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    if name == "hello":
                        self._greeted.set()
                        continue
                    with self._cond:
                        self.events.append((name, json.loads(line[6:])))
                        self._cond.notify_all()
        except (OSError, ValueError):
            return

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> tuple[str, dict[str, Any]] | None:
        """The first event (name, data) for which ``predicate(name, data)`` holds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events:
                    if predicate(*event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def close(self) -> None:
        import contextlib
        import socket

        sock = getattr(self._response.fp, "raw", None)
        with contextlib.suppress(OSError, AttributeError):
            self._conn.sock.shutdown(socket.SHUT_RDWR)
        del sock
        self._conn.close()
