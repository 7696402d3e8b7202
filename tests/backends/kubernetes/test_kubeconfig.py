"""Reading a kubeconfig the way kubectl does, for what odooplane needs: contexts,
clusters and users, certificates inline or in files (real ones, made with openssl), a
token, a token file or an exec plugin, and every problem as a sentence naming the file."""

from __future__ import annotations

import base64
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
import yaml

from odooplane.backends.kubernetes.kubeconfig import (
    ClusterAccess,
    Credentials,
    default_kubeconfig,
    load_kubeconfig,
)
from odooplane.errors import ConfigError, ExternalToolError, NotFoundError


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA and a client certificate signed by it."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("pki")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
    )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "client.key",
        "-out",
        "client.csr",
        "-subj",
        "/CN=odooplane/O=system:masters",
    )
    openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "client.crt", "-days", "2")  # fmt: skip
    return {name: folder / name for name in ("ca.crt", "client.crt", "client.key")}


def _write(path: Path, doc: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def _config(**user: object) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "dev",
        "contexts": [
            {"name": "dev", "context": {"cluster": "k3s", "user": "me", "namespace": "shop"}},
            {"name": "prod", "context": {"cluster": "eks", "user": "bot"}},
        ],
        "clusters": [
            {"name": "k3s", "cluster": {"server": "https://127.0.0.1:6443/"}},
            {
                "name": "eks",
                "cluster": {
                    "server": "https://eks.example.com",
                    "insecure-skip-tls-verify": True,
                    "tls-server-name": "kubernetes",
                },
            },
        ],
        "users": [{"name": "me", "user": dict(user)}, {"name": "bot", "user": {"token": "t0k"}}],
    }


def test_current_context_with_inline_certificates(pki: dict[str, Path], tmp_path: Path) -> None:
    doc = _config(
        **{
            "client-certificate-data": base64.b64encode(pki["client.crt"].read_bytes()).decode(),
            "client-key-data": base64.b64encode(pki["client.key"].read_bytes()).decode(),
        }
    )
    doc["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(  # type: ignore[index]
        pki["ca.crt"].read_bytes()
    ).decode()
    path = _write(tmp_path / "config", doc)
    access = load_kubeconfig(path)
    assert access.server == "https://127.0.0.1:6443"
    assert (access.context, access.namespace, access.source) == ("dev", "shop", str(path))
    assert access.describe() == f"https://127.0.0.1:6443 (context 'dev' of {path})"
    assert access.ca_pem == pki["ca.crt"].read_bytes()
    assert access.credentials.cert_pem == pki["client.crt"].read_bytes()
    assert access.bearer_token() is None
    context = access.ssl_context()
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert any(c["subject"] == ((("commonName", "test-ca"),),) for c in context.get_ca_certs())


def test_certificates_in_files_relative_to_the_kubeconfig(
    pki: dict[str, Path], tmp_path: Path
) -> None:
    for name, file in pki.items():
        shutil.copy(file, tmp_path / name)
    doc = _config(**{"client-certificate": "client.crt", "client-key": "client.key"})
    doc["clusters"][0]["cluster"]["certificate-authority"] = "ca.crt"  # type: ignore[index]
    access = load_kubeconfig(_write(tmp_path / "config", doc))
    assert access.credentials.key_pem == pki["client.key"].read_bytes()
    access.ssl_context()  # the pair loads
    broken = ClusterAccess(
        server="https://x",
        source="s",
        context="c",
        namespace=None,
        credentials=Credentials(cert_pem=pki["client.crt"].read_bytes(), key_pem=b"junk"),
    )
    with pytest.raises(ConfigError, match="client certificate and key of the kubeconfig"):
        broken.ssl_context()


def test_another_context_with_a_token_and_insecure_tls(tmp_path: Path) -> None:
    access = load_kubeconfig(_write(tmp_path / "config", _config(token="x")), context="prod")
    assert access.server == "https://eks.example.com" and access.namespace is None
    assert access.insecure and access.tls_server_name == "kubernetes"
    assert access.bearer_token() == "t0k"
    assert access.ssl_context().verify_mode is ssl.CERT_NONE


