"""A small client of the Kubernetes REST API, for the objects odooplane manages.

Plain HTTPS and JSON (the standard library's ``http.client``), not the ``kubernetes``
package: that client's generated models follow one API version set (recent releases
dropped ``batch/v1beta1``, the only CronJob a 1.20 cluster serves), while odooplane's
needs are a dozen kinds, server-side apply, reads by label, pod logs and ``exec``. Objects
are plain dicts, the same ones ``odooplane export kubernetes`` writes as YAML.

- writes are server-side apply (``PATCH`` with ``application/apply-patch+yaml``, field
  manager ``odooplane``): idempotent, so a command that crashed is finished by running
  it again;
- kinds whose API version moved (CronJob: ``batch/v1`` since 1.21, ``v1beta1`` before)
  are sent in the version the server serves, found by discovery;
- ``exec`` speaks the ``v4.channel.k8s.io`` websocket protocol (``websocket-client``).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import ssl
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from odooplane.backends.kubernetes.kubeconfig import ClusterAccess
from odooplane.errors import (
    CheckFailedError,
    ConfigError,
    ExternalToolError,
    NotFoundError,
    RefusedError,
)

FIELD_MANAGER = "odooplane"
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
MERGE_CONTENT_TYPE = "application/merge-patch+json"


@dataclass(frozen=True)
class Kind:
    api_version: str
    plural: str
    namespaced: bool = True
    # Older versions a server may serve instead, newest first.
    fallbacks: tuple[str, ...] = ()


KINDS: dict[str, Kind] = {
    "Namespace": Kind("v1", "namespaces", namespaced=False),
    "Secret": Kind("v1", "secrets"),
    "ConfigMap": Kind("v1", "configmaps"),
    "Service": Kind("v1", "services"),
    "ServiceAccount": Kind("v1", "serviceaccounts"),
    "PersistentVolumeClaim": Kind("v1", "persistentvolumeclaims"),
    "PersistentVolume": Kind("v1", "persistentvolumes", namespaced=False),
    "Pod": Kind("v1", "pods"),
    "Event": Kind("v1", "events"),
    "Deployment": Kind("apps/v1", "deployments"),
    "ReplicaSet": Kind("apps/v1", "replicasets"),
    "Job": Kind("batch/v1", "jobs"),
    "CronJob": Kind("batch/v1", "cronjobs", fallbacks=("batch/v1beta1",)),
    "Ingress": Kind("networking.k8s.io/v1", "ingresses"),
    "Role": Kind("rbac.authorization.k8s.io/v1", "roles"),
    "RoleBinding": Kind("rbac.authorization.k8s.io/v1", "rolebindings"),
    "StorageClass": Kind("storage.k8s.io/v1", "storageclasses", namespaced=False),
}


class ApiError(ExternalToolError):
    """The API server answered with an error status."""

    def __init__(self, message: str, *, status: int, reason: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: str
    stderr: str
    message: str = ""


def _api_prefix(api_version: str) -> str:
    return "/api/v1" if api_version == "v1" else f"/apis/{api_version}"


class _Connection(http.client.HTTPSConnection):
    """HTTPS with a TLS server name that may differ from the host (``tls-server-name``)."""

    def __init__(
        self,
        host: str,
        port: int | None,
        *,
        context: ssl.SSLContext,
        timeout: float,
        server_name: str | None,
    ) -> None:
        super().__init__(host, port, context=context, timeout=timeout)
        self._server_name = server_name
        self._context = context

    def connect(self) -> None:
        if not self._server_name:
            super().connect()
            return
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._server_name)


class KubeClient:
    """The API server of one kubeconfig context."""

    def __init__(self, access: ClusterAccess, *, timeout: float = 30.0) -> None:
        self.access = access
        self.timeout = timeout
        url = urllib.parse.urlsplit(access.server)
        if url.scheme not in ("https", "http") or not url.hostname:
            raise ConfigError(
                f"The cluster server '{access.server}' of {access.source} is not an https:// URL."
            )
        self._scheme = url.scheme
        self._host = url.hostname
        self._port = url.port
        self._base_path = url.path.rstrip("/")
        self._ssl: ssl.SSLContext | None = None
        self._served: dict[str, str] = {}

    # -- transport -------------------------------------------------------------------

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = self.access.ssl_context()
        return self._ssl

    def _connection(self, timeout: float | None) -> http.client.HTTPConnection:
        wait = timeout if timeout is not None else self.timeout
        if self._scheme == "http":
            return http.client.HTTPConnection(self._host, self._port, timeout=wait)
        return _Connection(
            self._host,
            self._port,
            context=self._context(),
            timeout=wait,
            server_name=self.access.tls_server_name,
        )

    def _headers(
        self, content_type: str | None, accept: str = "application/json"
    ) -> dict[str, str]:
        headers = {"Accept": accept, "User-Agent": "odooplane"}
        if content_type:
            headers["Content-Type"] = content_type
        token = self.access.bearer_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif self.access.credentials.basic:
            import base64

            user, password = self.access.credentials.basic
            raw = base64.b64encode(f"{user}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {raw}"
        return headers

    def url_path(self, path: str, query: dict[str, Any] | None = None) -> str:
        full = self._base_path + path
        if query:
            pairs = [
                (k, str(v).lower() if isinstance(v, bool) else str(v))
                for k, v in query.items()
                if v is not None
            ]
            full += "?" + urllib.parse.urlencode(pairs)
        return full

    def _open(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None,
        body: Any,
        content_type: str | None,
        timeout: float | None,
        accept: str = "application/json",
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        payload = (
            None
            if body is None
            else (body if isinstance(body, bytes) else json.dumps(body).encode())
        )
        conn = self._connection(timeout)
        try:
            conn.request(
                method,
                self.url_path(path, query),
                body=payload,
                headers=self._headers(content_type if payload is not None else None, accept),
            )
            return conn, conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            reason = exc.reason if isinstance(exc, ssl.SSLError) else str(exc) or type(exc).__name__
            raise ExternalToolError(
                f"Cannot reach the Kubernetes API at {self.access.describe()}: {reason}.",
                hint="Check that the cluster runs (`kubectl get nodes` with the same "
                "kubeconfig) and kubernetes.kubeconfig / kubernetes.context in odooplane.yaml.",
            ) from None

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str | None = "application/json",
        timeout: float | None = None,
    ) -> Any:
        """One call; the decoded JSON answer. Error statuses raise :class:`ApiError`."""
        conn, response = self._open(
            method, path, query=query, body=body, content_type=content_type, timeout=timeout
        )
        try:
            data = response.read()
        finally:
            conn.close()
        if response.status >= 400:
            raise self._error(method, path, response.status, data)
        if not data:
            return None
        try:
            return json.loads(data)
        except json.JSONDecodeError:
            return data.decode("utf-8", "replace")

    def _error(self, method: str, path: str, status: int, data: bytes) -> ApiError:
        try:
            doc = json.loads(data)
            message = str(doc.get("message") or data[:300].decode("utf-8", "replace"))
            reason = str(doc.get("reason") or "")
        except (json.JSONDecodeError, AttributeError):
            message, reason = data[:300].decode("utf-8", "replace").strip(), ""
        where = f"{method} {path}"
        if status in (401, 403):
            return ApiError(
                f"The Kubernetes API refused {where}: {message}",
                status=status,
                reason=reason,
                hint=f"The user of {self.access.source} (context '{self.access.context}') "
                "needs the rights listed in docs/kubernetes.md on the namespace.",
            )
        return ApiError(
            f"The Kubernetes API answered {status} to {where}: {message}",
            status=status,
            reason=reason,
        )

    def stream_lines(
        self, path: str, *, query: dict[str, Any] | None = None, timeout: float | None = None
    ) -> Iterator[str]:
        """GET ``path`` and yield its body line by line as it arrives (logs)."""
        conn, response = self._open(
            "GET", path, query=query, body=None, content_type=None, timeout=timeout, accept="*/*"
        )
        try:
            if response.status >= 400:
                raise self._error("GET", path, response.status, response.read())
            while True:
                line = response.readline()
                if not line:
                    return
                yield line.decode("utf-8", "replace").rstrip("\n")
        finally:
            conn.close()

    # -- kinds and paths ---------------------------------------------------------------

    def api_version(self, kind: str) -> str:
        """The version of ``kind`` this server serves (discovery, cached)."""
        spec = _kind(kind)
        if not spec.fallbacks:
            return spec.api_version
        if kind not in self._served:
            for version in (spec.api_version, *spec.fallbacks):
                try:
                    doc = self.request("GET", _api_prefix(version))
                except ApiError as exc:
                    if exc.status == 404:
                        continue
                    raise
                if any(r.get("name") == spec.plural for r in doc.get("resources", [])):
                    self._served[kind] = version
                    break
            else:
                raise NotFoundError(f"The cluster at {self.access.server} serves no {kind} API.")
        return self._served[kind]

    def path(
        self,
        kind: str,
        name: str | None = None,
        namespace: str | None = None,
        *,
        subresource: str | None = None,
    ) -> str:
        spec = _kind(kind)
        parts = [_api_prefix(self.api_version(kind))]
        if spec.namespaced:
            if not namespace:
                raise ConfigError(f"A {kind} needs a namespace.")
            parts.append(f"namespaces/{urllib.parse.quote(namespace, safe='')}")
        parts.append(spec.plural)
        if name:
            parts.append(urllib.parse.quote(name, safe=""))
        if subresource:
            parts.append(subresource)
        return "/".join(parts)

    # -- objects -----------------------------------------------------------------------

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        try:
            return dict(self.request("GET", self.path(kind, name, namespace)))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def list_objects(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        labels: dict[str, str] | None = None,
        selector: str | None = None,
    ) -> list[dict[str, Any]]:
        parts = [f"{k}={v}" for k, v in (labels or {}).items()]
        if selector:
            parts.append(selector)
        query = {"labelSelector": ",".join(parts)} if parts else None
        doc = self.request("GET", self.path(kind, None, namespace), query=query)
        items = list(doc.get("items") or [])
        api_version = self.api_version(kind)
        for item in items:  # list items carry neither kind nor apiVersion
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", api_version)
        return items

    def apply(self, obj: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        """Server-side apply of ``obj`` (created or updated, fields odooplane owns);
        ``dry_run`` has the server check it, admission included, and keep nothing."""
        kind = str(obj["kind"])
        meta = obj.get("metadata") or {}
        body = dict(obj)
        body["apiVersion"] = self.api_version(kind)
        return dict(
            self.request(
                "PATCH",
                self.path(kind, meta["name"], meta.get("namespace")),
                query={
                    "fieldManager": FIELD_MANAGER,
                    "force": True,
                    "dryRun": "All" if dry_run else None,
                },
                body=body,
                content_type=APPLY_CONTENT_TYPE,
            )
        )

    def patch(
        self,
        kind: str,
        name: str,
        namespace: str | None,
        patch: dict[str, Any],
        *,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        return dict(
            self.request(
                "PATCH",
                self.path(kind, name, namespace, subresource=subresource),
                body=patch,
                content_type=MERGE_CONTENT_TYPE,
            )
        )

    def delete(
        self, kind: str, name: str, namespace: str | None = None, *, propagation: str = "Background"
    ) -> bool:
        """Delete; False when it did not exist."""
        try:
            self.request(
                "DELETE",
                self.path(kind, name, namespace),
                body={
                    "kind": "DeleteOptions",
                    "apiVersion": "v1",
                    "propagationPolicy": propagation,
                },
            )
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def wait_for(
        self, what: str, check: Callable[[], Any], *, timeout: float, interval: float = 1.0
    ) -> Any:
        """Call ``check`` until it returns something true (returned) or ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise CheckFailedError(f"Timed out after {timeout:.0f} s waiting for {what}.")
            time.sleep(interval)

    # -- pods ------------------------------------------------------------------------

    def logs(
        self,
        pod: str,
        namespace: str,
        *,
        container: str | None = None,
        follow: bool = False,
        tail: int | None = None,
        timeout: float | None = None,
    ) -> Iterator[str]:
        return self.stream_lines(
            self.path("Pod", pod, namespace, subresource="log"),
            query={"container": container, "follow": follow or None, "tailLines": tail},
            timeout=timeout if timeout is not None else (None if follow else self.timeout),
        )

    def exec_url(
        self,
        pod: str,
        namespace: str,
        argv: list[str],
        *,
        container: str | None,
        stdin: bool,
        tty: bool,
    ) -> str:
        pairs: list[tuple[str, str]] = [("command", a) for a in argv]
        pairs += [("stdout", "true"), ("stderr", "false" if tty else "true")]
        if stdin:
            pairs.append(("stdin", "true"))
        if tty:
            pairs.append(("tty", "true"))
        if container:
            pairs.append(("container", container))
        scheme = "wss" if self._scheme == "https" else "ws"
        port = f":{self._port}" if self._port else ""
        host = f"[{self._host}]" if ":" in self._host else self._host
        path = self.path("Pod", pod, namespace, subresource="exec")
        return f"{scheme}://{host}{port}{self._base_path}{path}?{urllib.parse.urlencode(pairs)}"

    def open_exec(
        self,
        pod: str,
        namespace: str,
        argv: list[str],
        *,
        container: str | None = None,
        stdin: bool = False,
        tty: bool = False,
        timeout: float | None = None,
    ) -> Any:
        """A websocket to ``argv`` running in ``pod`` (``v4.channel.k8s.io``)."""
        import websocket

        headers = [
            f"{k}: {v}" for k, v in self._headers(None, "*/*").items() if k == "Authorization"
        ]
        sslopt: dict[str, Any] = {"context": self._context()} if self._scheme == "https" else {}
        if self.access.tls_server_name:
            sslopt["server_hostname"] = self.access.tls_server_name
        try:
            return websocket.create_connection(
                self.exec_url(pod, namespace, argv, container=container, stdin=stdin, tty=tty),
                header=headers,
                subprotocols=["v4.channel.k8s.io"],
                sslopt=sslopt,
                timeout=timeout,
            )
        except websocket.WebSocketBadStatusException as exc:
            raise ApiError(
                f"The Kubernetes API refused to exec in pod {pod}: {exc}",
                status=int(exc.status_code),
                reason="exec",
            ) from None
        except (OSError, websocket.WebSocketException) as exc:
            raise ExternalToolError(
                f"Cannot exec in pod {pod} through {self.access.describe()}: {exc}."
            ) from None

    def exec(
        self,
        pod: str,
        namespace: str,
        argv: list[str],
        *,
        container: str | None = None,
        stdin_text: str | None = None,
        timeout: float = 3600.0,
        on_output: Callable[[str], None] | None = None,
    ) -> ExecResult:
        """Run ``argv`` in ``pod`` to completion; stdout, stderr and the exit code.

        ``v4.channel.k8s.io`` cannot close stdin, so ``stdin_text`` is handed to the
        command as an argument of ``sh -c`` and piped into it there.
        """
        import websocket

        if stdin_text is not None:
            argv = ["sh", "-c", 'printf "%s" "$0" | "$@"', stdin_text, *argv]
        ws = self.open_exec(pod, namespace, argv, container=container, timeout=timeout)
        out: list[bytes] = []
        err: list[bytes] = []
        status: dict[str, Any] = {}
        try:
            while True:
                try:
                    opcode, data = ws.recv_data()
                except websocket.WebSocketConnectionClosedException:
                    break
                except websocket.WebSocketTimeoutException:
                    raise CheckFailedError(
                        f"`{' '.join(argv)}` in pod {pod} did not finish in {timeout:.0f} s."
                    ) from None
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    break
                if not data:
                    continue
                channel, payload = data[0], data[1:]
                if channel == 1:
                    out.append(payload)
                    if on_output is not None:
                        on_output(payload.decode("utf-8", "replace"))
                elif channel == 2:
                    err.append(payload)
                    if on_output is not None:
                        on_output(payload.decode("utf-8", "replace"))
                elif channel == 3 and payload:
                    status = json.loads(payload)
        finally:
            ws.close()
        return ExecResult(
            exit_code=exit_code_of(status),
            stdout=b"".join(out).decode("utf-8", "replace"),
            stderr=b"".join(err).decode("utf-8", "replace"),
            message=str(status.get("message") or ""),
        )


