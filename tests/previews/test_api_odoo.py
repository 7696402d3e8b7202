"""Previews with a real Odoo 17, a real Caddy, real PostgreSQL and headless Chromium.

One project is shared by the ordered steps of this module (production fresh, staging a
neutralized copy of it, then previews of two pull requests), as a team's day would go.
"""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil
import pytest

from conftest import TEST_CACHE, run_git, write_addon
from fixtures_browser import Browser, chromium_binary
from odooplane.backends.supervisor import SupervisorBackend
from odooplane.config import load_config
from odooplane.environments import api as envs
from odooplane.environments import slots, zygotes
from odooplane.environments.context import EnvContext
from odooplane.environments.launch import log_of
from odooplane.environments.state import StateStore
from odooplane.evidence.api import EvidenceStore
from odooplane.mailcatcher import catcher_address, list_messages, stop_catcher
from odooplane.neutralize import verify_database
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.source import OdooSource
from odooplane.postgres import databases as dbs
from odooplane.postgres.server import DatabaseServer
from odooplane.previews import api
from odooplane.previews.records import BASE_NAME
from odooplane.project import Project
from odooplane.routing import RouteMode, router_for
from routing.conftest import free_port

pytestmark = [pytest.mark.odoo, pytest.mark.slow]

CONTROLLER = """from odoo import http


class Hello(http.Controller):
    @http.route("/hello", type="http", auth="none")
    def hello(self):
        return "{text}"
"""


@dataclass
class Scenario:
    project: Project
    repo: Path
    server: DatabaseServer
    infos: dict[int, api.PreviewInfo] = field(default_factory=dict)

    def reload(self) -> None:
        self.project = Project(root=self.repo, config=load_config(self.repo / "odooplane.yaml"))

    def write_hello(self, text: str) -> None:
        (self.repo / "addons" / "hello" / "controllers" / "main.py").write_text(
            CONTROLLER.replace("{text}", text)
        )

    def branch(self, name: str, text: str) -> None:
        run_git(self.repo, "checkout", "-q", "-B", name, "main")
        self.write_hello(text)
        run_git(self.repo, "commit", "-qam", f"{name}: {text}")
        run_git(self.repo, "checkout", "-q", "main")

    @property
    def front(self) -> int:
        return self.project.config.routing.http_port

    def get(self, host: str, path: str) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.front, timeout=60)
        try:
            conn.request("GET", path, headers={"Host": host})
            response = conn.getresponse()
            return response.status, response.read().decode(errors="replace")
        finally:
            conn.close()


@pytest.fixture(scope="module")
def scenario(
    tmp_path_factory: pytest.TempPathFactory,
    pg_server: DatabaseServer,
    odoo_source: OdooSource,
    odoo_runtime: Runtime,
) -> Iterator[Scenario]:
    if not shutil.which("caddy"):
        pytest.skip("Caddy is not installed (apt-get install caddy)")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ODOOPLANE_CACHE_DIR", str(TEST_CACHE))
        patch.setenv("ODOOPLANE_LOCK_TIMEOUT", "300")
        repo = tmp_path_factory.mktemp("previews") / "project"
        repo.mkdir()
        run_git(repo, "init", "-q", "-b", "main")
        name = f"prv{uuid.uuid4().hex[:6]}"
        front = free_port()
        (repo / "odooplane.yaml").write_text(
            f"project: {name}\n"
            "odoo:\n"
            f"  series: '{odoo_source.series}'\n"
            f"  source: '{odoo_source.path}'\n"
            "database:\n"
            f"  server: '{pg_server.url(redact=False)}'\n"
            "environments:\n"
            "  production:\n"
            "    kind: production\n"
            "  staging:\n"
            "    kind: staging\n"
            "    data: {copy: production}\n"
            "previews:\n"
            "  enabled: true\n"
            "  domain: localhost\n"
            "  max_running: 2\n"
            "routing:\n"
            "  listen: 127.0.0.1\n"
            f"  http_port: {front}\n"
            f"  https_port: {free_port()}\n"
            "  tls: 'off'\n"
        )
        (repo / ".gitignore").write_text(".odooplane/\nweb/\n")
        write_addon(
            repo / "addons",
            "hello",
            extra={
                "__init__.py": "from . import controllers\n",
                "controllers/__init__.py": "from . import main\n",
            },
        )
        project = Project(root=repo, config=load_config(repo / "odooplane.yaml"))
        sc = Scenario(project=project, repo=repo, server=pg_server)
        sc.write_hello("main")
        run_git(repo, "add", "-A")
        run_git(repo, "commit", "-qm", "hello")
        sc.branch("feature/login-a", "A1")
        sc.branch("feature/b", "B1")
        try:
            yield sc
        finally:
            for info in api.list_previews(sc.project):
                try:
                    api.down(sc.project, pr=info.pr, reason="test teardown")
                except Exception as exc:  # teardown must go on
                    print(f"teardown of {info.environment}: {exc}")
            for env in (BASE_NAME, "staging", "production"):
                try:
                    envs.destroy(sc.project, env, force=True)
                except Exception as exc:
                    print(f"teardown of {env}: {exc}")
            router_for(sc.project).stop()
            SupervisorBackend(project.state_dir).shutdown()
            stop_catcher(project.state_dir)


