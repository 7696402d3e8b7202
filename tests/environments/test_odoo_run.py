"""What a deploy reads and writes in the environment's database around Odoo's update, on
a clone of the production-like database (running odoo-bin itself:
tests/environments/test_api_odoo.py): installed modules, the update plan from the
project's addons, and the checksums that make the next plan empty."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import run_git, write_addon
from odooplane.config import load_config
from odooplane.environments.builds import Build
from odooplane.environments.context import EnvContext
from odooplane.environments.odoo_run import module_rows, store_checksums, update_plan
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project

ODOO = "/opt/odoo-src/17.0"


@pytest.fixture
def ctx(
    make_git_repo: Callable[..., Path], pg_server: DatabaseServer, prodlike_db: str
) -> EnvContext:
    repo = make_git_repo("shop")
    write_addon(repo / "addons", "shop_extra", version="17.0.1.0.0", depends=("base",))
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", "addon")
    (repo / "odooplane.yaml").write_text(
        "project: shop\n"
        f"odoo: {{series: '17.0', source: {ODOO}}}\n"
        f"database: {{server: '{pg_server.url(redact=False)}'}}\n"
        "environments:\n"
        f"  production: {{kind: production, database: {prodlike_db}}}\n"
    )
    project = Project(root=repo, config=load_config(repo / "odooplane.yaml"))
    return EnvContext(project, "production")


def _build(root: Path, revision: str = "rev-1") -> Build:
    return Build(
        sha="f" * 40,
        ref="main",
        branch="main",
        subject="s",
        message="s",
        author_name="A",
        author_email="a@example.com",
        committed_at="2026-01-01T00:00:00+00:00",
        authored_at="2026-01-01T00:00:00+00:00",
        odoo_series="17.0",
        odoo_revision=revision,
        odoo_path=ODOO,
        deps_hash="d",
        runtime_path="/nonexistent",
        python="python3",
        code_dir=str(root),
        project_subdir="",
    )


def test_plan_installs_new_addons_then_checksums_settle_it(
    ctx: EnvContext, pg_server: DatabaseServer
) -> None:
    rows = module_rows(pg_server, ctx.database)
    assert rows["base"].state == "installed"
    assert "shop_extra" not in rows
    build = _build(ctx.project.root)
    plan = update_plan(ctx, pg_server, build)
    assert (plan.install, plan.update, plan.update_all) == (["shop_extra"], [], False)
    assert plan.reasons == {"shop_extra": "not installed yet"}
    store_checksums(ctx, pg_server, build)
    assert update_plan(ctx, pg_server, build) == plan  # not installed until odoo-bin runs
    # Odoo's own source changed since the checksums were stored: everything is updated.
    moved = update_plan(ctx, pg_server, _build(ctx.project.root, "rev-2"))
    assert moved.update_all and moved.install == ["shop_extra"]
    assert moved.reasons["all"] == "the Odoo source changed (rev-1 -> rev-2)"
