"""Preview records and the environment definition they imply (no Odoo needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from odooplane.config import CopyPolicy, EnvironmentKind, load_config
from odooplane.errors import NotFoundError, RefusedError
from odooplane.previews import api
from odooplane.previews.records import (
    BASE_NAME,
    PreviewRecord,
    PreviewStore,
    data_mode,
    staging_source,
)
from odooplane.project import Project

BASE = "project: rec\nodoo:\n  series: '17.0'\n  source: /x\n"
ENVS = (
    "environments:\n"
    "  production: {kind: production}\n"
    "  staging: {kind: staging, data: {copy: production}, modules: [sale]}\n"
)


def project(tmp_path: Path, text: str) -> Project:
    (tmp_path / "odooplane.yaml").write_text(text)
    return Project(root=tmp_path, config=load_config(tmp_path / "odooplane.yaml"))


def record(name: str = "pr-7-feature-x", data: str = "staging") -> PreviewRecord:
    return PreviewRecord(
        name=name,
        pr=7,
        branch="feature/x",
        title=None,
        ref="feature/x",
        data=data,
        url="http://pr-7-feature-x.localhost",
        hostname="pr-7-feature-x.localhost",
        public_port=8123,
        created_at="2026-01-01T00:00:00+00:00",
        updated_at="2026-01-01T00:00:00+00:00",
    )


def test_data_defaults_to_staging_when_it_exists_else_demo(tmp_path: Path) -> None:
    with_staging = project(tmp_path, BASE + ENVS)
    assert staging_source(with_staging.config) == "staging"
    assert data_mode(with_staging.config) == "staging"
    (tmp_path / "b").mkdir()
    without = project(tmp_path / "b", BASE)
    assert staging_source(without.config) is None and data_mode(without.config) == "demo"
    (tmp_path / "c").mkdir()
    fresh = project(tmp_path / "c", BASE + ENVS + "previews: {data: fresh}\n")
    assert data_mode(fresh.config) == "fresh"


def test_a_preview_is_an_environment_of_kind_preview(tmp_path: Path) -> None:
    p = project(tmp_path, BASE + ENVS + "previews: {enabled: true, workers: 2}\n")
    with pytest.raises(NotFoundError, match="No environment named 'pr-7-feature-x'"):
        p.environment("pr-7-feature-x")
    PreviewStore(p.state_dir).save(record())
    env = p.environment("pr-7-feature-x")
    assert env.kind is EnvironmentKind.preview and env.neutralized
    assert env.data == CopyPolicy.model_validate({"copy": BASE_NAME})
    assert env.url == "http://pr-7-feature-x.localhost" and env.workers == 2
    assert env.modules == ["sale"]  # the copied environment's
    assert p.config.database_name("pr-7-feature-x") == "rec_pr_7_feature_x"
    base = p.environment(BASE_NAME)
    assert base.data == CopyPolicy.model_validate({"copy": "staging"}) and base.neutralized
    PreviewStore(p.state_dir).save(record("pr-8-demo", data="demo"))
    assert p.environment("pr-8-demo").data == "demo"
    assert [r.name for r in PreviewStore(p.state_dir).all()] == ["pr-7-feature-x", "pr-8-demo"]
    assert PreviewStore(p.state_dir).by_pr(7).name == "pr-7-feature-x"  # type: ignore[union-attr]


def test_up_refuses_until_previews_are_enabled(tmp_path: Path) -> None:
    p = project(tmp_path, BASE + ENVS)
    with pytest.raises(RefusedError, match="Previews are not enabled"):
        api.up(p, pr=1, branch="feature/x")


def test_close_pin_and_unknown_pull_requests(tmp_path: Path) -> None:
    p = project(tmp_path, BASE + ENVS + "previews: {enabled: true}\n")
    PreviewStore(p.state_dir).save(record())
    closed = api.close(p, prs=[7, 99])
    assert closed[0]["environment"] == "pr-7-feature-x" and closed[0]["closed_at"]
    assert closed[1] == {"pr": 99, "environment": None, "closed_at": None}
    again = api.close(p, prs=[7])
    assert again[0]["closed_at"] == closed[0]["closed_at"]  # the first closing time stays
    with pytest.raises(NotFoundError, match="No preview for pull request #99"):
        api.pin(p, pr=99, pinned=True)
