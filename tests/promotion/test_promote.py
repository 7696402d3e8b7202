"""What a promotion checks without a person or an Odoo: which environments it goes
between, its settings, and the smoke check against a real HTTP server on 127.0.0.1 (the
whole promotion with a real Odoo: tests/promotion/test_promotion_odoo.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from odooplane.config import load_config
from odooplane.errors import NotFoundError, UsageError
from odooplane.project import Project
from odooplane.promotion.promote import (
    DEFAULT_SMOKE_PATHS,
    PromotionSettings,
    _smoke_ok,
    resolve_environments,
    settings_for,
    smoke_check,
)


def _project(tmp_path: Path, extra: str = "", environments: str | None = None) -> Project:
    (tmp_path / "odooplane.yaml").write_text(
        "project: shop\n"
        "odoo: {series: '17.0', source: /opt/odoo-src/17.0}\n"
        + extra
        + "environments:\n"
        + (
            environments
            or "  prod: {kind: production}\n  stage: {kind: staging}\n  dev: {kind: development}\n"
        )
    )
    return Project(root=tmp_path, config=load_config(tmp_path / "odooplane.yaml"))


def test_environments_default_to_staging_and_production(tmp_path: Path) -> None:
    project = _project(tmp_path)
    assert resolve_environments(project, None, None) == ("stage", "prod")
    assert resolve_environments(project, "dev", "stage") == ("dev", "stage")
    with pytest.raises(UsageError, match="--from and --to are both 'prod'"):
        resolve_environments(project, "prod", None)
    with pytest.raises(NotFoundError, match="No environment named 'qa'"):
        resolve_environments(project, "qa", None)


def test_a_project_without_staging_or_production_says_which_option(tmp_path: Path) -> None:
    only_dev = _project(tmp_path, environments="  dev: {kind: development}\n")
    with pytest.raises(UsageError, match="No staging environment is configured: name one"):
        resolve_environments(only_dev, None, None)
    with pytest.raises(UsageError, match="No production environment is configured"):
        resolve_environments(only_dev, "dev", None)


def test_settings(tmp_path: Path) -> None:
    assert settings_for(_project(tmp_path)) == PromotionSettings()
    assert PromotionSettings().smoke_paths == DEFAULT_SMOKE_PATHS
    project = _project(
        tmp_path,
        "promotion:\n  approvers: [alice]\n  forbid_self_approval: true\n"
        "  smoke_paths: [/shop, /web/health]\n",
    )
    settings = settings_for(project)
    assert settings.approvers == ("alice",) and settings.forbid_self_approval
    # /web/health always comes first, once.
    assert settings.smoke_paths == ("/web/health", "/shop")


@pytest.fixture
def site() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            codes = {"/web/health": 200, "/web/login": 303, "/broken": 500}
            code = codes.get(self.path, 404)
            self.send_response(code)
            if code == 303:
                self.send_header("Location", "/web/health")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_smoke_check_against_a_real_server(site: str) -> None:
    results = smoke_check(site, ("/web/health", "/web/login"), timeout=5)
    assert results["/web/health"] == 200
    assert isinstance(results["/web/login"], int) and results["/web/login"] < 400
    assert _smoke_ok(results)
    failing = smoke_check(site, ("/web/health", "/broken", "/missing"), timeout=5)
    assert (failing["/broken"], failing["/missing"]) == (500, 404)
    assert not _smoke_ok(failing)


def test_an_unreachable_site_is_reported_not_raised() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    results = smoke_check(f"http://127.0.0.1:{port}", ("/web/health",), timeout=2)
    assert isinstance(results["/web/health"], str)
    assert not _smoke_ok(results)
