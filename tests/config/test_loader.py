"""The loader: valid files, reading and parsing; every bad input names file:line:column."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures_config import VALID, assert_at, issues_of, one_issue, write
from odooplane.config import (
    CopyPolicy,
    EnvironmentKind,
    GitSource,
    branch_patterns,
    load_config,
    load_config_text,
)
from odooplane.errors import ConfigError, NotFoundError

# -- valid files --------------------------------------------------------------------------


def test_valid_file_loads_with_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID), environ={})
    assert config.project == "shop"
    assert config.odoo.series == "17.0"
    assert config.database.server == "embedded"
    assert list(config.environments) == ["production", "staging", "dev"]
    staging = config.environments["staging"]
    assert staging.kind is EnvironmentKind.staging
    assert isinstance(staging.data, CopyPolicy) and staging.data.copy_ == "production"
    assert staging.neutralized and not config.environments["production"].neutralized
    assert branch_patterns(config, "staging") == ["main"]
    assert branch_patterns(config, "dev") == ["*"]
    assert branch_patterns(config, "production") == []
    assert config.database_name("staging") == "shop_staging"
    assert config.evidence.url == "sqlite"
    assert config.gates.timeout_minutes == 30


def test_branch_patterns_of_unknown_environment(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID), environ={})
    with pytest.raises(NotFoundError, match="'nope'"):
        branch_patterns(config, "nope")


def test_numbers_where_people_write_them(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        project: shop
        odoo:
          series: 17.0
          source: {git: "https://github.com/odoo/odoo.git", ref: 16.0}
        environments:
          dev: {kind: development, workers: "3", branches: ["*"]}
        """,
    )
    config = load_config(path, environ={})
    assert config.odoo.series == "17.0"
    assert isinstance(config.odoo.source, GitSource) and config.odoo.source.ref == "16.0"
    assert config.environments["dev"].workers == 3


def test_merge_keys_and_explicit_str_tag(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        project: !!str shop
        odoo: {series: "17.0", source: /opt/odoo}
        environments:
          dev: &dev
            kind: development
            branches: ["feature/*"]
            workers: 2
          dev2:
            <<: *dev
            branches: ["fix/*"]
        """,
    )
    config = load_config(path, environ={})
    assert config.environments["dev2"].workers == 2
    assert config.environments["dev2"].branches == ["fix/*"]


def test_load_config_text_resolves_env_files_beside_the_path(tmp_path: Path) -> None:
    (tmp_path / "dev.env").write_text("HOST=dev.example.com\n")
    text = VALID.replace(
        "    data: demo\n", "    data: demo\n    env_file: dev.env\n    url: https://${HOST}\n"
    )
    config = load_config_text(text, tmp_path / "odooplane.yaml", environ={})
    assert config.environments["dev"].url == "https://dev.example.com"


# -- reading and parsing ------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "odooplane.yaml")
    assert f"{tmp_path / 'odooplane.yaml'}: no such file" in info.value.message
    assert "odooplane init" in (info.value.hint or "")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    (tmp_path / "odooplane.yaml").mkdir()
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path / "odooplane.yaml")


@pytest.mark.parametrize("text", ["", "   \n\n", "\t\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "odooplane.yaml"
    path.write_text(text)
    issue = one_issue(path)
    assert_at(issue, path, 1, 1, "")
    assert "empty" in issue.message and "odooplane init" in issue.fix


def test_only_comments(tmp_path: Path) -> None:
    path = write(tmp_path, "# nothing yet\n# still nothing\n")
    issue = one_issue(path)
    assert_at(issue, path, 1, 1, "")
    assert "only comments" in issue.message


def test_yaml_syntax_error_has_its_position(tmp_path: Path) -> None:
    path = write(tmp_path, "project: shop\nodoo:\n  series: [17.0\n  source: x\n")
    issue = one_issue(path)
    assert issue.line == 4 and issue.column == 9
    assert issue.message.startswith("YAML syntax error:")


def test_tab_indentation(tmp_path: Path) -> None:
    path = tmp_path / "odooplane.yaml"
    path.write_text("project: shop\nodoo:\n\tseries: '17.0'\n")
    issue = one_issue(path)
    assert (issue.line, issue.column) == (3, 1)
    assert "tabs" in issue.fix


def test_colon_inside_value(tmp_path: Path) -> None:
    path = write(tmp_path, "project: shop: big\n")
    issue = one_issue(path)
    assert (issue.line, issue.column) == (1, 14)
    assert "Quote" in issue.fix


def test_two_documents(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "---\nproject: other\n")
    issue = one_issue(path)
    assert issue.line == 15
    assert "single YAML document" in issue.fix


def test_undefined_alias(tmp_path: Path) -> None:
    path = write(tmp_path, "project: *name\n")
    issue = one_issue(path)
    assert (issue.line, issue.column) == (1, 10)
    assert "anchor" in issue.fix


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "odooplane.yaml"
    path.write_bytes(b"project: shop\nodoo:\n  series: '\xff'\n")
    issue = one_issue(path)
    assert (issue.line, issue.column) == (3, 12)
    assert "UTF-8" in issue.message


@pytest.mark.parametrize(
    ("text", "kind"),
    [("- project\n- odoo\n", "list"), ("just text\n", "text"), ("42\n", "number")],
)
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    path = write(tmp_path, text)
    issue = one_issue(path)
    assert_at(issue, path, 1, 1, "")
    assert f"not {kind}" in issue.message


def test_duplicate_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "project: again\n")
    issue = one_issue(path)
    assert_at(issue, path, 15, 1, "project")
    assert "given twice (first on line 1)" in issue.message


def test_duplicate_environment_names(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "  staging:\n    kind: staging\n")
    issue = one_issue(path)
    assert_at(issue, path, 15, 3, "environments.staging")
    assert "environment 'staging' is defined twice (first on line 8)" in issue.message


def test_every_duplicate_is_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        project: shop
        odoo: {series: "17.0", source: /opt/odoo, series: "16.0"}
        environments:
          dev: {kind: development}
          dev: {kind: development}
        """,
    )
    issues = issues_of(path)
    assert [(i.line, i.column, i.path) for i in issues] == [
        (2, 43, "odoo.series"),
        (5, 3, "environments.dev"),
    ]


def test_file_too_large(tmp_path: Path) -> None:
    path = tmp_path / "odooplane.yaml"
    path.write_text("# filler\n" * 200_000)
    assert "bytes" in one_issue(path).message


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 7):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    path = write(tmp_path, "\n".join(lines) + "\n")
    assert "expands to more than" in one_issue(path).message


def test_yaml_tags_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("project: shop", "project: !secret shop"))
    issue = one_issue(path)
    assert_at(issue, path, 1, 10, "project")
    assert "'!secret' is not supported" in issue.message


def test_non_text_key(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "  17: {kind: development}\n")
    issue = one_issue(path)
    assert_at(issue, path, 15, 3, "environments.17")
    assert "is a number, not text" in issue.message and "'17':" in issue.fix


def test_the_database_server_is_embedded_a_container_or_a_url(tmp_path: Path) -> None:
    base = "project: shop\nodoo:\n  series: '17.0'\n  source: /opt/odoo\n"
    kinds = {}
    for server in ("embedded", "container", "postgresql://u:p@db.example.com:5432/postgres"):
        path = tmp_path / "odooplane.yaml"
        path.write_text(base + f"database:\n  server: '{server}'\n")
        kinds[server] = load_config(path).database.kind
    assert list(kinds.values()) == ["embedded", "container", "url"]