def test_production_and_staging(scenario: Scenario) -> None:
    envs.create(scenario.project, "production", ref="main")
    staging = envs.create(scenario.project, "staging", ref="main")
    assert staging.status == "running"


def test_two_previews_answer_on_their_own_hostnames_with_their_own_code(
    scenario: Scenario,
) -> None:
    sc = scenario
    first = api.up(sc.project, pr=1, branch="feature/login-a", title="Login A")
    assert first.action == "created" and first.status == "running"
    assert first.environment == "pr-1-feature-login-a"
    assert first.url == f"http://pr-1-feature-login-a.localhost:{sc.front}"
    assert first.login and first.password and first.data == "staging"
    # gc makes the base's spare copy when the background maker has not yet; the next
    # preview claims it (a rename) instead of cloning the base.
    spare = api.gc(sc.project).spare
    assert spare is not None and spare["database"].endswith("_preview_base__spare"), spare
    second = api.up(sc.project, pr=2, branch="feature/b")
    assert second.environment == "pr-2-feature-b"
    clone_logs = list(sc.project.root.rglob("*-pr-2-feature-b-*/logs/*clone-database.log"))
    assert len(clone_logs) == 1, clone_logs
    assert clone_logs[0].read_text().startswith(f"claimed {spare['database']} -> "), clone_logs
    sc.infos = {1: first, 2: second}
    assert sc.get("pr-1-feature-login-a.localhost", "/hello") == (200, "A1")
    assert sc.get("pr-2-feature-b.localhost", "/hello") == (200, "B1")
    status, body = sc.get("pr-1-feature-login-a.localhost", "/web/login")
    assert status == 200 and "oe_neutralize_banner" in body
    # The base was neutralized once; each preview only got its own identity.
    states = StateStore(sc.project.state_dir)
    base = states.load(BASE_NAME)
    assert base is not None and base.neutralization["status"] == "verified"  # type: ignore[index]
    for number in (1, 2):
        state = states.load(sc.infos[number].environment)
        assert state is not None and state.neutralization is not None
        assert state.neutralization["status"] == "verified"
        created = next(h for h in state.history if h["action"] == "create")
        steps = [s["name"] for s in created["steps"]]
        # Cloned from the base: identity and verification, no full neutralization of
        # the clone; the branch's changed addon is updated, then the copy neutralized
        # again (module data may switch crons or mail servers back on).
        assert steps.index("identity and verification") < steps.index("update modules")
        assert "neutralize" not in steps[: steps.index("update modules")]
        assert steps.index("neutralize") > steps.index("update modules")

    def uuid_of(env: str) -> str:
        with sc.server.connect(sc.project.config.database_name(env)) as conn:
            row = conn.execute(
                "SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'"
            ).fetchone()
        assert row is not None
        return str(row[0])

    # Each preview has a database identity of its own (the base is never started).
    own = {uuid_of(first.environment), uuid_of(second.environment)}
    assert len(own) == 2 and not own & {uuid_of("staging"), uuid_of(BASE_NAME)}


def _zygote(sc: Scenario) -> tuple[str, int]:
    """The one warm Odoo of the project's previews, once it listens: program and pid."""
    backend = SupervisorBackend(sc.project.state_dir)
    programs = [p for p in backend.programs() if p.startswith(zygotes.PREFIX)]
    assert len(programs) == 1, programs
    sock = zygotes.zygote_for_key(sc.project, programs[0][len(zygotes.PREFIX) :])
    assert sock is not None
    deadline = time.monotonic() + 120
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sock.exists(), (sc.project.state_dir / "zygotes").glob("*/zygote.log")
    pid = backend.status(programs[0]).pid
    assert pid
    return programs[0], pid


def _serving(sc: Scenario, env: str) -> psutil.Process:
    """The process answering on the preview's Odoo port (a forked child's /proc environ
    is its parent's: it is found by its socket)."""
    ctx = EnvContext(sc.project, env)
    state = ctx.store.load(env)
    assert state is not None
    slot = slots.serving(ctx, state)
    assert slot is not None
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == slot.http and conn.pid:
            return psutil.Process(conn.pid)
    raise AssertionError(f"nothing listens on {slot.http}")


