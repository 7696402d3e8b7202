"""Checks that span several keys: one production, copies, branches, databases, hosts."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from fixtures_config import VALID, assert_at, issues_of, one_issue, write
from odooplane.config import (
    ProjectConfig,
    branch_patterns,
    load_config,
)
from odooplane.globs import pattern_matches

# -- checks across keys -------------------------------------------------------------------


def test_two_production_environments(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "  prod2:\n    kind: production\n")
    issue = one_issue(path)
    assert_at(issue, path, 16, 11, "environments.prod2.kind")
    assert "'prod2' is a second production environment; 'production' is already" in (issue.message)


def test_production_is_never_neutralized_nor_demo(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        VALID.replace(
            "kind: production\n", "kind: production\n    neutralize: true\n    data: demo\n"
        ),
    )
    issues = issues_of(path)
    assert [(i.line, i.column, i.path) for i in issues] == [
        (8, 17, "environments.production.neutralize"),
        (9, 11, "environments.production.data"),
    ]


def test_copy_of_unknown_environment(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("{copy: production}", "{copy: prodution}"))
    issue = one_issue(path)
    assert_at(issue, path, 10, 18, "environments.staging.data.copy")
    assert "'prodution' is not an environment of this project; did you mean 'production'?" in (
        issue.message
    )
    assert "production, staging, dev" in issue.fix


def test_copy_of_itself(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("{copy: production}", "{copy: staging}"))
    issue = one_issue(path)
    assert_at(issue, path, 10, 18, "environments.staging.data.copy")
    assert "cannot be a copy of itself" in issue.message


def test_copies_in_a_circle(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        VALID.replace("data: demo", "data: {copy: qa}")
        + "  qa:\n    kind: development\n    data: {copy: dev}\n",
    )
    issue = one_issue(path)
    assert issue.path == "environments.dev.data.copy"
    assert "circle (dev -> qa -> dev)" in issue.message


def test_previews_copy_of_unknown_environment(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "previews: {data: {copy: stagign}}\n")
    issue = one_issue(path)
    assert_at(issue, path, 15, 25, "previews.data.copy")
    assert "did you mean 'staging'?" in issue.message


def test_staging_default_branch_overlaps_a_literal(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "  hotfix:\n    kind: development\n    branches: [main]\n")
    issue = one_issue(path)
    assert_at(issue, path, 17, 16, "environments.hotfix.branches[0]")
    assert (
        "branch 'main' would match two environments: 'main' of 'staging' (the staging "
        "default) and 'main' of 'hotfix'"
    ) in issue.message


def test_two_staging_environments_share_the_default(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "  staging2:\n    kind: staging\n")
    issue = one_issue(path)
    assert_at(issue, path, 15, 3, "environments.staging2")
    assert "branch 'main'" in issue.message


def test_overlapping_globs_name_a_branch_matching_both(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        VALID
        + "  features:\n    kind: development\n    branches: ['feature/*']\n"
        + "  fixes:\n    kind: development\n    branches: [main2, '*-fix']\n",
    )
    issue = one_issue(path)
    assert_at(issue, path, 20, 23, "environments.fixes.branches[1]")
    witness = issue.message.split("branch '")[1].split("'")[0]
    assert pattern_matches("feature/*", witness) and pattern_matches("*-fix", witness)


def test_two_catch_alls(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "  other:\n    kind: development\n    branches: ['**']\n")
    issue = one_issue(path)
    assert_at(issue, path, 17, 16, "environments.other.branches[0]")
    assert "any branch would match two environments" in issue.message


def test_literal_beats_glob_beats_catch_all(tmp_path: Path) -> None:
    text = (
        VALID
        + "  hotfix:\n    kind: development\n    branches: ['hotfix/*', 'release/1.0']\n"
        + "  release:\n    kind: development\n    branches: ['release/*']\n"
    )
    config = load_config(write(tmp_path, text), environ={})
    assert branch_patterns(config, "release") == ["release/*"]


def test_databases_must_not_collide(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("data: demo", "data: demo\n    database: shop_staging"))
    issue = one_issue(path)
    assert_at(issue, path, 15, 15, "environments.dev.database")
    assert "'staging' and 'dev' would both use the database 'shop_staging'" in issue.message


def test_default_database_name_too_long(tmp_path: Path) -> None:
    name = "p" * 60
    path = write(tmp_path, VALID.replace("project: shop", f"project: {name}"))
    issues = issues_of(path)
    assert [i.path for i in issues] == [
        "environments.production",
        "environments.staging",
        "environments.dev",
    ]
    assert "longer than PostgreSQL's 63 characters" in issues[0].message
    assert (issues[0].line, issues[0].column) == (6, 3)


def test_two_environments_on_one_host(tmp_path: Path) -> None:
    text = VALID.replace(
        "kind: production\n", "kind: production\n    url: https://erp.example.com\n"
    ).replace("data: demo", "data: demo\n    url: https://ERP.example.com/dev")
    path = write(tmp_path, text)
    issue = one_issue(path)
    assert_at(issue, path, 16, 10, "environments.dev.url")
    assert "same host 'erp.example.com'" in issue.message


def test_programmatic_construction_runs_the_cross_checks() -> None:
    with pytest.raises(ValidationError, match="second production environment"):
        ProjectConfig.model_validate(
            {
                "project": "shop",
                "odoo": {"series": "17.0", "source": "/opt/odoo"},
                "environments": {
                    "a": {"kind": "production"},
                    "b": {"kind": "production"},
                },
            }
        )
