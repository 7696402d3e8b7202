"""The neutralization step of a copy and the check before every start, on a clone of
the production-like database on real PostgreSQL (no Odoo process: neutralization is SQL):
an unneutralized copy never starts, a neutralized one does, and the run is evidence."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from odooplane.config import load_config
from odooplane.environments.builds import Build
from odooplane.environments.context import EnvContext
from odooplane.environments.neutralize_step import neutralize_step, verify_before_start
from odooplane.environments.ports import PortPair
from odooplane.environments.state import EnvState
from odooplane.environments.steps import NeutralizationRefused, RecordedRun, open_evidence
from odooplane.mailcatcher import stop_catcher
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project

ODOO = "/opt/odoo-src/17.0"


@pytest.fixture
def ctx(
    make_git_repo: Callable[..., Path], pg_server: DatabaseServer, prodlike_db: str
) -> Iterator[EnvContext]:
    repo = make_git_repo("shop")
    (repo / "odooplane.yaml").write_text(
        "project: shop\n"
        f"odoo: {{series: '17.0', source: {ODOO}}}\n"
        f"database: {{server: '{pg_server.url(redact=False)}'}}\n"
        "environments:\n"
        "  production: {kind: production}\n"
        f"  staging: {{kind: staging, database: {prodlike_db}, data: {{copy: production}}}}\n"
    )
    project = Project(root=repo, config=load_config(repo / "odooplane.yaml"))
    context = EnvContext(project, "staging")
    try:
        yield context
    finally:
        stop_catcher(project.state_dir)


def _build(root: Path) -> Build:
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
        odoo_revision="r",
        odoo_path=ODOO,
        deps_hash="d",
        runtime_path="/nonexistent",
        python="python3",
        code_dir=str(root),
        project_subdir="",
    )


def test_a_copy_starts_only_once_neutralized(ctx: EnvContext, pg_server: DatabaseServer) -> None:
    state = EnvState(name="staging", kind="staging", database=ctx.database)
    ctx.store.save(state)
    pair = PortPair(18469, 18472)

    with pytest.raises(NeutralizationRefused) as refused:
        verify_before_start(ctx, state, pg_server, pair)
    assert "Environment 'staging' is not started: its database is not neutralized" in str(
        refused.value
    )
    assert "odooplane neutralize staging" in (refused.value.hint or "")
    saved = ctx.store.load("staging")
    assert saved is not None and saved.neutralization is not None
    assert saved.neutralization["status"] == "failed"
    assert "mail.catcher" in saved.neutralization["failures"]

    with open_evidence(ctx.project) as store:
        with store.start_deployment("staging", git_sha="f" * 40, kind="create") as deployment:
            run = RecordedRun(deployment, None)
            record = neutralize_step(
                ctx, pg_server, _build(ctx.project.root), pair, run, source_database="shop_prod"
            )
        detail = store.deployment(deployment.id)
    assert record["status"] == "verified" and record["changed"] > 0
    assert [(s.name, s.status) for s in detail.steps] == [("neutralize", "succeeded")]

    state.neutralization = None
    verify_before_start(ctx, state, pg_server, pair)  # passes, and says so in the state
    saved = ctx.store.load("staging")
    assert saved is not None and saved.neutralization is not None
    assert saved.neutralization["status"] == "verified"
    assert saved.neutralization["note"] == "verified before starting"