def test_previews_are_forked_from_one_warm_odoo(scenario: Scenario) -> None:
    """A preview's Odoo is a fork of the warm parent (its own conf, role, port and code);
    without the parent it starts cold, the same."""
    sc = scenario
    env = sc.infos[1].environment
    program, zygote_pid = _zygote(sc)
    envs.stop(sc.project, env)
    envs.start(sc.project, env)
    forked = _serving(sc, env)
    assert forked.ppid() == zygote_pid
    assert sc.get(f"{env}.localhost", "/hello") == (200, "A1")
    assert sc.get(f"{sc.infos[2].environment}.localhost", "/hello") == (200, "B1")
    # Its Odoo stops with it.
    envs.stop(sc.project, env)
    _gone, alive = psutil.wait_procs([forked], timeout=15)
    assert not alive
    # No warm parent: the same preview starts cold.
    SupervisorBackend(sc.project.state_dir).stop(program)
    ctx = EnvContext(sc.project, env)
    state = ctx.store.load(env)
    assert state is not None
    log = log_of(ctx, state)
    before = log.stat().st_size
    with pytest.MonkeyPatch.context() as patch:
        # As if it were not up yet: its program is not started again.
        patch.setattr(
            zygotes, "ensure", lambda ctx, b, installed: zygotes.zygote_for(ctx.project, b)
        )
        envs.start(sc.project, env)
    assert sc.get(f"{env}.localhost", "/hello") == (200, "A1")
    assert _serving(sc, env).ppid() != zygote_pid
    assert "starting cold" in log.read_text(errors="replace")[before:]
    # The next start brings the warm parent back.
    envs.stop(sc.project, env)
    envs.start(sc.project, env)
    assert sc.get(f"{env}.localhost", "/hello") == (200, "A1")
    _zygote(sc)


def test_a_preview_logs_in_with_its_own_role_only(scenario: Scenario) -> None:
    """A preview runs a pull request's code: its odoo.conf opens its own database and
    no other (issue 10: every environment shared one superuser)."""
    import configparser
    from dataclasses import replace

    from odooplane.errors import ExternalToolError

    sc = scenario
    env = sc.infos[1].environment
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(sc.project.state_dir / "environments" / env / "odoo.conf")
    options = parser["options"]
    as_preview = replace(sc.server, user=options["db_user"], password=options["db_password"])
    own = sc.project.config.database_name(env)
    assert as_preview.user == own != sc.server.user
    as_preview.connect(own).close()
    others = [sc.infos[2].environment, "staging", "production", BASE_NAME]
    for other in others:
        with pytest.raises(ExternalToolError, match="CONNECT privilege"):
            as_preview.connect(sc.project.config.database_name(other)).close()


def test_a_push_updates_one_preview_in_place(scenario: Scenario) -> None:
    sc = scenario
    run_git(sc.repo, "checkout", "-q", "feature/login-a")
    sc.write_hello("A2")
    run_git(sc.repo, "commit", "-qam", "A2")
    sha = run_git(sc.repo, "rev-parse", "HEAD")
    run_git(sc.repo, "checkout", "-q", "main")
    again = api.up(sc.project, pr=1, branch="feature/login-a", ref=sha)
    assert again.action == "updated" and again.build == sha
    assert again.url == sc.infos[1].url and again.password == sc.infos[1].password
    assert sc.get("pr-1-feature-login-a.localhost", "/hello") == (200, "A2")
    assert sc.get("pr-2-feature-b.localhost", "/hello") == (200, "B1")
    with EvidenceStore.open(sc.project) as store:
        kinds = [d.kind for d in store.history(again.environment)]
    assert "deploy" in kinds
    unchanged = api.up(sc.project, pr=1, branch="feature/login-a", ref=sha)
    assert unchanged.action == "unchanged"


