"""`export compose` with a real Odoo 17 and a real engine: the file validates with
`docker compose config`, and `docker compose up` runs the environment (its own
PostgreSQL container, database initialized once) until it answers /web/health and
/web/login on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import run_git, write_addon
from odooplane.config import load_config
from odooplane.containers.compose import compose_command, export_compose
from odooplane.containers.engine import Docker
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.source import OdooSource
from odooplane.project import Project

pytestmark = [pytest.mark.odoo, pytest.mark.docker, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except OSError:
        return None


def test_exported_compose_file_runs_an_environment(
    make_git_repo: Callable[..., Path],
    odoo_source: OdooSource,
    odoo_runtime: Runtime,
    docker_engine: Docker,
    tmp_path: Path,
) -> None:
    repo = make_git_repo("project")
    name = f"comp{uuid.uuid4().hex[:6]}"
    (repo / "odooplane.yaml").write_text(
        f"project: {name}\n"
        "odoo:\n"
        f"  series: '{odoo_source.series}'\n"
        f"  source: '{odoo_source.path}'\n"
        "environments:\n"
        "  production:\n"
        "    kind: production\n"
        "    env_file: production.env\n"
    )
    (repo / "production.env").write_text("SHOP_MODE=live\n")
    (repo / ".gitignore").write_text(".odooplane/\n*.env\n")
    write_addon(repo / "addons", "shop_a")
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", "shop_a")
    project = Project(root=repo, config=load_config(repo / "odooplane.yaml"))
    out = tmp_path / "compose"

    result = export_compose(project, ["production"], out)

    assert [e.environment for e in result.environments] == ["production"]
    text = (out / "compose.yaml").read_text()
    assert "127.0.0.1:${PRODUCTION_HTTP_PORT}:8069" in text
    conf = (out / "production" / "odoo.conf").read_text()
    assert "db_host = db\n" in conf and "db_password = False\n" in conf
    assert "addons_path = /opt/odoo/project/addons,/opt/odoo/src/odoo/addons\n" in conf
    assert (out / ".env").stat().st_mode & 0o777 == 0o600
    env = (out / ".env").read_text()
    assert "ODOO_DB_PASSWORD=" in env and env.count("\n") >= 4
    port = _free_port()
    (out / ".env").write_text(
        env.replace("PRODUCTION_HTTP_PORT=18069", f"PRODUCTION_HTTP_PORT={port}")
    )

    compose = [*compose_command(docker_engine), "--project-directory", str(out)]
    try:
        up = subprocess.run(
            [*compose, "up", "--detach"],
            cwd=out,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert up.returncode == 0, up.stderr[-3000:]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and _status(f"http://127.0.0.1:{port}/web/health") != 200:
            time.sleep(1)
        assert _status(f"http://127.0.0.1:{port}/web/health") == 200
        assert _status(f"http://127.0.0.1:{port}/web/login") == 200  # the database is there
        # A second `up` finds the database and does not initialize it again.
        again = subprocess.run(
            [*compose, "up", "--detach"],
            cwd=out,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert again.returncode == 0, again.stderr[-3000:]
        probe = docker_engine.run(
            ["exec", f"{result.project_name}-production", "id", "-u"]
        ).stdout.strip()
        assert probe == "10001"
    finally:
        subprocess.run(
            [*compose, "down", "--volumes", "--timeout", "10"],
            cwd=out,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
