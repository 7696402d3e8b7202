"""Branch mapping over real odooplane.yaml files, and preview names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from odooplane.config import load_config
from odooplane.environments.branches import environment_for_branch, preview_name, slugify
from odooplane.errors import UsageError

YAML = """\
project: acme
odoo:
  series: "17.0"
  source: /opt/odoo-src/17.0
environments:
  production:
    kind: production
  staging:
    kind: staging
  hotfix:
    kind: development
    branches: ["hotfix/*", "release-17"]
  development:
    kind: development
    branches: ["*"]
"""


@pytest.fixture
def config(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "odooplane.yaml"
    path.write_text(YAML)
    return load_config(path)


@pytest.mark.parametrize(
    ("branch", "env", "pattern"),
    [
        ("main", "staging", "main"),  # staging's default, literal beats '*'
        ("hotfix/ticket-12", "hotfix", "hotfix/*"),  # a glob beats '*'
        ("release-17", "hotfix", "release-17"),
        ("feature/login", "development", "*"),
    ],
)
def test_branch_feeds(config, branch: str, env: str, pattern: str) -> None:  # type: ignore[no-untyped-def]
    match = environment_for_branch(config, branch)
    assert match.environment == env
    assert match.pattern == pattern
    assert match.kind == config.environments[env].kind.value


def test_production_only_through_promotion(tmp_path: Path) -> None:
    path = tmp_path / "odooplane.yaml"
    without_catch_all = YAML.replace(
        '  development:\n    kind: development\n    branches: ["*"]\n', ""
    )
    path.write_text(without_catch_all)
    match = environment_for_branch(load_config(path), "feature/x")
    assert match.environment is None
    assert "no environment" in match.reason


def test_bad_branch_names(config) -> None:  # type: ignore[no-untyped-def]
    for bad in ("", "-x", "a b"):
        with pytest.raises(UsageError):
            environment_for_branch(config, bad)


def test_preview_names() -> None:
    assert preview_name(42, "Add the Invoice report!") == "pr-42-add-the-invoice-report"
    assert preview_name(7, "Ünïcödé ÇAFÉ / émoji 🚀") == "pr-7-unicode-cafe-emoji"
    assert preview_name(3, "!!!") == "pr-3"
    long = preview_name(123, "x" * 40 + " " + "y" * 40)
    assert len(long) == 63 and long.startswith("pr-123-") and not long.endswith("-")
    with pytest.raises(UsageError):
        preview_name(0, "t")
    with pytest.raises(UsageError):
        preview_name(True, "t")  # type: ignore[arg-type]


DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@given(number=st.integers(min_value=1, max_value=10**9), title=st.text(max_size=200))
def test_preview_name_is_a_stable_dns_label(number: int, title: str) -> None:
    name = preview_name(number, title)
    assert DNS_LABEL.match(name), name
    assert len(name) <= 63
    assert name.startswith(f"pr-{number}")
    assert name == preview_name(number, title)
    assert "--" not in slugify(title)
