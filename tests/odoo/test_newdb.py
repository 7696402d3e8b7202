"""New databases from template layers: which layers, keyed by what (a fake tree), and
a real Odoo 17 database made by init, then by clone, then rebuilt after an edit."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import write_addon
from fixtures_odoo import minimal_project
from odooplane.config import OdooConfig, ProjectConfig
from odooplane.odoo.newdb import (
    BASE_MODULES,
    NewDatabase,
    new_database,
    plan_layers,
    wanted_modules,
)
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.source import OdooSource, inspect_source
from odooplane.postgres.databases import drop_database
from odooplane.postgres.server import DatabaseServer
from odooplane.postgres.templates import prune_exports, prune_templates
from odooplane.project import Project


@pytest.fixture
def fake_source(make_fake_odoo: Callable[..., Path]) -> OdooSource:
    tree = make_fake_odoo("odoo")
    write_addon(tree / "odoo" / "addons", "base", depends=())
    write_addon(tree / "odoo" / "addons", "web", depends=("base",))
    write_addon(tree / "addons", "mail", depends=("web",))
    write_addon(tree / "addons", "sale", depends=("mail",))
    write_addon(tree / "addons", "crm", depends=("mail",))
    return inspect_source(tree)


def fake_runtime(deps_hash: str = "d" * 16) -> Runtime:
    return Runtime(
        path=Path("/nonexistent"), python=Path("/nonexistent/python"), deps_hash=deps_hash
    )


def project_with(root: Path, addons: dict[str, tuple[str, ...]]) -> Project:
    for name, depends in addons.items():
        write_addon(root / "addons", name, depends=depends)
    config = ProjectConfig(
        project="newdb-test",
        odoo=OdooConfig(series="17.0", source="odoo", addons_paths=["addons"]),
    )
    return Project(root=root, config=config)


def test_wanted_modules_is_the_environment_list_or_every_installable_addon(
    tmp_path: Path,
) -> None:
    project = project_with(tmp_path / "p", {"acme_a": ("web",), "acme_b": ("acme_a",)})
    write_addon(tmp_path / "p" / "addons", "acme_old", extra={})
    manifest = tmp_path / "p" / "addons" / "acme_old" / "__manifest__.py"
    manifest.write_text(manifest.read_text().replace("'installable': True", "'installable': False"))
    assert wanted_modules(project) == [*BASE_MODULES, "acme_a", "acme_b"]
    assert wanted_modules(project, ["acme_b"]) == [*BASE_MODULES, "acme_b"]


def test_layers_split_odoo_modules_from_the_project(
    tmp_path: Path, fake_source: OdooSource
) -> None:
    project = project_with(tmp_path / "p", {"acme_sale": ("sale",), "acme_web": ("web",)})
    layers = plan_layers(project, fake_source, fake_runtime(), ["acme_sale"], demo=True)
    assert [layer.name for layer in layers] == ["odoo", "project"]
    odoo, own = layers
    assert odoo.holds == ("base", "mail", "sale", "web")
    assert own.install == ("acme_sale",) and own.holds == ("acme_sale",)
    assert own.key.parts["parent"] == odoo.key.digest
    assert set(own.key.parts["checksums"]) == {"acme_sale"}


def test_what_changes_which_key(tmp_path: Path, fake_source: OdooSource) -> None:
    project = project_with(tmp_path / "p", {"acme_sale": ("sale",)})

    def keys(**kwargs: object) -> tuple[str, str]:
        options: dict[str, object] = {"demo": True, **kwargs}
        runtime = options.pop("runtime", fake_runtime())
        odoo, own = plan_layers(
            project,
            fake_source,
            runtime,  # type: ignore[arg-type]
            ["acme_sale"],
            **options,  # type: ignore[arg-type]
        )
        return odoo.key.digest, own.key.digest

    first = keys()
    assert keys() == first
    # An edit in a project addon: only the project layer changes.
    (tmp_path / "p" / "addons" / "acme_sale" / "models.py").write_text("x = 1\n")
    edited = keys()
    assert edited[0] == first[0] and edited[1] != first[1]
    # Demo data, Python dependencies, Odoo revision, language: the Odoo layer changes.
    for other in (
        keys(demo=False),
        keys(runtime=fake_runtime("e" * 16)),
        keys(load_language="fr_BE"),
    ):
        assert other[0] != edited[0] and other[1] != edited[1]
    moved = OdooSource(path=fake_source.path, series="17.0", revision="another")
    odoo, _own = plan_layers(project, moved, fake_runtime(), ["acme_sale"], demo=True)
    assert odoo.key.digest != edited[0]


def test_a_project_replacing_an_odoo_dependency_gets_one_layer(
    tmp_path: Path, fake_source: OdooSource
) -> None:
    # The project ships its own `mail`, which Odoo's `sale` depends on.
    project = project_with(tmp_path / "p", {"mail": ("web",), "acme": ("sale",)})
    layers = plan_layers(project, fake_source, fake_runtime(), ["acme"], demo=True)
    assert [layer.name for layer in layers] == ["project"]
    assert layers[0].holds == ("acme", "base", "mail", "sale", "web")
    assert layers[0].key.parts["parent"] is None


# -- real Odoo ---------------------------------------------------------------------------

CONTROLLER = """from odoo import http


