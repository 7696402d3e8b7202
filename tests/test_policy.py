"""Production's databases, decided once: which they are, and that neutralizing them is
refused unless forced (no database needed: the rule comes before any connection)."""

from __future__ import annotations

from pathlib import Path

import pytest

from odooplane.config import ProjectConfig
from odooplane.errors import RefusedError
from odooplane.policy import check_neutralize, production_databases
from odooplane.postgres.protection import Protection
from odooplane.project import Project


def _project(root: Path) -> Project:
    config = ProjectConfig(
        project="acme",
        odoo={"series": "17.0", "source": "/x"},
        environments={
            "live": {"kind": "production", "database": "acme_live"},
            "staging": {"kind": "staging"},
        },
    )
    return Project(root=root, config=config)


def test_production_databases_and_their_snapshots(tmp_path: Path) -> None:
    protection = production_databases(_project(tmp_path))
    assert protection.owners == {"acme_live": "live"}
    assert protection.owner("acme_live") == "live"
    assert protection.owner("acme_live__snap__pre-20260314") == "live"
    assert protection.owner("acme_staging") is None
    assert protection.owner("acme_live_copy") is None


@pytest.mark.parametrize(
    ("database", "environment", "message"),
    [
        ("acme_live", "live", "'live' is a production environment: it is never neutralized"),
        ("acme_live", None, "belongs to production environment 'live': it is never"),
        ("acme_live__snap__x", None, "belongs to production environment 'live'"),
    ],
)
def test_neutralizing_production_is_refused_unless_forced(
    tmp_path: Path, database: str, environment: str | None, message: str
) -> None:
    project = _project(tmp_path)
    with pytest.raises(RefusedError, match=message):
        check_neutralize(project, database, environment)
    check_neutralize(project, database, environment, force=True)
    check_neutralize(project, "acme_staging", "staging")


def test_without_a_project_the_server_protection_decides() -> None:
    protection = Protection({"shop_prod": "production"})
    with pytest.raises(RefusedError, match="belongs to production environment 'production'"):
        check_neutralize(None, "shop_prod", None, protection=protection)
    check_neutralize(None, "shop_copy", None, protection=protection)
    check_neutralize(None, "shop_prod", None)  # nothing says it is production's
