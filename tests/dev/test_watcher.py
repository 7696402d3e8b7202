"""Change classification and the real watchfiles watcher, on real addon folders."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path

from conftest import write_addon
from odooplane.dev.watcher import (
    ChangeClassifier,
    ChangeKind,
    field_signature,
    ignored,
    keep_watching,
    watch_changes,
)

MODEL = """from odoo import fields, models


class Thing(models.Model):
    _name = "x.thing"

    name = fields.Char()

    def hello(self):
        return 1
"""

VIEWS = """<odoo>
    <record id="thing_form" model="ir.ui.view">
        <field name="name">thing form</field>
        <field name="model">x.thing</field>
        <field name="arch" type="xml"><form><field name="name"/></form></field>
    </record>
    <template id="page"><div>hello</div></template>
</odoo>
"""

MENUS = """<odoo>
    <menuitem id="menu_thing" name="Things"/>
</odoo>
"""


def make_addons(tmp_path: Path) -> Path:
    addons = tmp_path / "addons"
    write_addon(
        addons,
        "x_app",
        extra={
            "models/thing.py": MODEL,
            "views/views.xml": VIEWS,
            "views/menus.xml": MENUS,
            "security/ir.model.access.csv": "id,name\n",
            "static/src/app.js": "1;\n",
            "static/src/app.scss": "a{}\n",
            "static/src/app.xml": "<templates/>\n",
            "README.md": "doc\n",
        },
    )
    manifest = addons / "x_app" / "__manifest__.py"
    manifest.write_text(
        manifest.read_text().replace(
            "'installable': True,",
            "'installable': True,\n    'data': ['security/ir.model.access.csv', "
            "'views/views.xml', 'views/menus.xml'],",
        )
    )
    return addons


def kind_of(classifier: ChangeClassifier, path: Path) -> ChangeKind | None:
    change = classifier.classify(path)
    return change.kind if change else None


def test_python_method_edit_is_python_and_field_edit_is_schema(tmp_path: Path) -> None:
    addons = make_addons(tmp_path)
    classifier = ChangeClassifier([addons])
    model = addons / "x_app" / "models" / "thing.py"
    model.write_text(MODEL.replace("return 1", "return 2"))
    assert kind_of(classifier, model) is ChangeKind.python
    model.write_text(MODEL.replace("name = fields.Char()", "name = fields.Char(required=True)"))
    change = classifier.classify(model)
    assert change is not None and change.kind is ChangeKind.schema
    assert change.addon == "x_app" and "Thing.name" in change.detail
    # The new definition is now the reference: saving it again is no schema change.
    assert kind_of(classifier, model) is ChangeKind.python


def test_syntax_error_is_python_so_the_server_reports_it(tmp_path: Path) -> None:
    addons = make_addons(tmp_path)
    classifier = ChangeClassifier([addons])
    model = addons / "x_app" / "models" / "thing.py"
    model.write_text("def broken(:\n")
    change = classifier.classify(model)
    assert change is not None and change.kind is ChangeKind.python
    assert change.detail == "does not parse"


def test_view_arch_edit_is_view_but_new_record_is_data(tmp_path: Path) -> None:
    addons = make_addons(tmp_path)
    classifier = ChangeClassifier([addons])
    views = addons / "x_app" / "views" / "views.xml"
    views.write_text(VIEWS.replace("<div>hello</div>", "<div>bye</div>"))
    assert kind_of(classifier, views) is ChangeKind.view
    views.write_text(VIEWS.replace('<template id="page">', '<template id="page2">'))
    assert kind_of(classifier, views) is ChangeKind.data
    menus = addons / "x_app" / "views" / "menus.xml"
    menus.write_text(MENUS.replace("Things", "Stuff"))
    assert kind_of(classifier, menus) is ChangeKind.data
    csv = addons / "x_app" / "security" / "ir.model.access.csv"
    assert kind_of(classifier, csv) is ChangeKind.data


def test_assets_manifest_and_other_files(tmp_path: Path) -> None:
    addons = make_addons(tmp_path)
    classifier = ChangeClassifier([addons])
    static = addons / "x_app" / "static" / "src"
    assert kind_of(classifier, static / "app.scss") is ChangeKind.asset_css
    assert kind_of(classifier, static / "app.js") is ChangeKind.asset_js
    assert kind_of(classifier, static / "app.xml") is ChangeKind.asset_xml
    assert kind_of(classifier, addons / "x_app" / "README.md") is ChangeKind.other
    manifest = addons / "x_app" / "__manifest__.py"
    manifest.write_text(manifest.read_text().replace("'license'", "'summary': 's',\n    'license'"))
    assert kind_of(classifier, manifest) is ChangeKind.manifest
    manifest.write_text(manifest.read_text().replace("1.0.0", "1.0.1"))
    change = classifier.classify(manifest)
    assert change is not None and change.kind is ChangeKind.schema and "version" in change.detail


def test_new_addon_and_config_and_ignored(tmp_path: Path) -> None:
    addons = make_addons(tmp_path)
    config = tmp_path / "odooplane.yaml"
    config.write_text("project: x\n")
    classifier = ChangeClassifier([addons], [config])
    write_addon(addons, "x_new")
    change = classifier.classify(addons / "x_new" / "__manifest__.py")
    assert change is not None and change.kind is ChangeKind.new_addon and change.addon == "x_new"
    assert kind_of(classifier, addons / "x_new" / "__init__.py") is ChangeKind.python
    assert kind_of(classifier, config) is ChangeKind.config
    assert classifier.classify(tmp_path / "elsewhere.py") is None
    assert ignored(addons / "x_app" / "__pycache__" / "a.cpython-311.pyc")
    assert ignored(addons / "x_app" / ".#thing.py")
    assert classifier.classify(addons / "x_app" / "models" / "thing.py~") is None


def test_field_signature_sees_fields_and_model_names() -> None:
    sig = field_signature(MODEL)
    assert sig is not None and set(sig) == {"Thing._name", "Thing.name"}
    assert field_signature("def (") is None


def test_watch_changes_sees_a_saved_file(tmp_path: Path) -> None:
    addons = make_addons(tmp_path)
    stop = threading.Event()
    batches: list[set[Path]] = []

    def run() -> None:
        for batch in watch_changes([addons], stop, debounce_ms=50):
            batches.append(batch)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    time.sleep(0.5)
    target = addons / "x_app" / "models" / "thing.py"
    saved = time.monotonic()
    target.write_text(MODEL + "\n# edited\n")
    (addons / "x_app" / "models" / "__pycache__").mkdir()
    (addons / "x_app" / "models" / "__pycache__" / "thing.cpython-311.pyc").write_bytes(b"x")
    while not batches and time.monotonic() - saved < 10:
        time.sleep(0.01)
    latency = time.monotonic() - saved
    stop.set()
    thread.join(5)
    assert batches, "the watcher never reported the edit"
    seen = set().union(*batches)
    assert target in seen
    assert not any("__pycache__" in str(p) for p in seen)
    assert latency < 2


def test_a_watcher_that_raises_is_reported_and_restarted(tmp_path: Path) -> None:
    """keep_watching survives the watcher raising: each crash is reported, the pause
    grows, and the restarted (real) watcher delivers the next edit."""
    addons = make_addons(tmp_path)
    stop = threading.Event()
    crashes: list[tuple[str, int]] = []
    batches: list[set[Path]] = []
    calls: list[float] = []

    def flaky() -> Iterable[set[Path]]:
        calls.append(time.monotonic())
        if len(calls) <= 2:
            raise OSError(24, "Too many open files")
        return watch_changes([addons], stop, debounce_ms=50)

    def broken_report(exc: Exception, count: int) -> None:
        crashes.append((str(exc), count))
        if count == 2:
            raise RuntimeError("the report itself fails")

    thread = threading.Thread(
        target=keep_watching,
        args=(flaky, batches.append, stop),
        kwargs={"on_crash": broken_report},
        daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + 10
    while len(calls) < 3:
        assert time.monotonic() < deadline, "the watcher was not restarted"
        time.sleep(0.01)
    time.sleep(0.5)
    target = addons / "x_app" / "models" / "thing.py"
    target.write_text(MODEL + "\n# after the crashes\n")
    while not batches and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert crashes == [("[Errno 24] Too many open files", 1), ("[Errno 24] Too many open files", 2)]
    assert calls[2] - calls[1] > calls[1] - calls[0] >= 0.2
    assert batches and target in set().union(*batches)


def test_keep_watching_ends_when_stopped_during_a_pause() -> None:
    stop = threading.Event()
    reported: list[int] = []

    def always_broken() -> Iterable[set[Path]]:
        raise ValueError("broken")

    def report(_exc: Exception, count: int) -> None:
        reported.append(count)
        stop.set()

    keep_watching(always_broken, lambda _b: None, stop, on_crash=report)
    assert reported == [1]


def test_a_new_folder_stands_for_the_files_in_it(tmp_path: Path) -> None:
    """Files written into a new folder before its watch began send no event: the folder's
    event alone must be enough to see a new model (a schema change)."""
    addons = tmp_path / "addons"
    write_addon(addons, "shop")
    classifier = ChangeClassifier([addons])
    models = addons / "shop" / "models"
    models.mkdir()
    (models / "__init__.py").write_text("from . import thing\n")
    (models / "thing.py").write_text(
        "from odoo import fields, models\n\n\nclass Thing(models.Model):\n"
        '    _name = "shop.thing"\n\n    name = fields.Char()\n'
    )
    (models / "__pycache__").mkdir()
    (models / "__pycache__" / "thing.cpython-311.pyc").write_bytes(b"")
    changes = classifier.classify_batch([models])
    kinds = {c.path.name: c.kind for c in changes}
    assert kinds["thing.py"] is ChangeKind.schema
    assert "thing.cpython-311.pyc" not in kinds
