"""A preview with demo data (``previews.data: demo``) with a real Odoo 17 and Caddy:
a fresh database with demo records, a random admin password instead of admin/admin."""

from __future__ import annotations

import http.client
import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import TEST_CACHE, run_git, write_addon
from odooplane.backends.supervisor import SupervisorBackend
from odooplane.config import load_config
from odooplane.mailcatcher import stop_catcher
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.source import OdooSource
from odooplane.postgres.server import DatabaseServer
from odooplane.previews import api
from odooplane.project import Project
from odooplane.routing import router_for
from routing.conftest import free_port

pytestmark = [pytest.mark.odoo, pytest.mark.slow]


@pytest.fixture
def project(
    tmp_path: Path, pg_server: DatabaseServer, odoo_source: OdooSource, odoo_runtime: Runtime
) -> Iterator[Project]:
    if not shutil.which("caddy"):
        pytest.skip("Caddy is not installed (apt-get install caddy)")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ODOOPLANE_CACHE_DIR", str(TEST_CACHE))
        repo = tmp_path / "project"
        repo.mkdir()
        run_git(repo, "init", "-q", "-b", "main")
        (repo / "odooplane.yaml").write_text(
            f"project: dem{uuid.uuid4().hex[:6]}\n"
            "odoo:\n"
            f"  series: '{odoo_source.series}'\n"
            f"  source: '{odoo_source.path}'\n"
            "database:\n"
            f"  server: '{pg_server.url(redact=False)}'\n"
            "previews: {enabled: true, data: demo, domain: localhost}\n"
            f"routing: {{listen: 127.0.0.1, http_port: {free_port()}, "
            f"https_port: {free_port()}, tls: 'off'}}\n"
        )
        (repo / ".gitignore").write_text(".odooplane/\nweb/\n")
        write_addon(repo / "addons", "demo_hello")
        run_git(repo, "add", "-A")
        run_git(repo, "commit", "-qm", "demo addon")
        run_git(repo, "branch", "feature/demo")
        p = Project(root=repo, config=load_config(repo / "odooplane.yaml"))
        try:
            yield p
        finally:
            for info in api.list_previews(p):
                api.down(p, pr=info.pr, reason="test teardown")
            router_for(p).stop()
            SupervisorBackend(p.state_dir).shutdown()
            stop_catcher(p.state_dir)


def _authenticate(port: int, host: str, db: str, login: str, password: str) -> dict[str, object]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = json.dumps(
        {"jsonrpc": "2.0", "params": {"db": db, "login": login, "password": password}}
    )
    conn.request(
        "POST",
        "/web/session/authenticate",
        body,
        headers={"Host": host, "Content-Type": "application/json"},
    )
    data = json.loads(conn.getresponse().read())
    conn.close()
    return dict(data)


def test_demo_preview(project: Project, pg_server: DatabaseServer) -> None:
    info = api.up(project, pr=5, branch="feature/demo")
    assert info.data == "demo" and info.status == "running" and info.login == "admin"
    assert info.password and info.password != "admin"
    db = project.config.database_name(info.environment)
    with pg_server.connect(db) as conn:
        demo = conn.execute(
            "SELECT count(*) FROM ir_model_data WHERE module = 'base' AND name = 'res_partner_1'"
        ).fetchone()
        installed = conn.execute(
            "SELECT state FROM ir_module_module WHERE name = 'demo_hello'"
        ).fetchone()
    assert demo is not None and demo[0] == 1  # demo data is there
    assert installed is not None and installed[0] == "installed"
    host = f"{info.environment}.localhost"
    port = project.config.routing.http_port
    ok = _authenticate(port, host, db, "admin", info.password)
    assert ok.get("result")  # the printed password logs in
    refused = _authenticate(port, host, db, "admin", "admin")
    assert "error" in refused  # admin/admin does not
