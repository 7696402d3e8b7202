"""The schema's value checks: every bad value is named with its key, position and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures_config import VALID, assert_at, one_issue, write
from odooplane.config import load_config

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


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("vm", "'vm' is not a backend; the available ones are local, docker, kubernetes"),
    ],
)
def test_unavailable_backends_are_refused(tmp_path: Path, value: str, message: str) -> None:
    text = VALID.replace("    kind: production\n", f"    kind: production\n    backend: {value}\n")
    issue = one_issue(write(tmp_path, text))
    assert issue.path == "environments.production.backend"
    assert message in issue.message
    assert "backend: local" in issue.fix
    assert load_config(write(tmp_path, VALID)).environments["production"].backend == "local"
    docker = VALID.replace("    kind: production\n", "    kind: production\n    backend: docker\n")
    assert load_config(write(tmp_path, docker)).environments["production"].backend == "docker"
    k8s = VALID.replace("    kind: production\n", "    kind: production\n    backend: kubernetes\n")
    assert load_config(write(tmp_path, k8s)).environments["production"].backend == "kubernetes"
