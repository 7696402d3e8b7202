"""A loaded project: found by walking up from a folder, its state paths, and the
sentences it gives for a missing config or an unknown environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from odooplane.errors import ConfigError, NotFoundError
from odooplane.project import load_project

CONFIG = """\
project: shop
odoo: {series: '17.0', source: /opt/odoo}
environments:
  production: {kind: production}
  staging: {kind: staging, data: {copy: production}}
"""


def test_load_project_from_a_subfolder(tmp_path: Path) -> None:
    (tmp_path / "odooplane.yaml").write_text(CONFIG)
    sub = tmp_path / "addons" / "sale_x"
    sub.mkdir(parents=True)
    project = load_project(sub)
    assert project.root == tmp_path.resolve()
    assert project.config.project == "shop"
    assert project.config_path == tmp_path.resolve() / "odooplane.yaml"
    assert project.state_dir == tmp_path.resolve() / ".odooplane"
    assert project.odoo_data_dir == project.state_dir / "odoo-data"
    assert project.filestore_dir("shop_prod") == (
        project.state_dir / "odoo-data" / "filestore" / "shop_prod"
    )


def test_environment_lookup_and_unknown_names(tmp_path: Path) -> None:
    (tmp_path / "odooplane.yaml").write_text(CONFIG)
    project = load_project(tmp_path)
    assert project.environment("staging").kind.value == "staging"
    with pytest.raises(NotFoundError) as info:
        project.environment("qa")
    assert "No environment named 'qa'" in str(info.value)
    assert str(project.config_path) in str(info.value)
    assert info.value.hint == "Known environments: production, staging."


def test_missing_config_is_a_sentence_saying_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path)
    assert f"No odooplane.yaml in {tmp_path}" in str(info.value)
    assert "odooplane init" in str(info.value)
    assert info.value.exit_code == 2


def test_a_broken_config_is_reported_not_raised_as_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "odooplane.yaml").write_text("project: shop\nodoo: [not, a, mapping]\n")
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path)
    assert "odooplane.yaml:2" in str(info.value)
