"""`preview gc` finds orphans (a route, a process, a database with no preview record)
with a real Caddy, supervisord and PostgreSQL, and records every removal."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from odooplane.backends.base import ProgramSpec
from odooplane.backends.supervisor import SupervisorBackend
from odooplane.config import load_config
from odooplane.evidence.api import EvidenceStore
from odooplane.postgres import databases as dbs
from odooplane.postgres.server import DatabaseServer
from odooplane.previews import api
from odooplane.project import Project
from odooplane.routing import Upstream, router_for
from routing.conftest import free_port


def test_gc_removes_orphans_and_records_why(tmp_path: Path, pg_server: DatabaseServer) -> None:
    if not shutil.which("caddy"):
        pytest.skip("Caddy is not installed (apt-get install caddy)")
    root = tmp_path / "proj"
    root.mkdir()
    (root / "odooplane.yaml").write_text(
        "project: gcorph\nodoo:\n  series: '17.0'\n  source: /opt/odoo-src/17.0\n"
        f"database:\n  server: '{pg_server.url(redact=False)}'\n"
        "previews: {enabled: true}\n"
        f"routing: {{listen: 127.0.0.1, http_port: {free_port()}, https_port: {free_port()}, "
        "tls: 'off'}\n"
    )
    project = Project(root=root, config=load_config(root / "odooplane.yaml"))
    router = router_for(project)
    backend = SupervisorBackend(project.state_dir)
    try:
        router.route("pr-9-route", listen_port=free_port(), upstream=Upstream(free_port()))
        backend.define(
            ProgramSpec(
                name="pr-8-process",
                argv=[sys.executable, "-c", "import time; time.sleep(600)"],
                cwd=root,
                env={"PATH": "/usr/bin:/bin"},
                log_file=root / "orphan.log",
            )
        )
        backend.start("pr-8-process")
        orphan_db = "gcorph_pr_7_database"
        dbs.create_database(pg_server, orphan_db)

        report = api.gc(project)
        removed = {a.environment: a.reason for a in report.actions if a.action == "removed"}
        assert set(removed) == {"pr-8-process", "pr-9-route"}
        assert all(r.startswith("orphan") for r in removed.values())
        assert router.get("pr-9-route") is None
        assert not backend.defined("pr-8-process")
        assert not dbs.database_exists(pg_server, orphan_db)
        with EvidenceStore.open(project) as store:
            removals = [d for d in store.history(limit=50) if d.kind == "preview-removal"]
        assert {d.environment for d in removals} == {"pr-8-process", "pr-9-route", orphan_db}
        # Idempotent.
        assert api.gc(project).actions == []
    finally:
        router.stop()
        backend.shutdown()
        dbs.drop_database(pg_server, "gcorph_pr_7_database", missing_ok=True, terminate=True)
