"""Production data and availability under crashes, with real Odoo 17, PostgreSQL, Caddy.

One production (two workers) behind the front door; a client writes a partner through
it every 100 ms (XML-RPC, as an integration would) and another polls /web/login every
50 ms. Then:

- a code-only deploy: not one request fails;
- a module-updating deploy: the maintenance page (503 + Retry-After), never a refused
  connection;
- the kill matrix: the process running a deploy is SIGKILLed at each phase of its
  journal (code-only and module-updating deploys); the keeper brings production back
  without a person, every acknowledged write is still there, no deployment stays
  ``running``, and the decision (roll forward or back) fits the phase;
- a deploy whose logs cannot be written (the artifacts folder on a full filesystem)
  succeeds with warnings, exit 0.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
import xmlrpc.client
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import TEST_CACHE, run_git, write_addon
from fixtures_disk import fill
from odooplane.backends.supervisor import SupervisorBackend
from odooplane.config import load_config
from odooplane.environments import api as envs
from odooplane.environments.state import StateStore
from odooplane.evidence.api import EvidenceStore
from odooplane.mailcatcher import stop_catcher
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.source import OdooSource
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project

pytestmark = [pytest.mark.odoo, pytest.mark.slow]

# Production must answer again within this long after a kill (the keeper's detection
# second plus a recovery: measured times are printed, see docs/environments.md).
RECOVERY_BOUND = 120.0
MODEL = """from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    kill_note = fields.Char()
"""


@dataclass
class Production:
    project: Project
    repo: Path
    server: DatabaseServer
    port: int
    version: int = 0
    notes: int = 0

    @property
    def database(self) -> str:
        return self.project.config.database_name("production")

    def bump_module(self) -> None:
        self.version += 1
        manifest = self.repo / "addons" / "kill_addon" / "__manifest__.py"
        text = re.sub(
            r"'version': '[^']*'", f"'version': '1.0.{self.version}'", manifest.read_text()
        )
        manifest.write_text(text)
        self._commit(f"kill_addon {self.version}")

    def break_module(self) -> None:
        """A version bump whose update fails (the addon imports what is not there)."""
        init = self.repo / "addons" / "kill_addon" / "__init__.py"
        init.write_text("from . import models\nimport kill_addon_missing_dependency\n")
        self.bump_module()

    def repair_module(self) -> None:
        init = self.repo / "addons" / "kill_addon" / "__init__.py"
        init.write_text("from . import models\n")
        self._commit("kill_addon repaired")

    def change_code_only(self) -> None:
        self.notes += 1
        (self.repo / "NOTES.md").write_text(f"note {self.notes}\n")
        self._commit(f"notes {self.notes}")

    def _commit(self, message: str) -> None:
        run_git(self.repo, "add", "-A")
        run_git(self.repo, "commit", "-q", "-m", message)

    def deploy_cli(self, *, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "odooplane",
                "-C",
                str(self.repo),
                "env",
                "deploy",
                "production",
                "main",
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )

    def state(self) -> StateStore:
        return StateStore(self.project.state_dir)

    def names_in_database(self, prefix: str) -> set[str]:
        with self.server.connect(self.database) as conn:
            rows = conn.execute(
                "SELECT name FROM res_partner WHERE name LIKE %s", (prefix + "%",)
            ).fetchall()
        return {str(r[0]) for r in rows}


@pytest.fixture(scope="module")
def production(
    tmp_path_factory: pytest.TempPathFactory,
    pg_server: DatabaseServer,
    odoo_source: OdooSource,
    odoo_runtime: Runtime,
) -> Iterator[Production]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ODOOPLANE_CACHE_DIR", str(TEST_CACHE))
        patch.setenv("ODOOPLANE_LOCK_TIMEOUT", "300")
        repo = tmp_path_factory.mktemp("killmatrix") / "project"
        repo.mkdir()
        run_git(repo, "init", "-q", "-b", "main")
        name = f"kill{uuid.uuid4().hex[:6]}"
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
            "    workers: 2\n"
        )
        (repo / ".gitignore").write_text(".odooplane/\nweb/\n")
        write_addon(
            repo / "addons",
            "kill_addon",
            extra={"models/__init__.py": "from . import partner\n", "models/partner.py": MODEL},
        )
        (repo / "addons" / "kill_addon" / "__init__.py").write_text("from . import models\n")
        run_git(repo, "add", "-A")
        run_git(repo, "commit", "-q", "-m", "kill matrix project")
        project = Project(root=repo, config=load_config(repo / "odooplane.yaml"))
        envs.create(project, "production")
        port = envs.status(project, "production").http_port
        assert port is not None
        try:
            yield Production(project=project, repo=repo, server=pg_server, port=port)
        finally:
            try:
                envs.destroy(project, "production", force=True)
            except Exception as exc:  # teardown must go on
                print(f"teardown: {exc}")
            SupervisorBackend(project.state_dir).shutdown()
            stop_catcher(project.state_dir)


# -- clients ------------------------------------------------------------------------------


@dataclass
class Client:
    """Requests in a thread; every answer is kept with its time."""

    port: int
    interval: float
    answers: list[tuple[float, str]] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)
    prefix: str = ""
    write: bool = False

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._uid: int | None = None

    def _poll(self) -> str:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", "/web/login")
            response = conn.getresponse()
            body = response.read()
            if response.status == 503 and b"maintenance" in body.lower():
                assert response.getheader("Retry-After"), "maintenance without Retry-After"
                return "maintenance"
            return "ok" if response.status == 200 else f"http-{response.status}"
        except ConnectionRefusedError:
            return "refused"
        except (ConnectionResetError, http.client.RemoteDisconnected):
            return "reset"
        except OSError as exc:
            return f"error-{type(exc).__name__}"
        finally:
            conn.close()

    def _call(self, service: str, method: str, *args: object) -> tuple[str, object]:
        """One XML-RPC call on a new connection: ("ok", result) or (what failed, None);
        a 503 says whose it is (the front door's maintenance or unavailable page)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            body = xmlrpc.client.dumps(args, method).encode()
            conn.request("POST", f"/xmlrpc/2/{service}", body, {"Content-Type": "text/xml"})
            response = conn.getresponse()
            data = response.read()
            if response.status != 200:
                text = data.decode("utf-8", "replace").lower()
                whose = (
                    "maintenance"
                    if "maintenance" in text
                    else "front-door"
                    if "odooplane" in text
                    else "odoo"
                )
                return f"http-{response.status}-{whose}", None
            result, _ = xmlrpc.client.loads(data)
            return "ok", result[0]
        except xmlrpc.client.Fault as exc:
            return f"fault-{exc.faultString[:60]}", None
        except (OSError, http.client.HTTPException, xmlrpc.client.ResponseError) as exc:
            return f"error-{type(exc).__name__}", None
        finally:
            conn.close()

    def _write_one(self, number: int) -> str:
        if self._uid is None:
            answer, uid = self._call("common", "authenticate", self.prefix_db, "admin", "admin", {})
            if answer != "ok" or not uid:
                return answer if answer != "ok" else "auth"
            self._uid = int(uid)  # type: ignore[call-overload]
        name = f"{self.prefix}{number}"
        answer, _ = self._call(
            "object",
            "execute_kw",
            self.prefix_db,
            self._uid,
            "admin",
            "res.partner",
            "create",
            [{"name": name}],
        )
        if answer == "ok":
            self.acknowledged.append(name)
        return answer

    prefix_db: str = ""

    def _loop(self) -> None:
        number = 0
        while not self._stop.is_set():
            started = time.monotonic()
            number += 1
            answer = self._write_one(number) if self.write else self._poll()
            self.answers.append((started, answer))
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def __enter__(self) -> Client:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def kinds(self, since: float = 0.0) -> dict[str, int]:
        found: dict[str, int] = {}
        for at, answer in self.answers:
            if at >= since:
                found[answer] = found.get(answer, 0) + 1
        return found


def _poller(production: Production) -> Client:
    return Client(port=production.port, interval=0.05)


def _writer(production: Production, label: str) -> Client:
    client = Client(port=production.port, interval=0.1, write=True, prefix=f"{label}-")
    client.prefix_db = production.database
    return client


def _wait(check: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout:g} s")


# -- availability -----------------------------------------------------------------------------


def test_a_code_only_deploy_fails_no_request(production: Production) -> None:
    production.change_code_only()
    with _poller(production) as poller, _writer(production, "codeonly") as writer:
        time.sleep(1)
        deploy = production.deploy_cli()
        out, err = deploy.communicate(timeout=600)
        time.sleep(1)
    assert deploy.returncode == 0, err
    outcome = json.loads(out)
    assert [s["name"] for s in outcome["steps"]] == [
        "start",
        "health check",
        "switch",
        "stop previous build",
    ]
    assert outcome["snapshot"] is None
    assert poller.kinds() == {"ok": len(poller.answers)}, poller.kinds()
    assert len(poller.answers) > 20
    assert writer.kinds() == {"ok": len(writer.answers)}, writer.kinds()
    assert set(writer.acknowledged) <= production.names_in_database("codeonly-")


def test_a_module_deploy_answers_with_the_maintenance_page(production: Production) -> None:
    production.bump_module()
    with _poller(production) as poller:
        time.sleep(1)
        deploy = production.deploy_cli()
        out, err = deploy.communicate(timeout=900)
        time.sleep(1)
    assert deploy.returncode == 0, err
    outcome = json.loads(out)
    assert outcome["steps"][0]["name"] == "maintenance page"
    assert outcome["snapshot"], "a deploy that updates modules takes its snapshot"
    kinds = poller.kinds()
    assert set(kinds) == {"ok", "maintenance"}, kinds
    assert kinds["maintenance"] > 0


# -- kills -------------------------------------------------------------------------------------

# (kind of deploy, phase to kill at, what recovery must decide)
MATRIX = [
    ("module", "maintenance", "rolled_back"),
    ("module", "stopped", "rolled_back"),
    ("module", "snapshot", "rolled_back"),
    ("module", "updating", "rolled_back"),
    ("module", "starting", "rolled_back"),
    ("module", "health_check", "rolled_forward"),
    ("module", "healthy", "rolled_forward"),
    ("module", "switched", "rolled_forward"),
    ("module", "committed", "rolled_forward"),
    ("code", "starting", "rolled_back"),
    ("code", "health_check", "rolled_forward"),
    ("code", "switching", "rolled_forward"),
    # A deploy whose update failed, killed while it undid itself.
    ("broken", "rolling_back", "rolled_back"),
]


@pytest.mark.parametrize(("kind", "phase", "decision"), MATRIX)
def test_a_deploy_killed_at_each_phase_comes_back_without_a_person(
    production: Production, kind: str, phase: str, decision: str
) -> None:
    store = production.state()
    before = store.load("production")
    assert before is not None and before.operation is None
    if kind == "module":
        production.bump_module()
    elif kind == "broken":
        production.break_module()
    else:
        production.change_code_only()
    target = run_git(production.repo, "rev-parse", "HEAD")
    # The update itself is killed while odoo-bin runs; other phases are held open.
    pause = {} if phase == "updating" else {"ODOOPLANE_PAUSE_AFTER_PHASE": f"{phase}:600"}
    label = f"{kind}-{phase}"
    with _writer(production, label) as writer:
        time.sleep(0.5)
        client = production.deploy_cli(env=pause)

        def at_phase() -> bool:
            state = store.load("production")
            op = state.operation if state else None
            return bool(
                op is not None
                and op.phase == phase
                and (phase != "updating" or op.child_pid is not None)
            )

        _wait(at_phase, 600, f"the deploy reaching {phase}")
        state = store.load("production")
        assert state is not None and state.operation is not None
        op = state.operation
        os.kill(op.pid, signal.SIGKILL)
        killed = time.monotonic()
        client.communicate(timeout=60)

        def serving() -> bool:
            now = store.load("production")
            return now is not None and now.operation is None and _poller(production)._poll() == "ok"

        seconds = _wait(serving, RECOVERY_BOUND, "production answering again")
        time.sleep(0.5)
    print(f"\nkill at {label}: production answers again {seconds:.2f} s after the kill")
    after = store.load("production")
    assert after is not None
    record = after.history[0]
    assert record["status"] == "interrupted" and record["decision"] == decision, record
    expected = target if decision == "rolled_forward" else before.build
    assert after.build == expected
    assert record["serving_build"] == expected
    # Every write the clients were told succeeded is still there.
    assert writer.acknowledged, writer.kinds()
    assert set(writer.acknowledged) <= production.names_in_database(f"{label}-")
    # No refused connection at any time: maintenance page or Odoo.
    assert not [k for k in writer.kinds(since=killed) if k.startswith("error-Connection")]
    with EvidenceStore.open(production.project) as evidence:
        running = [d for d in evidence.history("production", limit=50) if d.outcome == "running"]
        assert running == []
        dead = evidence.deployment(op.deployment_id or "")
        assert dead.summary.outcome == (
            "succeeded" if decision == "rolled_forward" else "interrupted"
        )
        assert dead.result.get("recovered_by") == record["recovery_id"]
        recovery = evidence.deployment(record["recovery_id"])
        assert recovery.summary.kind == "recover"
        assert recovery.summary.git_sha == expected
        assert recovery.result["recovered_deployment"] == op.deployment_id
    if kind != "code" and phase in ("updating", "starting", "rolling_back"):
        kept = [a for a in record["actions"] if "is kept as snapshot failed-" in a]
        assert kept, record["actions"]
    if kind == "broken":
        production.repair_module()


def test_a_full_artifacts_disk_is_a_warning_not_a_rollback(
    production: Production, small_disk: Callable[..., Path]
) -> None:
    artifacts = production.repo / "web" / "docs" / "evidence"
    artifacts.mkdir(parents=True, exist_ok=True)
    disk = small_disk("artifacts", size="64k")
    subprocess.run(["mount", "--bind", str(disk), str(artifacts)], check=True)
    try:
        fill(artifacts)
        production.bump_module()
        target = run_git(production.repo, "rev-parse", "HEAD")
        deploy = production.deploy_cli()
        out, err = deploy.communicate(timeout=900)
    finally:
        subprocess.run(["umount", "-l", str(artifacts)], check=False)
    assert deploy.returncode == 0, err
    outcome = json.loads(out)
    assert outcome["status"] == "deployed"
    assert any("No space left on device" in w for w in outcome["warnings"]), outcome["warnings"]
    after = production.state().load("production")
    assert after is not None and after.build == target and after.operation is None
    with EvidenceStore.open(production.project) as evidence:
        detail = evidence.deployment(outcome["deployment_id"])
        assert detail.summary.outcome == "succeeded"
