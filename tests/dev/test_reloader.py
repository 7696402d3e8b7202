"""The reload plan for each kind of change."""

from __future__ import annotations

from pathlib import Path

from odooplane.dev.reloader import plan_for
from odooplane.dev.watcher import Change, ChangeKind

P = Path("/p/addons/x_app/file")


def change(kind: ChangeKind, addon: str | None = "x_app", suffix: str = ".py") -> Change:
    return Change(P.with_suffix(suffix), kind, addon)


def test_python_restarts_and_checks_the_file() -> None:
    plan = plan_for([change(ChangeKind.python)], installed={"x_app"})
    assert plan.restart_python and plan.check_files == [P.with_suffix(".py")]
    assert not plan.needs_migration and plan.browser is None and not plan.restart_all


def test_schema_and_data_need_an_upgrade_only_when_installed() -> None:
    plan = plan_for([change(ChangeKind.schema)], installed={"x_app"})
    assert plan.update == {"x_app"} and plan.restart_python and plan.browser == "reload"
    assert plan_for([change(ChangeKind.schema)], installed=set()).update == set()
    data = plan_for([change(ChangeKind.data, suffix=".xml")], installed={"x_app"})
    assert data.update == {"x_app"} and not data.restart_python


def test_new_addon_is_installed() -> None:
    plan = plan_for([change(ChangeKind.new_addon, "x_new")], installed={"x_app"})
    assert plan.install == {"x_new"} and plan.reasons == ["new addon x_new"]


def test_views_need_only_the_browser() -> None:
    plan = plan_for([change(ChangeKind.view, suffix=".xml")], installed={"x_app"})
    assert not plan.restart_python and not plan.needs_migration and plan.browser == "reload"


def test_stylesheets_alone_are_css_but_mixed_assets_reload() -> None:
    css = plan_for([change(ChangeKind.asset_css, suffix=".scss")], installed=set())
    assert css.browser == "css" and not css.restart_python
    mixed = plan_for(
        [change(ChangeKind.asset_css, suffix=".scss"), change(ChangeKind.asset_js, suffix=".js")],
        installed=set(),
    )
    assert mixed.browser == "reload"


def test_config_restarts_everything_and_other_is_empty() -> None:
    plan = plan_for([Change(Path("/p/odooplane.yaml"), ChangeKind.config)], installed=set())
    assert plan.restart_all and plan.reasons == ["odooplane.yaml changed"]
    assert plan_for([change(ChangeKind.other, suffix=".md")], installed=set()).empty


def test_a_save_in_an_addon_still_to_install_asks_for_the_install_again() -> None:
    data = change(ChangeKind.data, "x_new", suffix=".xml")
    assert plan_for([data], installed={"x_app"}).empty  # not installed: nothing to upgrade
    plan = plan_for([data], installed={"x_app"}, to_install={"x_new"})
    assert plan.install == {"x_new"} and plan.reasons == ["new addon x_new: file.xml changed"]
    # Installed meanwhile (by hand): nothing left to do for it.
    assert plan_for([data], installed={"x_new"}, to_install={"x_new"}).install == set()
