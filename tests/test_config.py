"""odooplane.yaml loading: every bad input is a ConfigError naming file:line:column."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from odooplane.config import (
    ConfigFileError,
    ConfigIssue,
    CopyPolicy,
    EnvironmentKind,
    GitSource,
    ProjectConfig,
    branch_patterns,
    environment_summary,
    load_config,
    load_config_details,
    load_config_text,
    mask_url_password,
    redacted_dump,
)
from odooplane.errors import ConfigError, NotFoundError
from odooplane.globs import pattern_matches

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


# -- values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "line", "column", "key", "expected"),
    [
        ("project: shop", "project: 123", 1, 10, "project", "expected text, got the number 123"),
        ("project: shop", "project: My Shop", 1, 10, "project", "not a safe project name"),
        ('series: "17.0"', "series: 17.5", 3, 11, "odoo.series", "'17.5' is not an Odoo series"),
        (
            "source: /opt/odoo",
            "source: https://github.com/odoo/odoo.git",
            4,
            11,
            "odoo.source",
            "is a git URL, which needs a ref",
        ),
        (
            "source: /opt/odoo",
            "source: 5",
            4,
            11,
            "odoo.source",
            "expected a local path or a mapping {git: URL, ref: REF}",
        ),
        (
            "source: /opt/odoo",
            "source: {git: x}",
            4,
            3,
            "odoo.source.ref",
            "the required key 'ref' is missing",
        ),
        ("kind: staging", "kind: stageing", 9, 11, "environments.staging.kind", "'staging'?"),
        ("data: demo", "data: demoo", 14, 11, "environments.dev.data", "did you mean 'demo'?"),
        (
            "data: demo",
            "data: [demo]",
            14,
            11,
            "environments.dev.data",
            "expected fresh, demo or a mapping {copy: ENVIRONMENT}",
        ),
        (
            'branches: ["*"]',
            "branches: main",
            13,
            15,
            "environments.dev.branches",
            "expected a list",
        ),
        (
            'branches: ["*"]',
            'branches: ["*", "my branch"]',
            13,
            21,
            "environments.dev.branches[1]",
            "cannot be part of a git branch name",
        ),
        (
            "data: demo",
            "data: demo\n    workers: true",
            15,
            14,
            "environments.dev.workers",
            "expected a whole number, got true",
        ),
        (
            "data: demo",
            "data: demo\n    workers: 65",
            15,
            14,
            "environments.dev.workers",
            "expected a number at most 64, got the number 65",
        ),
        (
            "data: demo",
            "data: demo\n    neutralize: maybe",
            15,
            17,
            "environments.dev.neutralize",
            "expected true or false",
        ),
        (
            "data: demo",
            "data: demo\n    url: https://bad_host.example.com",
            15,
            10,
            "environments.dev.url",
            "'bad_host.example.com' is not a valid DNS host name",
        ),
        (
            "data: demo",
            "data: demo\n    url: https://-bad.example.com/odoo",
            15,
            10,
            "environments.dev.url",
            "'-bad.example.com' is not a valid DNS host name",
        ),
        (
            "data: demo",
            "data: demo\n    url: ftp://files.example.com",
            15,
            10,
            "environments.dev.url",
            "is not an http(s) URL",
        ),
        (
            "data: demo",
            'data: demo\n    database: "shop; DROP DATABASE x"',
            15,
            15,
            "environments.dev.database",
            "is not a safe database name",
        ),
        (
            "data: demo",
            "data: demo\n    env_file: ../../etc/secrets.env",
            15,
            15,
            "environments.dev.env_file",
            "climbs out of the project folder",
        ),
        (
            "data: demo",
            "data: demo\n    modules: [sale, my-addon]",
            15,
            21,
            "environments.dev.modules[1]",
            "is not an Odoo module name",
        ),
        (
            "data: demo",
            "data: demo\n    odoo_options: {Bad-Option: 1}",
            15,
            20,
            "environments.dev.odoo_options.Bad-Option",
            "'Bad-Option' is not an odoo.conf option name",
        ),
        (
            "data: demo",
            "data: demo\n    odoo_options: {limit_time_cpu: [1]}",
            15,
            36,
            "environments.dev.odoo_options.limit_time_cpu",
            "expected a single value",
        ),
        (
            "dev:\n",
            "Dev:\n",
            11,
            3,
            "environments.Dev",
            "environment name 'Dev' is not a safe identifier",
        ),
    ],
)
def test_bad_values(
    tmp_path: Path, old: str, new: str, line: int, column: int, key: str, expected: str
) -> None:
    assert old in VALID
    path = write(tmp_path, VALID.replace(old, new, 1))
    issue = one_issue(path)
    assert_at(issue, path, line, column, key)
    assert expected in issue.message


@pytest.mark.parametrize(
    ("section", "line", "column", "key", "expected"),
    [
        ("database: {server: mysql://x}", 15, 20, "database.server", "neither 'embedded'"),
        ("evidence: {url: mongodb://x}", 15, 17, "evidence.url", "neither 'sqlite'"),
        ("gates: {timeout_minutes: 0}", 15, 26, "gates.timeout_minutes", "at least 1"),
        ("previews: {domain: not a domain}", 15, 20, "previews.domain", "not a valid DNS"),
        ("previews: {enabled: yes please}", 15, 21, "previews.enabled", "true or false"),
        (
            "neutralization: {rules: [{sql: [x]}]}",
            15,
            26,
            "neutralization.rules[0].name",
            "the required key 'name' is missing",
        ),
        (
            "secrets: {production_only: [stripe-key]}",
            15,
            29,
            "secrets.production_only[0]",
            "not an environment variable name",
        ),
    ],
)
def test_bad_values_in_sections(
    tmp_path: Path, section: str, line: int, column: int, key: str, expected: str
) -> None:
    path = write(tmp_path, VALID + section + "\n")
    issue = one_issue(path)
    assert_at(issue, path, line, column, key)
    assert expected in issue.message


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


# -- interpolation ------------------------------------------------------------------------


def env_config(extra: str) -> str:
    return VALID.replace("    data: demo\n", "    data: demo\n" + textwrap.indent(extra, "    "))


def test_process_environment_is_interpolated(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("source: /opt/odoo", "source: ${ODOO_SRC}/17.0"))
    config = load_config(path, environ={"ODOO_SRC": "/srv/odoo"})
    assert config.odoo.source == "/srv/odoo/17.0"


def test_env_file_comes_before_the_process_environment(tmp_path: Path) -> None:
    (tmp_path / "dev.env").write_text("HOST=from-file.example.com\nWORKERS=3\n")
    path = write(
        tmp_path,
        env_config("env_file: dev.env\nurl: https://${HOST}\nworkers: ${WORKERS}\n"),
    )
    config = load_config(path, environ={"HOST": "from-process.example.com", "WORKERS": "1"})
    assert config.environments["dev"].url == "https://from-file.example.com"
    assert config.environments["dev"].workers == 3


def test_env_file_only_serves_its_own_environment(tmp_path: Path) -> None:
    (tmp_path / "dev.env").write_text("HOST=dev.example.com\n")
    text = env_config("env_file: dev.env\n").replace(
        "kind: production\n", "kind: production\n    url: https://${HOST}\n"
    )
    path = write(tmp_path, text)
    issue = one_issue(path)
    assert_at(issue, path, 8, 10, "environments.production.url")
    assert "${HOST} is not set (looked in the process environment)" in issue.message


def test_escaped_dollar_and_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        env_config("odoo_options: {a: 'x$${LITERAL}y', b: '${UNSET:-fallback}', c: 'cost $5'}\n"),
    )
    options = load_config(path, environ={}).environments["dev"].odoo_options
    assert options == {"a": "x${LITERAL}y", "b": "fallback", "c": "cost $5"}


def test_missing_variable_names_it_and_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, env_config("env_file: dev.env\nurl: https://${DEV_HOST}/odoo\n"))
    issue = one_issue(path)
    assert_at(issue, path, 16, 10, "environments.dev.url")
    assert "${DEV_HOST} is not set" in issue.message
    assert f"env file {tmp_path / 'dev.env'}, which does not exist" in issue.message


def test_malformed_references(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        env_config("odoo_options: {a: '${1X}', b: 'x ${OPEN'}\n"),
    )
    issues = issues_of(path)
    assert [(i.line, i.column, i.path) for i in issues] == [
        (15, 23, "environments.dev.odoo_options.a"),
        (15, 35, "environments.dev.odoo_options.b"),
    ]
    assert "'${1X}' is not a variable reference" in issues[0].message
    assert "never closed" in issues[1].message
    assert "$${" in issues[0].fix


def test_env_file_syntax_error_names_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / "dev.env"
    env_file.write_text("OK=1\nthis line is wrong\n")
    path = write(tmp_path, env_config("env_file: dev.env\n"))
    issue = one_issue(path)
    assert (issue.file, issue.line, issue.path) == (str(env_file), 2, "environments.dev.env_file")
    assert "not a KEY=VALUE line" in issue.message


def test_env_file_path_may_use_process_variables(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "dev.env").write_text("HOST=dev.example.com\n")
    path = write(tmp_path, env_config("env_file: ${SECRETS}/dev.env\nurl: https://${HOST}\n"))
    loaded = load_config_details(path, environ={"SECRETS": "secrets"})
    assert loaded.config.environments["dev"].url == "https://dev.example.com"
    assert loaded.env_files["dev"] == tmp_path / "secrets" / "dev.env"


def test_secrets_from_env_files_are_masked(tmp_path: Path) -> None:
    (tmp_path / "prod.env").write_text("DB_HOST=db.internal\nAPI_KEY=hunter2\n")
    text = (
        VALID.replace(
            "kind: production\n",
            "kind: production\n    env_file: prod.env\n"
            "    odoo_options: {api_key: '${API_KEY}', host: '${DB_HOST}:5432'}\n",
        )
        + "database: {server: 'postgresql://odoo:pw@${PGHOST}/x'}\n"
    )
    loaded = load_config_details(write(tmp_path, text), environ={"PGHOST": "pg.example.com"})
    options = loaded.config.environments["production"].odoo_options
    assert options == {"api_key": "hunter2", "host": "db.internal:5432"}
    shown = redacted_dump(loaded)
    assert shown["environments"]["production"]["odoo_options"] == {
        "api_key": "****",
        "host": "****:5432",
    }
    assert shown["database"]["server"] == "postgresql://odoo:****@pg.example.com/x"
    assert "hunter2" not in repr(shown)
    summary = environment_summary(loaded)
    assert summary["staging"]["branches"] == ["main"]
    assert summary["production"]["env_file"] == str(tmp_path / "prod.env")


def test_errors_never_show_a_secret_value(tmp_path: Path) -> None:
    (tmp_path / "dev.env").write_text("WORKERS=hunter2\n")
    path = write(tmp_path, env_config("env_file: dev.env\nworkers: ${WORKERS}\n"))
    with pytest.raises(ConfigFileError) as info:
        load_config(path, environ={})
    assert "hunter2" not in str(info.value)
    assert "'****' (filled in from an env file)" in str(info.value)


def test_mask_url_password() -> None:
    assert mask_url_password("postgresql://u:p@h:5432/d") == "postgresql://u:****@h:5432/d"
    assert mask_url_password("postgresql://h/d") == "postgresql://h/d"
    assert mask_url_password("sqlite") == "sqlite"


# -- property: any document gives a config or a ConfigError, nothing else ----------------

RICH_VALID: dict[str, object] = {
    "project": "shop",
    "odoo": {
        "series": "17.0",
        "source": {"git": "https://github.com/odoo/odoo.git", "ref": "17.0"},
        "addons_paths": ["addons"],
        "requirements": ["requirements.txt"],
    },
    "database": {"server": "embedded"},
    "environments": {
        "production": {"kind": "production", "url": "https://erp.example.com", "workers": 2},
        "staging": {
            "kind": "staging",
            "data": {"copy": "production"},
            "env_file": "staging.env",
            "url": "https://${STAGING_HOST}",
        },
        "dev": {
            "kind": "development",
            "branches": ["*"],
            "data": "demo",
            "modules": ["sale"],
            "odoo_options": {"limit_time_cpu": 600, "log_level": "info"},
        },
    },
    "evidence": {"url": "sqlite"},
    "gates": {"required": ["tests"], "timeout_minutes": 30},
    "previews": {"enabled": False, "data": "demo", "ttl_hours": 72},
    "neutralization": {"cron_allowlist": ["base.autovacuum_job"], "rules": [{"name": "r"}]},
    "secrets": {"production_only": ["STRIPE_KEY"]},
}
ENVIRON = {"STAGING_HOST": "staging.example.com", "X": "1"}
SCHEMA_WORDS = [
    "project", "odoo", "series", "source", "git", "ref", "addons_paths", "database",
    "server", "environments", "enviroments", "kind", "branches", "url", "env_file", "data",
    "copy", "neutralize", "workers", "modules", "odoo_options", "evidence", "gates",
    "previews", "neutralization", "rules", "name", "sql", "params", "secrets", "production",
    "staging", "dev", "<<",
]  # fmt: skip
SCALAR_WORDS = [
    "17.0", "production", "staging", "development", "preview", "*", "main", "feature/*",
    "${X}", "${MISSING}", "$${X}", "${", "demo", "fresh", "https://a.example.com",
    "https://bad_host", "embedded", "postgresql://u:p@h/d", "../x.env", "staging.env", "",
]  # fmt: skip

safe_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    safe_text,
    st.sampled_from(SCALAR_WORDS),
)
keys = st.one_of(st.sampled_from(SCHEMA_WORDS), safe_text, st.integers(0, 3))
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=30,
)


def dump_yaml(document: object) -> str:
    import io

    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    return buffer.getvalue()


def _slots(node: object) -> list[tuple[object, object]]:
    """Every (container, key-or-index) pair in a document."""
    found: list[tuple[object, object]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((node, key))
            found += _slots(value)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.append((node, index))
            found += _slots(value)
    return found


@st.composite
def mutated_configs(draw: st.DrawFn) -> object:
    import copy

    document = copy.deepcopy(RICH_VALID)
    for _ in range(draw(st.integers(1, 4))):
        slots = _slots(document)
        container, key = draw(st.sampled_from(slots))
        action = draw(st.sampled_from(["delete", "replace", "rename", "insert", "nest"]))
        if isinstance(container, dict):
            if action == "delete":
                del container[key]
            elif action == "rename":
                container[draw(keys)] = container.pop(key)
            elif action == "insert":
                container[draw(keys)] = draw(values)
            elif action == "nest":
                container[key] = {draw(keys): container[key]}
            else:
                container[key] = draw(values)
        elif isinstance(container, list) and isinstance(key, int):
            if action == "delete":
                del container[key]
            elif action == "insert":
                container.insert(key, draw(values))
            else:
                container[key] = draw(values)
    return document


@pytest.fixture(scope="module")
def prop_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("prop")
    (folder / "staging.env").write_text("STAGING_HOST=staging.example.com\n")
    return folder


def assert_config_or_config_error(path: Path) -> None:
    try:
        result = load_config(path, environ=ENVIRON)
    except ConfigFileError as exc:
        event("ConfigFileError")
        assert not exc.internal, str(exc)
        assert exc.issues
        for issue in exc.issues:
            assert issue.line >= 1 and issue.column >= 1 and issue.message
            assert str(issue).startswith(f"{issue.file}:{issue.line}:{issue.column}: ")
    except ConfigError as exc:
        event("ConfigError")
        assert exc.message
    else:
        event("valid")
        assert isinstance(result, ProjectConfig)


PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_rich_valid_config_is_valid(prop_dir: Path) -> None:
    path = prop_dir / "odooplane.yaml"
    path.write_text(dump_yaml(RICH_VALID))
    config = load_config(path, environ=ENVIRON)
    assert config.environments["staging"].url == "https://staging.example.com"


@PROPERTY
@given(document=values)
def test_random_documents(prop_dir: Path, document: object) -> None:
    path = prop_dir / "odooplane.yaml"
    path.write_text(dump_yaml(document))
    assert_config_or_config_error(path)


@PROPERTY
@given(document=mutated_configs())
def test_mutated_valid_configs(prop_dir: Path, document: object) -> None:
    path = prop_dir / "odooplane.yaml"
    path.write_text(dump_yaml(document))
    assert_config_or_config_error(path)


@PROPERTY
@given(
    cut=st.integers(0, 2000),
    length=st.integers(0, 20),
    insert=st.text(alphabet=":-[]{}&*!|>'\"#%@`, \n\t?x0", max_size=8),
)
def test_damaged_text(prop_dir: Path, cut: int, length: int, insert: str) -> None:
    text = dump_yaml(RICH_VALID)
    cut = cut % (len(text) + 1)
    path = prop_dir / "odooplane.yaml"
    path.write_text(text[:cut] + insert + text[cut + length :])
    assert_config_or_config_error(path)


@PROPERTY
@given(raw=st.binary(max_size=200))
def test_random_bytes(prop_dir: Path, raw: bytes) -> None:
    path = prop_dir / "odooplane.yaml"
    path.write_bytes(raw)
    assert_config_or_config_error(path)
