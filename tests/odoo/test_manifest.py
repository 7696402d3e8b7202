"""Addon folders and their manifests, read as Python literals without importing
anything: discovery, the fields odooplane reads, and broken manifests as sentences."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write_addon
from odooplane.errors import ConfigError
from odooplane.odoo.manifest import (
    addons_paths_of,
    find_addon_dirs,
    manifest_path,
    read_addon,
    read_manifest,
    series_from_version,
)


def test_read_addon_and_its_fields(tmp_path: Path) -> None:
    folder = write_addon(tmp_path, "sale_x", version="17.0.1.2.0", depends=("sale", "stock"))
    addon = read_addon(folder)
    assert addon is not None
    assert (addon.name, addon.path, addon.version) == ("sale_x", folder, "17.0.1.2.0")
    assert addon.depends == ["sale", "stock"]
    assert addon.installable
    assert addon.python_dependencies == []
    assert read_addon(tmp_path) is None


def test_optional_fields_and_the_old_manifest_name(tmp_path: Path) -> None:
    folder = tmp_path / "legacy"
    folder.mkdir()
    (folder / "__openerp__.py").write_text(
        "# comment\n{'name': 'Legacy', 'installable': False,\n"
        " 'external_dependencies': {'python': ['zeep', 'lxml']}}\n"
    )
    assert manifest_path(folder) == folder / "__openerp__.py"
    addon = read_addon(folder)
    assert addon is not None
    assert not addon.installable
    assert addon.python_dependencies == ["zeep", "lxml"]
    assert addon.version == "" and addon.depends == []
    (folder / "__manifest__.py").write_text("{'name': 'New'}")
    assert manifest_path(folder) == folder / "__manifest__.py"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{'name': x}", "the manifest is not a plain Python dictionary (ValueError)"),
        ("{'name': 'a',\n 'depends': [\n", ":2: the manifest is not a plain Python dictionary"),
        ("['a', 'b']", "the manifest must be a dictionary, not list"),
    ],
)
def test_a_broken_manifest_names_its_file(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "__manifest__.py"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        read_manifest(path)
    assert str(path) in str(info.value) and expected in str(info.value)


def test_find_addon_dirs_skips_tooling_and_does_not_nest(tmp_path: Path) -> None:
    write_addon(tmp_path / "addons", "b_addon")
    write_addon(tmp_path / "addons", "a_addon")
    write_addon(tmp_path / "addons" / "a_addon" / "tests", "inner")  # inside an addon
    write_addon(tmp_path / "third_party" / "oca", "web_x")
    for skipped in ("node_modules", ".venv", ".git", ".hidden", "__pycache__"):
        write_addon(tmp_path / skipped, f"not_{skipped.strip('._')}")
    (tmp_path / "__manifest__.py").write_text("{}")  # the root itself is not an addon
    found = find_addon_dirs(tmp_path)
    assert found == [
        tmp_path / "addons" / "a_addon",
        tmp_path / "addons" / "b_addon",
        tmp_path / "third_party" / "oca" / "web_x",
    ]
    assert addons_paths_of(found) == [tmp_path / "addons", tmp_path / "third_party" / "oca"]
    assert find_addon_dirs(tmp_path / "nowhere") == []


def test_series_from_version() -> None:
    assert series_from_version("17.0.1.0.0") == "17.0"
    assert series_from_version(" 18.0.2.10.3 ") == "18.0"
    assert series_from_version("saas~17.2.1.0.0") is None
    assert series_from_version("1.0") is None
    assert series_from_version("1.0.0") is None
