"""How to reach a Kubernetes API server: a kubeconfig file, or the pod's service account.

The kubeconfig is read the way kubectl reads it, for the parts odooplane needs: the
context (given, else ``current-context``), its cluster (server URL, CA as file or inline
data, ``tls-server-name``, ``insecure-skip-tls-verify``), its user (client certificate
and key as files or inline data, a bearer token or token file, or an ``exec`` credential
plugin, as cloud providers use) and its namespace. Inside a pod (the ``preview gc``
CronJob) the mounted service-account token is used instead. Every problem is a sentence
naming the file and the key.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odooplane.errors import ConfigError, ExternalToolError, NotFoundError

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class Credentials:
    """What authenticates odooplane to the API server (at most one kind is used)."""

    cert_pem: bytes | None = None
    key_pem: bytes | None = None
    token: str | None = None
    token_file: Path | None = None
    exec_spec: dict[str, Any] | None = None
    basic: tuple[str, str] | None = None


@dataclass(frozen=True)
class ClusterAccess:
    """A resolved kubeconfig context."""

    server: str
    source: str  # the kubeconfig path, or "in-cluster service account"
    context: str
    namespace: str | None
    ca_pem: bytes | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    credentials: Credentials = field(default_factory=Credentials)

    def describe(self) -> str:
        return f"{self.server} (context '{self.context}' of {self.source})"

    def ssl_context(self) -> ssl.SSLContext:
        if self.insecure:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif self.ca_pem is not None:
            context = ssl.create_default_context(cadata=self.ca_pem.decode("ascii", "replace"))
        else:
            context = ssl.create_default_context()
        creds = self.credentials
        if creds.cert_pem and creds.key_pem:
            _load_cert_chain(context, creds.cert_pem, creds.key_pem)
        return context

    def bearer_token(self) -> str | None:
        """The token to send, read afresh (token files and exec plugins rotate them)."""
        creds = self.credentials
        if creds.token:
            return creds.token
        if creds.token_file is not None:
            try:
                return creds.token_file.read_text().strip()
            except OSError as exc:
                raise ConfigError(
                    f"Cannot read the token file {creds.token_file} of {self.source}: "
                    f"{exc.strerror}."
                ) from None
        if creds.exec_spec is not None:
            return _exec_token(creds.exec_spec, self.source)
        return None


def _load_cert_chain(context: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    # ssl only loads client certificates from files: a private folder, removed at once.
    with tempfile.TemporaryDirectory(prefix="odooplane-kube-") as folder:
        os.chmod(folder, 0o700)
        cert_path = Path(folder) / "client.crt"
        key_path = Path(folder) / "client.key"
        for path, data in ((cert_path, cert), (key_path, key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        try:
            context.load_cert_chain(str(cert_path), str(key_path))
        except ssl.SSLError as exc:
            raise ConfigError(
                f"The client certificate and key of the kubeconfig do not load: {exc.reason}."
            ) from None


def _exec_token(spec: dict[str, Any], source: str) -> str:
    command = spec.get("command")
    if not isinstance(command, str) or not command:
        raise ConfigError(f"users[].user.exec.command is missing in {source}.")
    argv = [command, *[str(a) for a in spec.get("args") or []]]
    env = dict(os.environ)
    for item in spec.get("env") or []:
        if isinstance(item, dict) and "name" in item:
            env[str(item["name"])] = str(item.get("value", ""))
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise ExternalToolError(
            f"The credential plugin '{command}' named by {source} is not installed.",
            hint=str(spec.get("installHint") or "Install it or pick another kubeconfig user."),
        ) from None
    except subprocess.TimeoutExpired:
        raise ExternalToolError(
            f"The credential plugin '{command}' did not answer in 60 s."
        ) from None
    if done.returncode != 0:
        raise ExternalToolError(
            f"The credential plugin '{command}' failed (exit {done.returncode}): "
            f"{done.stderr.strip()[-500:]}"
        )
    try:
        status = json.loads(done.stdout).get("status") or {}
    except (json.JSONDecodeError, AttributeError):
        raise ExternalToolError(
            f"The credential plugin '{command}' did not print an ExecCredential."
        ) from None
    token = status.get("token")
    if not token:
        raise ExternalToolError(
            f"The credential plugin '{command}' gave no token (client certificates from "
            "plugins are not supported)."
        )
    return str(token)


def default_kubeconfig() -> Path:
    env = os.environ.get("KUBECONFIG")
    if env:
        first = next((p for p in env.split(os.pathsep) if p), "")
        if first:
            return Path(first).expanduser()
    return Path.home() / ".kube" / "config"


def in_cluster() -> bool:
    return (SERVICE_ACCOUNT_DIR / "token").is_file() and bool(
        os.environ.get("KUBERNETES_SERVICE_HOST")
    )


def in_cluster_access() -> ClusterAccess:
    host = os.environ["KUBERNETES_SERVICE_HOST"]
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    host = f"[{host}]" if ":" in host else host
    namespace_file = SERVICE_ACCOUNT_DIR / "namespace"
    return ClusterAccess(
        server=f"https://{host}:{port}",
        source="in-cluster service account",
        context="in-cluster",
        namespace=namespace_file.read_text().strip() if namespace_file.is_file() else None,
        ca_pem=(SERVICE_ACCOUNT_DIR / "ca.crt").read_bytes(),
        credentials=Credentials(token_file=SERVICE_ACCOUNT_DIR / "token"),
    )


def _named(items: Any, name: str, section: str, path: Path) -> dict[str, Any]:
    for item in items or []:
        if isinstance(item, dict) and item.get("name") == name:
            value = item.get(section[:-1])
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: {section} entry '{name}' has no {section[:-1]} map.")
            return value
    raise ConfigError(
        f"{path}: no {section[:-1]} named '{name}' (the {section} are: "
        + (", ".join(str(i.get("name")) for i in items or [] if isinstance(i, dict)) or "none")
        + ")."
    )


def _data_or_file(entry: dict[str, Any], key: str, base: Path, path: Path) -> bytes | None:
    data = entry.get(f"{key}-data")
    if data:
        try:
            return base64.b64decode(str(data), validate=True)
        except ValueError:
            raise ConfigError(f"{path}: {key}-data is not valid base64.") from None
    name = entry.get(key)
    if name:
        file = Path(str(name)).expanduser()
        file = file if file.is_absolute() else base / file
        try:
            return file.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read {key} {file}: {exc.strerror}.") from None
    return None


def load_kubeconfig(path: Path | None = None, context: str | None = None) -> ClusterAccess:
    """The cluster of ``context`` (default: the file's current-context) in ``path``
    (default: ``$KUBECONFIG``, else ``~/.kube/config``); inside a pod with no path given,
    the pod's service account."""
    if path is None and in_cluster():
        return in_cluster_access()
    path = (path or default_kubeconfig()).expanduser()
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise NotFoundError(
            f"The kubeconfig {path} does not exist.",
            hint="Set kubernetes.kubeconfig in odooplane.yaml (or $KUBECONFIG) to the file "
            "kubectl uses for the cluster.",
        ) from None
    except OSError as exc:
        raise ConfigError(f"Cannot read the kubeconfig {path}: {exc.strerror}.") from None
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        doc = YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path} is not a kubeconfig (no mapping at the top).")
    name = context or doc.get("current-context")
    if not name:
        raise ConfigError(
            f"{path} has no current-context.",
            hint="Set kubernetes.context in odooplane.yaml to one of its contexts.",
        )
    ctx = _named(doc.get("contexts"), str(name), "contexts", path)
    cluster = _named(doc.get("clusters"), str(ctx.get("cluster")), "clusters", path)
    user = _named(doc.get("users"), str(ctx.get("user")), "users", path) if ctx.get("user") else {}
    server = cluster.get("server")
    if not server:
        raise ConfigError(f"{path}: cluster '{ctx.get('cluster')}' has no server.")
    base = path.parent
    exec_spec = user.get("exec")
    token_file = user.get("tokenFile")
    credentials = Credentials(
        cert_pem=_data_or_file(user, "client-certificate", base, path),
        key_pem=_data_or_file(user, "client-key", base, path),
        token=str(user["token"]) if user.get("token") else None,
        token_file=Path(str(token_file)).expanduser() if token_file else None,
        exec_spec=exec_spec if isinstance(exec_spec, dict) else None,
        basic=(str(user["username"]), str(user.get("password", "")))
        if user.get("username")
        else None,
    )
    return ClusterAccess(
        server=str(server).rstrip("/"),
        source=str(path),
        context=str(name),
        namespace=str(ctx["namespace"]) if ctx.get("namespace") else None,
        ca_pem=_data_or_file(cluster, "certificate-authority", base, path),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        tls_server_name=str(cluster["tls-server-name"]) if cluster.get("tls-server-name") else None,
        credentials=credentials,
    )
