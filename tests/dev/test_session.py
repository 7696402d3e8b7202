"""``odooplane dev`` against a real Odoo: one session shared by the module (Odoo starts
are slow on a shared machine), edits applied in an order that keeps each test independent
of the others' outcome."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from conftest import write_addon
from fixtures_browser import Browser
from fixtures_odoo import minimal_project
from odooplane.dev.livereload import EventStreamClient
from odooplane.dev.session import DevSession, dev_session, prepare_dev
from odooplane.dev.watcher import watch_changes
from odooplane.odoo.process import http_get
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.series import for_series
from odooplane.odoo.source import OdooSource
from odooplane.postgres import roles
from odooplane.postgres.databases import drop_database
from odooplane.postgres.server import DatabaseServer
from odooplane.project import load_project

pytestmark = pytest.mark.odoo

CONTROLLER = """from odoo import http


class Probe(http.Controller):
    @http.route("/dev_probe/value", type="http", auth="none")
    def value(self):
        return "{value}"
"""

VIEW = """<odoo>
    <template id="probe_page" name="Probe page">
        <div class="probe">{text}</div>
    </template>
</odoo>
"""

PAGE_CONTROLLER = """
    @http.route("/dev_probe/page", type="http", auth="none")
    def page(self):
        return http.request.env["ir.ui.view"].sudo()._render_template("dev_probe.probe_page")
"""

DATA = """<odoo>
    <record id="param_probe" model="ir.config_parameter">
        <field name="key">dev_probe.param</field>
        <field name="value">one</field>
    </record>{more}