def test_preview_data_is_neutralized_and_mail_lands_in_the_catcher(scenario: Scenario) -> None:
    sc = scenario
    env = sc.infos[1].environment
    database = sc.project.config.database_name(env)
    report = verify_database(
        sc.server,
        database,
        project=sc.project,
        environment=env,
        catcher=catcher_address(sc.project.state_dir, env),
        base_url=sc.infos[1].url,
    )
    assert report.ok, report.summary()
    script = (
        "msg = env['ir.mail_server'].build_email('qa@example.com', ['pm@example.com'], "
        "'Hello from the preview', 'body')\n"
        "env['ir.mail_server'].send_email(msg)\n"
    )
    command = envs.shell_command(sc.project, env)
    result = subprocess.run(
        command.argv,
        input=script,
        env=command.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    subjects = [m.subject for m in list_messages(sc.project.state_dir, env)]
    assert "Hello from the preview" in subjects


def test_chromium_opens_the_preview_by_hostname_and_logs_in(
    scenario: Scenario, tmp_path: Path
) -> None:
    if chromium_binary() is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    sc = scenario
    info = sc.infos[1]
    browser = Browser(tmp_path / "profile")
    try:
        browser.goto(f"{info.url}/web/login")
        browser.wait_for("!!document.querySelector('input[name=login]')")
        browser.evaluate(
            f"document.querySelector('input[name=login]').value = {json.dumps(info.login)};"
            f"document.querySelector('input[name=password]').value = {json.dumps(info.password)};"
            "document.querySelector('form.oe_login_form').submit();"
        )
        browser.wait_for(
            "location.pathname.startsWith('/web') && "
            "!location.pathname.startsWith('/web/login') && "
            "!!document.querySelector('.o_main_navbar')",
            timeout=120,
        )
        banner = browser.evaluate(
            "(document.getElementById('oe_neutralize_banner') || {}).innerText || ''"
        )
        shot = browser.screenshot(tmp_path / "preview-logged-in.png")
    finally:
        browser.close()
    assert "neutralized" in banner.lower()
    assert shot.stat().st_size > 10_000
    print(f"screenshot kept at {shot}")


def test_idle_preview_is_stopped_and_woken_by_a_request(scenario: Scenario) -> None:
    sc = scenario
    env = sc.infos[2].environment
    router = router_for(sc.project)
    # Nobody asked pr-2 for an hour: gc stops it (its database stays).
    later = datetime.now(timezone.utc) + timedelta(
        minutes=sc.project.config.previews.idle_minutes + 60
    )
    report = api.gc(sc.project, now=later)
    stopped = {a.environment for a in report.actions if a.action == "stopped"}
    assert env in stopped
    route = router.get(env)
    assert route is not None and route.wakes and route.mode is RouteMode.serve
    assert dbs.database_exists(sc.server, sc.project.config.database_name(env))
    listed = {i.environment: i for i in api.list_previews(sc.project)}
    assert listed[env].status == "stopped"
    # The next request wakes it: a starting page first, then the preview itself.
    status, body = sc.get(f"{env}.localhost", "/hello")
    assert status == 503 and "Starting" in body
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        status, body = sc.get(f"{env}.localhost", "/hello")
        if status == 200:
            break
        assert "could not start" not in body, body
        time.sleep(0.5)
    assert (status, body) == (200, "B1")
    assert router.get(env).mode is RouteMode.serve  # type: ignore[union-attr]


def test_close_and_gc_remove_database_filestore_route_and_process(scenario: Scenario) -> None:
    sc = scenario
    env = sc.infos[2].environment
    database = sc.project.config.database_name(env)
    filestore = sc.project.odoo_data_dir / "filestore" / database
    api.pin(sc.project, pr=2, pinned=True)
    closed = api.close(sc.project, prs=[2])
    assert closed[0]["environment"] == env
    # Within the grace hour nothing happens; after it, it goes (pinned or not).
    assert not [a for a in api.gc(sc.project).actions if a.action == "removed"]
    later = datetime.now(timezone.utc) + timedelta(minutes=61)
    report = api.gc(sc.project, now=later)
    removed = [a for a in report.actions if a.action == "removed"]
    assert [a.environment for a in removed] == [env]
    assert "pull request #2 closed" in removed[0].reason
    assert not dbs.database_exists(sc.server, database)
    assert not filestore.exists()
    assert router_for(sc.project).get(env) is None
    assert not SupervisorBackend(sc.project.state_dir).defined(env)
    status, body = sc.get(f"{env}.localhost", "/hello")
    assert status == 404 and "No environment at this address" in body
    with EvidenceStore.open(sc.project) as store:
        kinds = [d.kind for d in store.history(env)]
    assert "preview-removal" in kinds
    # Idempotent: running it again changes nothing.
    again = api.gc(sc.project, now=later)
    assert not [a for a in again.actions if a.action == "removed"]
    # The warm Odoo stays while a preview runs through it, and goes with the last one.
    backend = SupervisorBackend(sc.project.state_dir)
    assert [p for p in backend.programs() if p.startswith(zygotes.PREFIX)]
    api.down(sc.project, pr=1)
    api.gc(sc.project, now=later)
    assert not [p for p in backend.programs() if p.startswith(zygotes.PREFIX)]
