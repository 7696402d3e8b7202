"""pydantic's errors become problems naming the key, the value and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures_config import VALID, assert_at, issues_of, one_issue, write
from odooplane.config import (
    ConfigFileError,
    load_config,
)

# -- keys ---------------------------------------------------------------------------------


def test_misspelt_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("environments:", "enviroments:"))
    issue = one_issue(path)
    assert_at(issue, path, 5, 1, "enviroments")
    assert "did you mean 'environments'?" in issue.message


def test_misspelt_nested_key(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace('branches: ["*"]', 'brnaches: ["*"]'))
    issue = one_issue(path)
    assert_at(issue, path, 13, 5, "environments.dev.brnaches")
    assert "unknown key 'brnaches'; did you mean 'branches'?" in issue.message


def test_misspelt_key_in_copy_policy(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("{copy: production}", "{copi: production}"))
    issues = issues_of(path)
    assert [(i.line, i.column, i.path) for i in issues] == [
        (10, 5, "environments.staging.data.copy"),
        (10, 12, "environments.staging.data.copi"),
    ]
    assert "required key 'copy' is missing" in issues[0].message
    assert "did you mean 'copy'?" in issues[1].message


def test_misplaced_key_says_where_it_belongs(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "workers: 4\n")
    issue = one_issue(path)
    assert_at(issue, path, 15, 1, "workers")
    assert "belongs under environments.<name>.workers" in issue.message
    assert "project, odoo, database" in issue.fix


def test_missing_required_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        project: shop
        environments:
          dev:
            branches: ["*"]
        """,
    )
    issues = issues_of(path)
    assert [(i.line, i.column, i.path) for i in issues] == [
        (1, 1, "odoo"),
        (3, 3, "environments.dev.kind"),
    ]
    assert "the required key 'kind' is missing" in issues[1].message
    assert "kind: development" in issues[1].fix


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        project: Shop
        odoo:
          series: "17.5"
          sourse: /opt/odoo
        environments:
          dev:
            kind: develop
            workers: lots
        """,
    )
    with pytest.raises(ConfigFileError) as info:
        load_config(path, environ={})
    issues = info.value.issues
    assert [(i.line, i.column, i.path) for i in issues] == [
        (1, 10, "project"),
        (2, 1, "odoo.source"),
        (3, 11, "odoo.series"),
        (4, 3, "odoo.sourse"),
        (7, 11, "environments.dev.kind"),
        (8, 14, "environments.dev.workers"),
    ]
    message = info.value.message
    assert message.startswith(f"{path} has 6 problems:\n")
    assert all(f"  {issue}" in message.splitlines() for issue in issues)
    assert "did you mean 'development'?" in issues[4].message