def exec_terminal(
    client: KubeClient, pod: str, namespace: str, argv: list[str], *, container: str | None = None
) -> int:
    """Run ``argv`` in ``pod`` on this terminal (raw mode, resized with it), as
    ``kubectl exec -it`` does; its exit code."""
    import select
    import shutil
    import signal
    import termios
    import tty

    import websocket

    ws = client.open_exec(pod, namespace, argv, container=container, stdin=True, tty=True)
    stdin = sys.stdin.fileno()
    saved = termios.tcgetattr(stdin)
    status: dict[str, Any] = {}

    def resize(*_: Any) -> None:
        size = shutil.get_terminal_size()
        payload = json.dumps({"Width": size.columns, "Height": size.lines}).encode()
        with contextlib.suppress(websocket.WebSocketException, OSError):
            ws.send_binary(b"\x04" + payload)

    previous = signal.signal(signal.SIGWINCH, resize)
    try:
        tty.setraw(stdin)
        resize()
        while True:
            ready, _, _ = select.select([stdin, ws.sock], [], [])
            if stdin in ready:
                data = os.read(stdin, 4096)
                if not data:
                    break
                ws.send_binary(b"\x00" + data)
            if ws.sock in ready:
                try:
                    opcode, data = ws.recv_data()
                except websocket.WebSocketConnectionClosedException:
                    break
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    break
                if data and data[0] in (1, 2):
                    os.write(sys.stdout.fileno(), data[1:])
                elif data and data[0] == 3 and data[1:]:
                    status = json.loads(data[1:])
    finally:
        termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
        signal.signal(signal.SIGWINCH, previous)
        ws.close()
    return exit_code_of(status)


def exit_code_of(status: dict[str, Any]) -> int:
    """The exit code in an exec's final Status (channel 3)."""
    if not status or status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message"))
            except (TypeError, ValueError):
                break
    return 1 if status.get("reason") == "NonZeroExitCode" else 126


def _kind(kind: str) -> Kind:
    try:
        return KINDS[kind]
    except KeyError:
        raise RefusedError(f"odooplane does not manage {kind} objects.") from None
