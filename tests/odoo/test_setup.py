"""``odoo info`` and ``odoo addons`` as data: what the project's source and runtime are
now (nothing fetched or built), and its addons in install order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import write_addon
from odooplane.errors import ConfigError
from odooplane.odoo.setup import addons_overview, odoo_info
from odooplane.project import load_project


def _project(root: Path, source: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "odooplane.yaml").write_text(
        f"project: shop\nodoo: {{series: '17.0', source: {source}}}\n"
        "environments:\n  production: {kind: production}\n"
    )
    return root


def test_info_of_a_git_source_not_fetched_yet(tmp_path: Path) -> None:
    url = f"file://{tmp_path}/odoo.git"
    root = _project(tmp_path / "shop", f"{{git: '{url}', ref: '17.0'}}")
    info = odoo_info(load_project(root))
    assert info["runtime"] == {"state": "unknown"}
    source = info["source"]
    assert source["state"] == "not fetched"
    assert source["configured"]["git"] == url and source["configured"]["ref"] == "17.0"
    assert source["series_configured"] == "17.0"
    assert "has not been fetched yet" in source["message"]


def test_info_of_a_local_folder_that_is_not_there(tmp_path: Path) -> None:
    root = _project(tmp_path / "shop", str(tmp_path / "no-odoo"))
    with pytest.raises(ConfigError, match=r"the Odoo source folder .*no-odoo does not exist"):
        odoo_info(load_project(root))


def test_info_of_a_real_source_without_a_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = Path("/opt/odoo-src/17.0")
    if not (tree / "odoo-bin").is_file():
        pytest.skip(f"{tree} is not an Odoo source tree")
    # An empty cache: no runtime is built there, whatever other tests built.
    monkeypatch.setenv("ODOOPLANE_CACHE_DIR", str(tmp_path / "cache"))
    root = _project(tmp_path / "shop", str(tree))
    info = odoo_info(load_project(root))
    assert info["source"]["state"] == "ready"
    assert info["source"]["series"] == "17.0"
    assert info["runtime"]["hint"] == "Run `odooplane odoo setup` to build it."
    assert str(tmp_path / "cache") in json.dumps(info["runtime"])


def test_addons_in_install_order_with_what_they_need(tmp_path: Path) -> None:
    root = _project(tmp_path / "shop", "/opt/odoo")
    addons = root / "addons"
    write_addon(addons, "shop_report", depends=("shop_sale", "account"))
    write_addon(addons, "shop_sale", version="17.0.1.1.0", depends=("sale", "shop_base"))
    write_addon(addons, "shop_base", depends=("base",))
    (addons / "shop_base" / "__manifest__.py").write_text(
        "{'name': 'b', 'version': '17.0.1.0.0', 'depends': ['base'], 'installable': True,"
        " 'external_dependencies': {'python': ['zeep']}}"
    )
    overview = addons_overview(load_project(root))
    assert [a.name for a in overview.addons] == ["shop_base", "shop_sale", "shop_report"]
    assert addons in overview.addons_paths
    base = overview.addons[0]
    assert (base.version, base.python, base.installable) == ("17.0.1.0.0", ["zeep"], True)
    assert overview.addons[1].depends == ["sale", "shop_base"]
    data = overview.to_dict()
    assert data["addons"][2]["name"] == "shop_report"
    assert data["addons"][2]["depends"] == ["shop_sale", "account"]
