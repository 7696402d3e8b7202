"""Helpers shared by the tests of odooplane.config: a valid file and issue matchers."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from odooplane.config import ConfigFileError, ConfigIssue, load_config

VALID = """\
project: shop
odoo:
  series: "17.0"
  source: /opt/odoo
environments:
  production:
    kind: production
  staging:
    kind: staging
    data: {copy: production}
  dev:
    kind: development
    branches: ["*"]
    data: demo
"""


def write(folder: Path, text: str, name: str = "odooplane.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def issues_of(path: Path, environ: dict[str, str] | None = None) -> list[ConfigIssue]:
    with pytest.raises(ConfigFileError) as info:
        load_config(path, environ=environ or {})
    assert not info.value.internal, str(info.value)
    return info.value.issues


def one_issue(path: Path, environ: dict[str, str] | None = None) -> ConfigIssue:
    issues = issues_of(path, environ)
    assert len(issues) == 1, "\n".join(map(str, issues))
    return issues[0]


def assert_at(issue: ConfigIssue, path: Path, line: int, column: int, key: str) -> None:
    assert (issue.file, issue.line, issue.column, issue.path) == (str(path), line, column, key)
    assert str(issue).startswith(f"{path}:{line}:{column}: {key}: " if key else f"{path}:{line}")
