"""`odooplane export kubernetes | compose`: help, and refusals before any build is
made (the exports themselves build images: tests/backends/kubernetes/test_export.py and
tests/containers/test_compose_docker.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_run import run

CONFIG = """\
project: shop
odoo: {series: '17.0', source: /opt/odoo-src/17.0}
environments:
  production: {kind: production}
  staging: {kind: staging}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    root.mkdir()
    (root / "odooplane.yaml").write_text(CONFIG)
    return root


def test_help(capfd: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capfd, "export", "--help")
    assert code == 0 and "kubernetes" in out and "compose" in out
    code, out, _ = run(capfd, "export", "kubernetes", "--help")
    assert code == 0 and "--include-secrets" in out and "kubectl apply -k" in out
    code, out, _ = run(capfd, "export", "compose", "--help")
    assert code == 0 and "docker compose up -d" in out


@pytest.mark.parametrize("kind", ["kubernetes", "compose"])
def test_unknown_environment(project: Path, kind: str, capfd: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capfd, "-C", str(project), "export", kind, "qa")
    assert code == 1
    assert "No environment named 'qa'" in err and "production, staging" in err


@pytest.mark.parametrize("kind", ["kubernetes", "compose"])
def test_output_that_is_a_file(project: Path, kind: str, capfd: pytest.CaptureFixture[str]) -> None:
    target = project / "out"
    target.write_text("not a folder")
    code, _, err = run(capfd, "-C", str(project), "export", kind, "-o", str(target))
    assert code == 2 and f"Directory '{target}' is a file." in err


def test_secrets_of_a_local_server_cannot_be_exported(
    project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capfd, "-C", str(project), "export", "kubernetes", "--include-secrets", "-o", "k8s"
    )
    assert code == 1 and "pods cannot reach it" in err
    assert not (project / "k8s").exists()
