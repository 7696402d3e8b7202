"""Addons path assembly, the dependency graph and the addons' Python requirements."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import write_addon
from odooplane.config import OdooConfig, ProjectConfig
from odooplane.errors import ConfigError, NotFoundError
from odooplane.odoo.addons import (
    addons_path,
    all_addons,
    check_installable,
    dependency_closure,
    dependency_order,
    dependents_of,
    discover_addons,
    missing_dependencies,
    project_addons_paths,
    python_requirements,
)
from odooplane.odoo.manifest import Addon
from odooplane.odoo.source import OdooSource, inspect_source
from odooplane.project import Project


def graph(**depends: list[str]) -> dict[str, Addon]:
    return {
        name: Addon(name=name, path=Path("/x") / name, manifest={"depends": deps})
        for name, deps in depends.items()
    }


def project_at(root: Path, **odoo: object) -> Project:
    config = ProjectConfig(
        project="addons-test",
        odoo=OdooConfig(series="17.0", source="odoo", **odoo),  # type: ignore[arg-type]
    )
    return Project(root=root, config=config)


@pytest.fixture
def fake_source(make_fake_odoo: Callable[..., Path], tmp_path: Path) -> OdooSource:
    tree = make_fake_odoo("odoo")
    write_addon(tree / "odoo" / "addons", "base", depends=())
    write_addon(tree / "odoo" / "addons", "web", depends=("base",))
    write_addon(tree / "addons", "sale", depends=("web",))
    return inspect_source(tree)


def test_dependency_order_is_topological_and_stable() -> None:
    addons = graph(
        base=[], web=["base"], mail=["base", "web"], sale=["mail", "web"], zeta=["base"], a=[]
    )
    order = dependency_order(addons)
    assert order == ["a", "base", "web", "mail", "sale", "zeta"]
    for name, addon in addons.items():
        assert all(order.index(dep) < order.index(name) for dep in addon.depends)
    assert dependency_order(addons, ["sale"]) == ["base", "web", "mail", "sale"]
    assert dependency_closure(addons, ["mail"]) == {"base", "web", "mail"}
    assert dependents_of(addons, ["web"]) == {"mail", "sale"}
    assert dependents_of(addons, ["sale"]) == set()


def test_cycles_are_named() -> None:
    addons = graph(base=[], a=["base", "c"], b=["a"], c=["b"], d=["c"])
    with pytest.raises(ConfigError, match=r"in a circle: a -> c -> b -> a\."):
        dependency_order(addons)


def test_missing_dependencies_are_named() -> None:
    addons = graph(base=[], sale=["base", "stock", "mail"], x=["sale"])
    assert missing_dependencies(addons, ["x", "nope"]) == {
        "sale": ["mail", "stock"],
        "": ["nope"],
    }
    with pytest.raises(NotFoundError, match="sale depends on mail, stock"):
        dependency_order(addons)
    with pytest.raises(NotFoundError, match="unknown addons: nope"):
        dependency_order(addons, ["nope"])


def test_addons_path_puts_project_first_then_odoo(tmp_path: Path, fake_source: OdooSource) -> None:
    root = tmp_path / "project"
    write_addon(root / "addons", "my_sale", depends=("sale",))
    write_addon(root / "vendor" / "oca", "oca_tool")
    (root / "empty").mkdir()
    project = project_at(root)
    assert project_addons_paths(project) == [root / "addons", root / "vendor" / "oca"]
    helper = tmp_path / "helper"
    write_addon(helper, "odooplane_live")
    path = addons_path(project, fake_source, extra=[helper, root / "empty"])
    assert path == [
        helper,
        root / "addons",
        root / "vendor" / "oca",
        fake_source.path / "addons",
        fake_source.path / "odoo" / "addons",
    ]
    assert dependency_order(all_addons(project, fake_source), ["my_sale"]) == [
        "base",
        "web",
        "sale",
        "my_sale",
    ]


def test_configured_addons_paths(tmp_path: Path, fake_source: OdooSource) -> None:
    root = tmp_path / "project"
    write_addon(root / "custom", "mine")
    write_addon(root / "ignored", "other")
    project = project_at(root, addons_paths=["custom", "./custom"])
    assert project_addons_paths(project) == [root / "custom"]
    with pytest.raises(ConfigError, match=r"odoo.addons_paths\[1\] 'nope' is not a folder"):
        project_addons_paths(project_at(root, addons_paths=["custom", "nope"]))


def test_first_path_wins_like_odoo(tmp_path: Path) -> None:
    write_addon(tmp_path / "one", "dup", version="17.0.1.0.0")
    write_addon(tmp_path / "two", "dup", version="17.0.2.0.0")
    found = discover_addons([tmp_path / "one", tmp_path / "two", tmp_path / "missing"])
    assert found["dup"].version == "17.0.1.0.0"


def test_python_requirements_from_manifests(tmp_path: Path) -> None:
    def addon(name: str, python: list[str], installable: bool = True) -> Addon:
        manifest = {"external_dependencies": {"python": python}, "installable": installable}
        return Addon(name=name, path=tmp_path / name, manifest=manifest)

    reqs = python_requirements(
        [
            addon("a", ["ldap", "pandas>=1.5", "dateutil"]),
            addon("b", ["pandas>=1.5", "PyYAML"]),
            addon("c", ["never_installed"], installable=False),
        ]
    )
    assert reqs == ["pandas>=1.5", "python-dateutil", "python-ldap", "PyYAML"]
    with pytest.raises(ConfigError, match="'rm -rf /' is not a package name"):
        python_requirements([addon("bad", ["rm -rf /"])])


@pytest.mark.odoo
def test_real_odoo_graph(odoo_source: OdooSource, tmp_path: Path) -> None:
    project = project_at(tmp_path)
    addons = all_addons(project, odoo_source)
    assert len(addons) > 100
    order = dependency_order(addons, ["sale_management"])
    assert order[0] == "base"
    assert order.index("sale") < order.index("sale_management")
    assert addons_path(project, odoo_source)[-1] == odoo_source.path / "odoo" / "addons"


def test_addons_a_series_would_skip_are_named_before_odoo_runs(tmp_path: Path) -> None:
    write_addon(tmp_path, "old_style", version="17.0.1.0.0")
    write_addon(tmp_path, "short", version="1.2", depends=("old_style",))
    write_addon(tmp_path, "off", version="1.0", extra={})
    off = tmp_path / "off" / "__manifest__.py"
    off.write_text(off.read_text().replace("'installable': True", "'installable': False"))
    addons = discover_addons([tmp_path])
    check_installable(addons, ["short"], "17.0")
    # 19.0 skips a 17.0 version: the dependency is named, with its manifest.
    with pytest.raises(ConfigError) as info:
        check_installable(addons, ["short"], "19.0")
    assert f"{tmp_path / 'old_style' / '__manifest__.py'}: version '17.0.1.0.0'" in str(
        info.value.message
    )
    assert "19.0.x.y" in info.value.message
    with pytest.raises(ConfigError, match="'installable' is False"):
        check_installable(addons, ["off"], "18.0")
