"""Fixtures of the environment tests: a git project on the session's PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from odooplane.config import load_config
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project


def rules_project(root: Path, server: DatabaseServer, extra: str = "") -> Project:
    (root / "odooplane.yaml").write_text(
        "project: rules\n"
        "odoo:\n"
        "  series: '17.0'\n"
        "  source: /opt/odoo-src/17.0\n"
        "database:\n"
        f"  server: '{server.url(redact=False)}'\n"
        "environments:\n"
        "  production:\n"
        "    kind: production\n"
        "  staging:\n"
        "    kind: staging\n"
        f"    database: {root.name}_staging\n"
        "    data: {copy: production}\n" + extra
    )
    return Project(root=root, config=load_config(root / "odooplane.yaml"))


@pytest.fixture
def project(make_git_repo: Callable[..., Path], pg_server: DatabaseServer) -> Project:
    repo = make_git_repo("rules")
    return rules_project(repo, pg_server)