</odoo>
"""

ACCESS = (
    "id,name,model_id:id,group_id:id,perm_read,perm_write,perm_create,perm_unlink\n"
    "access_probe_partner,probe partner,base.model_res_partner,base.group_user,1,0,0,0\n"
)


def controller(value: str) -> str:
    return CONTROLLER.replace("{value}", value) + PAGE_CONTROLLER


def write_project(root: Path, source: OdooSource, server: DatabaseServer, database: str) -> Path:
    minimal_project(root, source)
    text = (root / "odooplane.yaml").read_text()
    text += (
        "  addons_paths: ['addons']\n"
        "database:\n"
        f"  server: '{server.url(redact=False)}'\n"
        "environments:\n"
        # No `modules`: a new database gets every installable addon of the project.
        "  dev2:\n"
        "    kind: development\n"
        f"    database: {database}_2\n"
        # Last in the file: a test appends odoo_options to it.
        "  dev:\n"
        "    kind: development\n"
        f"    database: {database}\n"
        "    modules: [dev_probe]\n"
    )
    (root / "odooplane.yaml").write_text(text)
    write_addon(
        root / "addons",
        "dev_probe",
        depends=("web",),
        extra={
            "__init__.py": "from . import controllers\n",
            "controllers/__init__.py": "from . import main\n",
            "controllers/main.py": controller("v0"),
            "views/probe.xml": VIEW.replace("{text}", "first text"),
            "static/src/probe.scss": ".probe { color: red; }\n",
            "static/src/probe.js": "console.log('probe');\n",
            "data/probe_data.xml": DATA.replace("{more}", ""),
            "security/ir.model.access.csv": ACCESS,
        },
    )
    manifest = root / "addons" / "dev_probe" / "__manifest__.py"
    manifest.write_text(
        manifest.read_text().replace(
            "'installable': True,",
            "'installable': True,\n"
            "    'data': ['security/ir.model.access.csv', 'views/probe.xml',"
            " 'data/probe_data.xml'],\n"
            "    'assets': {'web.assets_backend': ['dev_probe/static/src/*']},",
        )
    )
    return root


class Poller:
    """Polls a URL every 50 ms, counting failures and remembering each answer's time."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.failures: list[str] = []
        self.answers: list[tuple[float, bytes]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status, body = http_get(self.url, timeout=10)
                if status != 200:
                    self.failures.append(f"HTTP {status}")
                else:
                    self.answers.append((time.monotonic(), body))
            except (urllib.error.URLError, OSError) as exc:
                self.failures.append(repr(exc))
            time.sleep(0.05)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(15)

    def wait_for(self, body: bytes, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.answers and self.answers[-1][1] == body:
                return self.answers[-1][0]
            time.sleep(0.02)
        last = self.answers[-1][1] if self.answers else None
        raise AssertionError(f"{self.url} never answered {body!r} (last {last!r})")


@pytest.fixture(scope="module")
def session(
    series_source: OdooSource,
    series_runtime: Runtime,
    pg_server: DatabaseServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[DevSession, list[tuple[str, str]]]]:
    database = f"dev_{uuid.uuid4().hex[:8]}"
    root = write_project(
        tmp_path_factory.mktemp("dev") / "project", series_source, pg_server, database
    )
    events: list[tuple[str, str]] = []

    def on_event(kind: str, message: str, _data: dict[str, Any]) -> None:
        events.append((kind, message))

    context = prepare_dev(load_project(root), "dev", mail=False)
    try:
        with dev_session(context, port=None, on_event=on_event) as running:
            yield running, events
    finally:
        for name in (database, f"{database}_2"):
            drop_database(pg_server, name, force=True, missing_ok=True)
            roles.retire_role(pg_server, roles.role_for(name))


def addon(session: DevSession) -> Path:
    return session.context.project.root / "addons" / "dev_probe"


def test_the_warm_odoo_connects_with_the_environments_own_role(
    session: tuple[DevSession, list[tuple[str, str]]],
) -> None:
    """Least privilege in development too: the warm Odoo (and the upgrades it runs)
    logs in as the environment's role, which owns the database's objects."""
    dev, _events = session
    role = roles.role_for(dev.context.database)
    assert dev.context.odoo_login is not None and dev.context.odoo_login.user == role
    assert http_get(dev.url + "/web/login")[0] == 200
    with dev.context.server.connect(dev.context.database) as conn:
        users = {
            r[0]
            for r in conn.execute(
                "SELECT usename FROM pg_stat_activity WHERE datname = %s AND pid <> "
                "pg_backend_pid()",
                (dev.context.database,),
            )
        }
        owners = {
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
            )
        }
    assert users == {role}
    assert owners == {role}


def test_python_edit_is_served_with_no_failed_request(
    session: tuple[DevSession, list[tuple[str, str]]],
) -> None:
    dev, _events = session
    with Poller(dev.url + "/dev_probe/value") as poller:
        poller.wait_for(b"v0")
        for value in ("v1", "v2"):
            saved = time.monotonic()
            (addon(dev) / "controllers" / "main.py").write_text(controller(value))
            served = poller.wait_for(value.encode())
            assert served - saved < 10
        time.sleep(0.3)
    assert poller.failures == []


def test_syntax_error_keeps_old_code_then_fix_is_picked_up(
    session: tuple[DevSession, list[tuple[str, str]]],
) -> None:
    dev, events = session
    main = addon(dev) / "controllers" / "main.py"
    good = main.read_text()
    before = http_get(dev.url + "/dev_probe/value")[1]
    count = len(events)
    with Poller(dev.url + "/dev_probe/value") as poller:
        main.write_text(good.replace("def value(self):", "def value(self)"))
        deadline = time.monotonic() + 30
        while not any(k == "error" for k, _ in events[count:]) and time.monotonic() < deadline:
            time.sleep(0.05)
        errors = [m for k, m in events[count:] if k == "error"]
        assert errors and f"{main}:" in errors[0] and "SyntaxError" in errors[0]
        assert http_get(dev.url + "/dev_probe/value")[1] == before
        main.write_text(controller("fixed"))
        poller.wait_for(b"fixed")
    assert poller.failures == []


def test_xml_view_change_is_visible_without_restart(
    session: tuple[DevSession, list[tuple[str, str]]],
) -> None:
    dev, _events = session
    assert b"first text" in http_get(dev.url + "/dev_probe/page")[1]
    gen = dev.odoo.gen if dev.odoo else 0
    (addon(dev) / "views" / "probe.xml").write_text(VIEW.replace("{text}", "second text"))
    deadline = time.monotonic() + 20
    while b"second text" not in http_get(dev.url + "/dev_probe/page")[1]:
        assert time.monotonic() < deadline, "the edited template was never served"
        time.sleep(0.1)
    assert dev.odoo is not None and dev.odoo.gen == gen  # no restart needed


def test_the_series_dev_options_are_on(
    session: tuple[DevSession, list[tuple[str, str]]],
) -> None:
    """The warm Odoo runs with every --dev option of its series that restarts nothing
    (19.0's access among them), and never with Odoo's own reloader."""
    dev, _events = session
    assert dev.odoo is not None and dev.odoo.pid is not None
    profile = for_series(dev.context.source.series)
    args = psutil.Process(dev.odoo.pid).cmdline()
    wanted = profile.dev_value(profile.dev_for_watcher)
    assert f"--dev={wanted}" in args
    assert "reload" not in wanted.split(",")
    if "access" in profile.dev_options:
        assert "access" in wanted.split(",")


def test_live_reload_script_is_in_the_web_clients_bundles(
    session: tuple[DevSession, list[tuple[str, str]]],
) -> None:
    """The backend web client (web.assets_web, which includes web.assets_backend) and
    the website/portal pages (web.assets_frontend) of this series ship the script."""
    dev, _events = session
    for bundle in ("web.assets_web", "web.assets_frontend"):
        status, body = http_get(f"{dev.url}/web/assets/debug/{bundle}.js", timeout=120)
        assert status == 200, bundle
        assert b"__odooplaneLiveReload" in body, f"{bundle} lacks the live-reload script"
        assert b"/odooplane_livereload/config" in body


def test_asset_changes_send_reload_and_css_events(
    session: tuple[DevSession, list[tuple[str, str]]],
) -> None:
    dev, _events = session
    assert dev.livereload_url
    status, body = http_get(dev.url + "/odooplane_livereload/config")
    assert status == 200 and dev.livereload_url.encode() in body
    client = EventStreamClient(dev.livereload_url)
    try:
        (addon(dev) / "static" / "src" / "probe.js").write_text("console.log('probe 2');\n")
        assert client.wait_for(lambda name, _data: name == "reload", 20)
        seen = len(client.events)
        (addon(dev) / "static" / "src" / "probe.scss").write_text(".probe { color: blue; }\n")
        event = client.wait_for(lambda name, data: name == "css", 20)
        assert event is not None
        assert all(name == "css" for name, _ in client.events[seen:])
    finally:
        client.close()


def test_live_reload_in_a_real_browser(
    session: tuple[DevSession, list[tuple[str, str]]], browser: Browser
) -> None:
    """Headless Chromium on the backend: a stylesheet edit restyles the open page without
    reloading it (a window variable survives), a JS edit reloads the tab."""
    dev, _events = session
    browser.goto(dev.url + "/web/login")
    browser.evaluate(
        "document.querySelector('input[name=login]').value = 'admin';"
        "document.querySelector('input[name=password]').value = 'admin';"
        "document.querySelector('form.oe_login_form').submit(); true"
    )
    browser.wait_for("!!document.querySelector('.o_web_client .o_main_navbar')", 120)
    # The backend's live-reload script is connected: the dev session greeted its event
    # stream. An edit saved before that would not reach this tab.
    browser.wait_for("window.__odooplaneLiveReload === 'connected'", 60)
    probe = (
        "(() => { let el = document.querySelector('.probe');"
        " if (!el) { el = document.createElement('div'); el.className = 'probe';"
        " el.textContent = 'probe'; document.body.appendChild(el); }"
        " return getComputedStyle(el).color; })()"
    )
    browser.evaluate("window.__probeMarker = 'still here'; true")
    before = browser.evaluate(probe)
    scss = addon(dev) / "static" / "src" / "probe.scss"
    for color in ("rgb(0, 128, 0)", "rgb(0, 0, 255)"):
        assert before != color
        scss.write_text(f".probe {{ color: {color}; }}\n")
        browser.wait_for(f"{probe} === '{color}'", 60)
        before = color
    assert browser.evaluate("window.__probeMarker") == "still here"  # never reloaded

    (addon(dev) / "static" / "src" / "probe.js").write_text("window.__probeJs = 3;\n")
    browser.wait_for("window.__probeJs === 3 && !window.__probeMarker", 120)
    browser.wait_for("!!document.querySelector('.o_web_client .o_main_navbar')", 120)


def test_schema_change_is_proposed_then_upgraded(
    session: tuple[DevSession, list[tuple[str, str]]],
) -> None:
    dev, events = session
    root = addon(dev)
    count = len(events)
    (root / "models").mkdir(exist_ok=True)
    (root / "models" / "__init__.py").write_text("from . import thing\n")
    (root / "models" / "thing.py").write_text(
        "from odoo import fields, models\n\n\n"
        "class Thing(models.Model):\n"
        '    _name = "dev_probe.thing"\n'
        '    _description = "thing"\n\n'
        "    name = fields.Char()\n"
    )
    (root / "__init__.py").write_text("from . import controllers, models\n")
    deadline = time.monotonic() + 30
    while not any(k == "migrate" for k, _ in events[count:]):
        assert time.monotonic() < deadline, events[count:]
        time.sleep(0.05)
    hint = next(m for k, m in events[count:] if k == "migrate")
    assert "upgrade dev_probe" in hint and "-u dev_probe" in hint
    assert dev.pending_update == {"dev_probe"}
    dev.request_upgrade()  # what pressing u + Enter does
    # The three files may reach the watcher in more than one batch: a batch after the
    # upgrade proposes it again, and pressing u again upgrades it.
    deadline = time.monotonic() + 180
    while True:
        assert time.monotonic() < deadline, events[count:]
        upgraded = any(k == "reload" and "upgraded dev_probe" in m for k, m in events[count:])
        if upgraded and not dev.pending_update:
            break
        if upgraded and events[-1][0] == "migrate":
            count = len(events)
            dev.request_upgrade()
        time.sleep(0.1)
    with dev.context.server.connect(dev.context.database) as conn:
        row = conn.execute("SELECT to_regclass('dev_probe_thing')").fetchone()
    assert row is not None and row[0] == "dev_probe_thing"


def wait_event(
    events: list[tuple[str, str]],
    since: int,
    accept: Callable[[str, str], bool],
    timeout: float,
) -> str:
    """The message of the first event after ``since`` that ``accept`` takes."""
    deadline = time.monotonic() + timeout
    while True:
        for kind, message in events[since:]:
            if accept(kind, message):
                return message
        assert time.monotonic() < deadline, events[since:]
        time.sleep(0.05)


def wait_upgraded(
    events: list[tuple[str, str]], since: int, module: str, done: Callable[[], bool]
) -> None:
    """Until ``done()`` holds in the database and the session is idle after upgrading
    ``module``: files written one by one may arrive in more than one batch (each its own
    upgrade, the first of them possibly failing on a file not written yet)."""
    deadline = time.monotonic() + 180
    while True:
        acts = [(k, m) for k, m in events[since:] if k not in ("browser", "odoo")]
        if acts and acts[-1][0] == "reload" and f"upgraded {module}" in acts[-1][1] and done():
            return
        assert time.monotonic() < deadline, events[since:]
        time.sleep(0.1)


def xml_id_model(dev: DevSession, module: str, name: str) -> str | None:
    """The model of the record ``module.name`` in the database, None when absent."""
    with dev.context.server.connect(dev.context.database) as conn:
        row = conn.execute(
            "SELECT model FROM ir_model_data WHERE module = %s AND name = %s", (module, name)
        ).fetchone()
    return str(row[0]) if row else None


def module_state(dev: DevSession, name: str) -> str | None:
    with dev.context.server.connect(dev.context.database) as conn:
        row = conn.execute("SELECT state FROM ir_module_module WHERE name = %s", (name,)).fetchone()
    return str(row[0]) if row else None


@contextlib.contextmanager
def auto_upgrade(dev: DevSession) -> Iterator[None]:
    """The module's session as `odooplane dev --auto-upgrade` runs it: the flag is only
    read when a batch of changes is handled, so one Odoo start serves both modes."""
    dev.auto_upgrade = True
    try:
        yield
    finally:
        dev.auto_upgrade = False


def new_addon_files(name: str) -> dict[str, str]:
    """A new addon: a route answering its name, and a data record."""
    return {
        "__init__.py": "from . import controllers\n",
        "controllers/__init__.py": "from . import main\n",
        "controllers/main.py": CONTROLLER.replace("dev_probe/", f"{name}/").replace(
            "{value}", name
        ),
        "__manifest__.py": (
            "{\n"
            f"    'name': '{name}',\n"
            "    'version': '1.0.0',\n"
            "    'depends': ['web'],\n"
            "    'license': 'LGPL-3',\n"
            "    'data': ['data/data.xml'],\n"
            "}\n"
        ),
        "data/data.xml": DATA.replace("param_probe", f"param_{name}")
        .replace("dev_probe.param", f"{name}.param")
        .replace("{more}", ""),
    }


def new_addon(dev: DevSession, name: str, override: dict[str, str] | None = None) -> Path:
    """Writes a new addon folder into the project's addons path, file by file."""
    files = {**new_addon_files(name), **(override or {})}
    return write_addon(addon(dev).parent, name, depends=("web",), extra=files)


def test_data_change_without_auto_upgrade_names_the_command(
    session: tuple[DevSession, list[tuple[str, str]]],
) -> None:
    dev, events = session
    assert dev.odoo is not None
    gen = dev.odoo.gen
    count = len(events)
    menu = '\n    <menuitem id="menu_probe" name="Probe"/>'
    (addon(dev) / "data" / "probe_data.xml").write_text(DATA.replace("{more}", menu))
    hint = wait_event(events, count, lambda k, _m: k == "migrate", 30)
    assert "upgrade dev_probe" in hint and "--auto-upgrade" in hint
    assert dev.pending_update >= {"dev_probe"}
    # Nothing was loaded by itself: no new generation, no menu in the database.
    assert xml_id_model(dev, "dev_probe", "menu_probe") is None
    assert dev.odoo.gen == gen
    # The command the terminal names is exact: run as printed, it upgrades the module.
    command = shlex.split(hint.split(" or run ", 1)[1])
    assert command[command.index("-u") + 1] == "dev_probe"
    assert command[command.index("-d") + 1] == dev.context.database
    ran = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=600,
        env=dev.context.runtime.env(),
        cwd=dev.context.project.root,
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert xml_id_model(dev, "dev_probe", "menu_probe") == "ir.ui.menu"
    # The serving generation notices the upgraded registry and keeps answering.
    assert http_get(dev.url + "/dev_probe/value")[0] == 200


def test_data_change_with_auto_upgrade_upgrades_with_no_failed_request(
    session: tuple[DevSession, list[tuple[str, str]]],
) -> None:
    dev, events = session
    count = len(events)
    menu = '\n    <menuitem id="menu_probe_auto" name="Probe auto"/>'
    line = "access_probe_partner_auto,probe partner auto,base.model_res_partner,,1,0,0,0\n"
    with auto_upgrade(dev), Poller(dev.url + "/dev_probe/value") as poller:
        (addon(dev) / "security" / "ir.model.access.csv").write_text(ACCESS + line)
        (addon(dev) / "data" / "probe_data.xml").write_text(DATA.replace("{more}", menu))
        wait_upgraded(
            events,
            count,
            "dev_probe",
            lambda: (
                xml_id_model(dev, "dev_probe", "menu_probe_auto") is not None
                and xml_id_model(dev, "dev_probe", "access_probe_partner_auto") is not None
            ),
        )
        time.sleep(0.5)
    assert not any(k in ("migrate", "error") for k, _ in events[count:]), events[count:]
    assert xml_id_model(dev, "dev_probe", "menu_probe_auto") == "ir.ui.menu"
    assert xml_id_model(dev, "dev_probe", "access_probe_partner_auto") == "ir.model.access"
    assert dev.pending_update == set()  # an upgrade also satisfies what was proposed before
    assert poller.answers and poller.failures == []


def test_new_addon_without_auto_upgrade_is_proposed_then_installed(
    session: tuple[DevSession, list[tuple[str, str]]],
) -> None:
    dev, events = session
    count = len(events)
    new_addon(dev, "dev_probe_extra")
    hint = wait_event(events, count, lambda k, _m: k == "migrate", 30)
    assert "install dev_probe_extra" in hint
    command = shlex.split(hint.split(" or run ", 1)[1])
    assert command[command.index("-i") + 1] == "dev_probe_extra"
    assert "--stop-after-init" in command
    assert dev.pending_install == {"dev_probe_extra"}
    assert module_state(dev, "dev_probe_extra") in (None, "uninstalled")
    assert http_get(dev.url + "/dev_probe_extra/value")[0] == 404
    with Poller(dev.url + "/dev_probe/value") as poller:
        dev.request_upgrade()  # what pressing u + Enter does
        message = wait_event(
            events,
            count,
            lambda k, m: (k == "reload" and "upgraded dev_probe_extra" in m) or k == "error",
            180,
        )
        assert "upgraded dev_probe_extra" in message, events[count:]
        time.sleep(0.5)
    assert module_state(dev, "dev_probe_extra") == "installed"
    assert xml_id_model(dev, "dev_probe_extra", "param_dev_probe_extra") == "ir.config_parameter"
    assert http_get(dev.url + "/dev_probe_extra/value") == (200, b"dev_probe_extra")
    assert dev.pending_install == set()
    assert poller.answers and poller.failures == []


def test_new_addon_with_auto_upgrade_is_installed_with_no_failed_request(
    session: tuple[DevSession, list[tuple[str, str]]],
) -> None:
    dev, events = session
    count = len(events)
    with auto_upgrade(dev), Poller(dev.url + "/dev_probe/value") as poller:
        new_addon(dev, "dev_probe_auto")
        wait_upgraded(
            events,
            count,
            "dev_probe_auto",
            lambda: module_state(dev, "dev_probe_auto") == "installed",
        )
        time.sleep(0.5)
    assert not any(k == "migrate" for k, _ in events[count:])
    assert module_state(dev, "dev_probe_auto") == "installed"
    assert xml_id_model(dev, "dev_probe_auto", "param_dev_probe_auto") == "ir.config_parameter"
    assert http_get(dev.url + "/dev_probe_auto/value") == (200, b"dev_probe_auto")
    assert poller.answers and poller.failures == []


def test_new_addon_failing_to_install_is_retried_when_fixed(
    session: tuple[DevSession, list[tuple[str, str]]],
) -> None:
    """With --auto-upgrade, a new addon whose data file is broken (or not written yet when
    its manifest appears) is installed by the save that fixes it."""
    dev, events = session
    count = len(events)
    name = "dev_probe_broken"
    data = new_addon_files(name)["data/data.xml"]
    broken = data.replace('model="ir.config_parameter"', 'model="dev_probe.no_such_model"')
    with auto_upgrade(dev), Poller(dev.url + "/dev_probe/value") as poller:
        folder = new_addon(dev, name, {"data/data.xml": broken})
        error = wait_event(events, count, lambda k, m: k == "error" and "ParseError" in m, 180)
        # The terminal names the data file and line, and Odoo's exception, not its XML.
        assert f"{name}/data/data.xml:2: " in error and "ParseError" in error, error
        assert "still serving" in error
        assert module_state(dev, name) != "installed"
        count = len(events)
        (folder / "data" / "data.xml").write_text(data)
        wait_upgraded(events, count, name, lambda: module_state(dev, name) == "installed")
        time.sleep(0.5)
    assert module_state(dev, name) == "installed"
    assert xml_id_model(dev, name, f"param_{name}") == "ir.config_parameter"
    assert poller.answers and poller.failures == []


def test_config_change_restarts(session: tuple[DevSession, list[tuple[str, str]]]) -> None:
    dev, events = session
    old_parent = dev.odoo.pid if dev.odoo else None
    config = dev.context.project.config_path
    count = len(events)
    with Poller(dev.url + "/dev_probe/value") as poller:
        config.write_text(config.read_text() + "    odoo_options:\n      limit_time_real: 999\n")
        deadline = time.monotonic() + 120
        while not any(k == "reload" and "restarted" in m for k, m in events[count:]):
            assert time.monotonic() < deadline, events[count:]
            time.sleep(0.1)
    assert any(k == "restart" and "odooplane.yaml" in m for k, m in events[count:])
    assert dev.odoo is not None and dev.odoo.pid != old_parent
    assert (
        "limit_time_real = 999"
        in (dev.context.project.state_dir / "environments" / "dev" / "odoo.conf").read_text()
    )
    assert poller.failures == []


def test_a_crashing_watcher_is_reported_and_restarted(
    session: tuple[DevSession, list[tuple[str, str]]],
) -> None:
    """The watcher raising (an inotify limit, a vanished folder) is said through the
    session's events and the watcher starts again: the next edit is still served."""
    dev, events = session
    crashed: list[str] = []

    def crash_once(paths: list[Path], stop: threading.Event) -> Iterable[set[Path]]:
        if not crashed:
            crashed.append("once")
            raise OSError(28, "inotify watch limit reached")
        return watch_changes(paths, stop)

    count = len(events)
    dev.watch = crash_once
    try:
        dev._restart_watching(force=True)
        deadline = time.monotonic() + 10
        while not any(k == "error" for k, _ in events[count:]):
            assert time.monotonic() < deadline, events[count:]
            time.sleep(0.05)
        errors = [m for k, m in events[count:] if k == "error"]
        assert "The file watcher failed (OSError" in errors[0] and "restarting it" in errors[0]
        time.sleep(1.0)  # the restart pause, then watchfiles registering its watches
        with Poller(dev.url + "/dev_probe/value") as poller:
            (addon(dev) / "controllers" / "main.py").write_text(controller("after-crash"))
            poller.wait_for(b"after-crash")
        assert poller.failures == []
    finally:
        dev.watch = watch_changes


def test_cli_ctrl_c_leaves_no_process_behind(
    session: tuple[DevSession, list[tuple[str, str]]],
) -> None:
    """`odooplane dev` itself, on the project's second development environment (no
    `modules`: its new database holds every installable addon of the project), with the
    mail catcher: SIGINT stops Odoo's parent, its children and the catcher it started."""
    dev, _events = session
    root = dev.context.project.root
    proc = subprocess.Popen(
        [sys.executable, "-m", "odooplane", "-C", str(root), "dev", "dev2", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        serving: dict[str, Any] = {}
        assert proc.stdout is not None
        for line in proc.stdout:
            event = json.loads(line)
            if event["event"] == "serving":
                serving = event
                break
        assert serving, proc.stderr.read() if proc.stderr else ""
        # The project's addons are installed and serve their routes on first run.
        assert http_get(serving["url"] + "/dev_probe/value")[0] == 200
        assert http_get(serving["url"] + "/dev_probe_extra/value") == (200, b"dev_probe_extra")
        family = psutil.Process(proc.pid).children(recursive=True)
        assert len(family) >= 2  # the warm parent and its serving child at least
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    time.sleep(0.5)
    left = [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert left == []
    # Processes of the module's own session are descendants of this test process; a
    # process of the stopped command would have been orphaned to init.
    own = {c.pid for c in psutil.Process().children(recursive=True)}
    strays = [
        " ".join(p.info["cmdline"] or [])
        for p in psutil.process_iter(["pid", "cmdline"])
        if p.pid not in own and str(root) in " ".join(p.info["cmdline"] or [])
    ]
    assert strays == []


def test_environment_commands_know_the_dev_sessions(
    session: tuple[DevSession, list[tuple[str, str]]], pg_server: DatabaseServer
) -> None:
    """`env list/status` show the module's session serving `dev` (URL, pid, generation)
    and `dev2` (served by the CLI test, then stopped) as stopped; `env diff`, `env psql`
    work on both; `env destroy` ends the session serving `dev`. Last: it stops the
    module's session."""
    from odooplane.environments import api as envs

    dev, _events = session
    project = load_project(dev.context.project.root)
    status = envs.status(project, "dev")
    assert status.status == "running" and status.url == dev.url
    assert status.serving is not None and status.serving.pid == os.getpid()
    assert dev.odoo is not None and status.serving.generation == dev.odoo.gen
    assert (status.build or {})["working_tree"] == str(project.root)
    assert status.to_dict()["serving"]["url"] == dev.url
    rows = {r.environment: r for r in envs.list_environments(project)}
    assert rows["dev"].status == "running" and rows["dev"].url == dev.url
    assert rows["dev2"].status == "stopped"
    assert envs.status(project, "dev2").serving is None

    diff = envs.environment_diff(project, "dev", "dev2")
    assert diff.a == "dev" and diff.b == "dev2"
    for name in ("dev", "dev2"):
        command = envs.psql_command(project, name)
        ran = subprocess.run(
            [*command.argv, "-tAc", "SELECT count(*) FROM ir_module_module WHERE name='dev_probe'"],
            env=command.env,
            capture_output=True,
            text=True,
        )
        assert ran.stdout.strip() == "1", ran.stderr

    # Destroying an environment nobody serves, then the one the session serves.
    database2 = project.config.database_name("dev2")
    assert "database " + database2 in envs.destroy(project, "dev2").removed
    result = envs.destroy(project, "dev")
    assert "odooplane dev session" in result.removed
    assert dev._stop.is_set() and envs.status(project, "dev").status == "absent"
    with pg_server.connect() as conn:
        left = conn.execute(
            "SELECT datname FROM pg_database WHERE datname IN (%s, %s)",
            (dev.context.database, database2),
        ).fetchall()
    assert left == []
