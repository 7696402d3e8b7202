"""Property: any document gives a config or a ConfigError, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from odooplane.config import (
    ConfigFileError,
    ProjectConfig,
    load_config,
)
from odooplane.errors import ConfigError

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