class Probe(http.Controller):
    @http.route("/tpl_probe/value", type="http", auth="none")
    def value(self):
        return "{value}"
"""

DATA = """<odoo>
    <record id="param_probe" model="ir.config_parameter">
        <field name="key">tpl_probe.value</field>
        <field name="value">{value}</field>
    </record>
</odoo>
"""


def write_probe(root: Path, value: str) -> None:
    folder = root / "addons" / "tpl_probe"
    write_addon(
        root / "addons",
        "tpl_probe",
        depends=("web",),
        extra={
            "__init__.py": "from . import controllers\n",
            "controllers/__init__.py": "from . import main\n",
            "controllers/main.py": CONTROLLER.replace("{value}", value),
            "data/probe.xml": DATA.replace("{value}", value),
        },
    )
    manifest = folder / "__manifest__.py"
    manifest.write_text(
        manifest.read_text().replace(
            "'installable': True,", "'installable': True,\n    'data': ['data/probe.xml'],"
        )
    )


def param(server: DatabaseServer, database: str, key: str) -> str | None:
    with server.connect(database) as conn:
        row = conn.execute(
            "SELECT value FROM ir_config_parameter WHERE key = %s", (key,)
        ).fetchone()
    return str(row[0]) if row else None


@pytest.fixture
def probe_project(tmp_path: Path, odoo_source: OdooSource) -> Iterator[Project]:
    project = minimal_project(tmp_path / "project", odoo_source, addons_paths=["addons"])
    # Unique content: a project layer exported by an earlier test session never matches.
    write_probe(project.root, f"v1-{uuid.uuid4().hex[:8]}")
    yield project
    prune_exports(lineage=f"project-{project.config.project}-demo", everything=True)


@pytest.mark.odoo
def test_new_databases_are_clones_and_an_edit_rebuilds_its_layer(
    probe_project: Project,
    odoo_source: OdooSource,
    odoo_runtime: Runtime,
    pg_server: DatabaseServer,
    tmp_path: Path,
) -> None:
    names = [f"newdb_{uuid.uuid4().hex[:8]}" for _ in range(3)]
    filestore = tmp_path / "filestore"
    modules = wanted_modules(probe_project)
    assert modules == ["base", "web", "tpl_probe"]

    def make(name: str) -> NewDatabase:
        return new_database(
            probe_project,
            odoo_source,
            odoo_runtime,
            pg_server,
            name,
            modules=modules,
            demo=True,
            filestore_root=filestore,
        )

    try:
        first = make(names[0])
        outcomes = {u.template.layer: u.outcome for u in first.layers}
        # The Odoo layer may come from an earlier session's export; the project layer
        # (unique content) is built.
        assert outcomes["odoo"] in ("built", "restored", "hit", "waited")
        assert outcomes["project"] == "built"
        value = param(pg_server, names[0], "tpl_probe.value")
        assert value is not None and value.startswith("v1-")
        with pg_server.connect(names[0]) as conn:
            states = dict(conn.execute("SELECT name, state FROM ir_module_module").fetchall())
            demo = conn.execute("SELECT demo FROM ir_module_module WHERE name='base'").fetchone()
        assert states["tpl_probe"] == "installed" and demo == (True,)
        assert (filestore / names[0]).is_dir()

        second = make(names[1])
        assert second.hit and second.built == []
        assert [u.outcome for u in second.layers] == ["hit"]
        assert param(pg_server, names[1], "tpl_probe.value") == value
        # Copies of one template share no identity.
        for key in ("database.uuid", "database.secret"):
            assert param(pg_server, names[0], key) != param(pg_server, names[1], key)

        # An edit in the project addon: its layer is rebuilt, Odoo's is reused.
        write_probe(probe_project.root, "v2")
        third = make(names[2])
        assert {u.template.layer: u.outcome for u in third.layers} == {
            "odoo": "hit",
            "project": "built",
        }
        assert param(pg_server, names[2], "tpl_probe.value") == "v2"
        assert first.layers[-1].template.database != third.layers[-1].template.database
    finally:
        for name in names:
            drop_database(pg_server, name, filestore_root=filestore, missing_ok=True, force=True)
        prune_templates(
            pg_server, lineage=f"project-{probe_project.config.project}-demo", everything=True
        )