def test_token_file_is_read_afresh(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("first\n")
    access = load_kubeconfig(_write(tmp_path / "config", _config(tokenFile=str(token))))
    assert access.bearer_token() == "first"
    token.write_text("rotated\n")
    assert access.bearer_token() == "rotated"
    token.unlink()
    with pytest.raises(ConfigError, match="Cannot read the token file"):
        access.bearer_token()


def test_exec_plugins(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin"
    plugin.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = fail ]; then echo denied >&2; exit 3; fi\n'
        'if [ "$1" = garbage ]; then echo hello; exit 0; fi\n'
        'if [ "$1" = empty ]; then echo \'{"status": {}}\'; exit 0; fi\n'
        'printf \'{"kind":"ExecCredential","status":{"token":"%s"}}\' "$PLUGIN_TOKEN"\n'
    )
    plugin.chmod(0o755)

    def access_with(*args: str) -> ClusterAccess:
        spec = {
            "command": str(plugin),
            "args": list(args),
            "env": [{"name": "PLUGIN_TOKEN", "value": "from-exec"}],
        }
        return load_kubeconfig(_write(tmp_path / "config", _config(exec=spec)))

    assert access_with().bearer_token() == "from-exec"
    with pytest.raises(ExternalToolError, match=r"failed \(exit 3\): denied"):
        access_with("fail").bearer_token()
    with pytest.raises(ExternalToolError, match="did not print an ExecCredential"):
        access_with("garbage").bearer_token()
    with pytest.raises(ExternalToolError, match="gave no token"):
        access_with("empty").bearer_token()
    missing = {"command": "no-such-plugin-here", "installHint": "brew install it"}
    access = load_kubeconfig(_write(tmp_path / "config", _config(exec=missing)))
    with pytest.raises(ExternalToolError) as info:
        access.bearer_token()
    assert "is not installed" in str(info.value) and info.value.hint == "brew install it"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("current-context"), "has no current-context"),
        (
            lambda d: d.update({"current-context": "qa"}),
            "no context named 'qa' (the contexts are: dev, prod)",
        ),
        (lambda d: d["clusters"].pop(0), "no cluster named 'k3s' (the clusters are: eks)"),
        (lambda d: d["clusters"][0]["cluster"].pop("server"), "cluster 'k3s' has no server"),
        (lambda d: d["users"][0].update({"user": "x"}), "users entry 'me' has no user map"),
        (
            lambda d: d["users"][0]["user"].update({"client-key-data": "!!!"}),
            "client-key-data is not valid base64",
        ),
        (
            lambda d: d["users"][0]["user"].update({"client-certificate": "missing.crt"}),
            "cannot read client-certificate",
        ),
    ],
)
def test_problems_name_the_file(tmp_path: Path, mutate: object, message: str) -> None:
    doc = _config(token="x")
    mutate(doc)  # type: ignore[operator]
    path = _write(tmp_path / "config", doc)
    with pytest.raises(ConfigError) as info:
        load_kubeconfig(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError) as info:
        load_kubeconfig(tmp_path / "nope")
    assert "does not exist" in str(info.value) and "kubernetes.kubeconfig" in str(info.value)
    (tmp_path / "bad").write_text("a: [unclosed\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_kubeconfig(tmp_path / "bad")
    (tmp_path / "list").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="no mapping at the top"):
        load_kubeconfig(tmp_path / "list")
    with pytest.raises(ConfigError, match="Cannot read the kubeconfig"):
        load_kubeconfig(tmp_path)


def test_default_kubeconfig_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", f":{tmp_path}/a:{tmp_path}/b")
    assert default_kubeconfig() == tmp_path / "a"
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_kubeconfig() == tmp_path / ".kube" / "config"
    (tmp_path / ".kube").mkdir()
    _write(tmp_path / ".kube" / "config", _config(token="x"))
    assert load_kubeconfig().context == "dev"
