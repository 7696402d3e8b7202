"""Production's availability during deploys and after a deploy is killed, before and after.

The reference project: production restored from the shared fixture
``odoo17-prodlike.sql.gz`` (a real Odoo 17 database, 31 modules) plus one small addon of
the project (``acme_note``). A client polls production's address (``GET /web/login``,
a new connection each time, every 50 ms) while:

- a **code-only deploy** runs (a commit that changes no addon: nothing to install or
  update);
- a **module-updating deploy** runs (``acme_note``'s version is bumped);
- with ``--kills``: a module-updating deploy (and a code-only one for the phases only it
  has) is killed (SIGKILL of the process running it) at each phase of its journal; the
  time from the kill until production answers 200 again is measured, up to
  ``--kill-wait`` seconds (then a person has to step in: `env start`).

Each answer is counted as ok (200), maintenance (503 with the maintenance page) or
failed (connection refused or reset, timeout, any other status).

Two code versions run side by side in one invocation: the **baseline** (the commit
before the front door, blue/green and the keeper: every deploy stops production; killed
deploys wait for a person), extracted with ``git archive``, and the **current** tree.

    python benchmarks/deploy_availability.py [--kills] [--baseline fa29f9e]

Each version uses a temporary project with its own embedded PostgreSQL; the Python
runtime comes from the cache (``$ODOOPLANE_CACHE_DIR``), built on first use.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_DUMP = (
    Path(os.environ.get("ODOOPLANE_SHARED_DIR", str(REPO.parent / "shared")))
    / "fixtures"
    / "odoo17-prodlike.sql.gz"
)
# The last commit of main before this work: deploys stop production first.
BASELINE = "72caa53"
POLL_SECONDS = 0.05
MANIFEST = """{
    'name': 'Acme note',
    'version': '17.0.1.0.%d',
    'depends': ['base'],
    'license': 'LGPL-3',
    'installable': True,
}
"""
MODEL = """from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    acme_note = fields.Char()
"""
# Phases of the current deploy journal, by the kind of deploy that has them.
MODULE_PHASES = (
    "maintenance",
    "stopped",
    "snapshot",
    "updating",
    "starting",
    "health_check",
    "healthy",
    "switched",
    "committed",
)
CODE_PHASES = ("starting", "health_check", "switching")
BASELINE_PHASES = ("stopping", "snapshot", "updating", "starting")


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    done = subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    return done.stdout.decode().strip()


# -- the client polling production -----------------------------------------------------


@dataclass
class Tally:
    ok: int = 0
    maintenance: int = 0
    failed: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    # Longest stretch without a 200, in seconds.
    longest_gap: float = 0.0
    first_ok_after: float | None = None


class Poller:
    """GET /web/login on a new connection every 50 ms, in a thread."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.samples: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def probe(self) -> str:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", "/web/login")
            response = conn.getresponse()
            body = response.read()
            if response.status == 200:
                return "ok"
            if response.status == 503 and b"maintenance" in body.lower():
                return "maintenance"
            return f"http-{response.status}"
        except ConnectionRefusedError:
            return "refused"
        except (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError):
            return "reset"
        except TimeoutError:
            return "timeout"
        except OSError as exc:
            return f"error-{type(exc).__name__}"
        finally:
            conn.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.samples.append((started, self.probe()))
            self._stop.wait(max(0.0, POLL_SECONDS - (time.monotonic() - started)))

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def tally(self, since: float = 0.0) -> Tally:
        result = Tally()
        gap_start: float | None = None
        for at, kind in self.samples:
            if at < since:
                continue
            result.kinds[kind] = result.kinds.get(kind, 0) + 1
            if kind == "ok":
                result.ok += 1
                if result.first_ok_after is None:
                    result.first_ok_after = at - since
                if gap_start is not None:
                    result.longest_gap = max(result.longest_gap, at - gap_start)
                    gap_start = None
            else:
                if kind == "maintenance":
                    result.maintenance += 1
                else:
                    result.failed += 1
                if gap_start is None:
                    gap_start = at
        if gap_start is not None and self.samples:
            result.longest_gap = max(result.longest_gap, self.samples[-1][0] - gap_start)
        return result


# -- one code version -----------------------------------------------------------------


def _write_addon(root: Path, version: int) -> None:
    addon = root / "addons" / "acme_note"
    (addon / "models").mkdir(parents=True, exist_ok=True)
    (addon / "__manifest__.py").write_text(MANIFEST % version)
    (addon / "__init__.py").write_text("from . import models\n")
    (addon / "models" / "__init__.py").write_text("from . import partner\n")
    (addon / "models" / "partner.py").write_text(MODEL)


def _state(root: Path) -> dict[str, object]:
    path = root / ".odooplane" / "environments" / "production" / "state.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _cli(root: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "odooplane", "-C", str(root), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


class Version:
    def __init__(self, label: str, root: Path, odoo_src: Path, dump: Path) -> None:
        self.label = label
        self.root = root
        self.odoo_src = odoo_src
        self.dump = dump
        self.counter = 0

    def setup(self) -> int:
        from odooplane.config import load_config
        from odooplane.environments import api as envs
        from odooplane.project import Project

        root = self.root
        root.mkdir(parents=True)
        (root / "odooplane.yaml").write_text(
            "project: bench\n"
            "odoo:\n"
            "  series: '17.0'\n"
            f"  source: '{self.odoo_src}'\n"
            "environments:\n"
            "  production:\n"
            "    kind: production\n"
            "    workers: 2\n"
        )
        (root / ".gitignore").write_text(".odooplane/\nweb/\n")
        _write_addon(root, 0)
        git(root, "init", "-q", "-b", "main")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "reference project")
        project = Project(root=root, config=load_config(root / "odooplane.yaml"))
        envs.create(project, "production", import_path=self.dump)
        info = envs.status(project, "production")
        # A dict on the baseline, a typed result (EnvironmentStatus) since.
        return int(info["http_port"] if isinstance(info, dict) else info.http_port)

    def snapshot_window(self) -> float:
        """How long a TEMPLATE snapshot of production takes while it serves: the
        maintenance window a code-only deploy would need to take one."""
        from odooplane.config import load_config
        from odooplane.postgres import databases as dbs
        from odooplane.postgres.project_server import server_for
        from odooplane.project import Project

        project = Project(root=self.root, config=load_config(self.root / "odooplane.yaml"))
        server = server_for(project)
        database = project.config.database_name("production")
        filestores = project.odoo_data_dir / "filestore"
        started = time.monotonic()
        info = dbs.snapshot_database(
            server, database, name="window", filestore_root=filestores, terminate=True
        )
        seconds = time.monotonic() - started
        dbs.drop_database(server, info.snapshot_db, filestore_root=filestores, force=True)
        return seconds

    def commit_code_only(self) -> None:
        self.counter += 1
        (self.root / "NOTES.md").write_text(f"release note {self.counter}\n")
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "-m", f"notes {self.counter}")

    def commit_module_update(self) -> None:
        self.counter += 1
        _write_addon(self.root, self.counter)
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "-m", f"acme_note {self.counter}")

    def deploy(self, port: int) -> tuple[Tally, float, int]:
        with Poller(port) as poller:
            time.sleep(1.0)
            started = time.monotonic()
            proc = _cli(self.root, "env", "deploy", "production", "main", "--json")
            _, err = proc.communicate()
            seconds = time.monotonic() - started
            time.sleep(1.0)
        if proc.returncode != 0:
            sys.stderr.write(err.decode())
        return poller.tally(), seconds, proc.returncode

    def kill_at(self, port: int, phase: str, wait: float, pause: bool) -> dict[str, object]:
        env = dict(os.environ)
        if pause:
            env["ODOOPLANE_PAUSE_AFTER_PHASE"] = f"{phase}:600"
        proc = subprocess.Popen(
            [sys.executable, "-m", "odooplane", "-C", str(self.root), "env", "deploy",
             "production", "main", "--json"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        victim = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            op = _state(self.root).get("operation")
            if isinstance(op, dict) and op.get("phase") == phase:
                victim = int(op["pid"])
                break
            if proc.poll() is not None and not isinstance(op, dict):
                break
            time.sleep(0.01)
        if victim is None:
            proc.wait()
            return {"phase": phase, "killed": False}
        with Poller(port) as poller:
            killed_at = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            while time.monotonic() - killed_at < wait:
                op = _state(self.root).get("operation")
                if poller.samples and poller.samples[-1][1] == "ok" and not op:
                    break
                time.sleep(0.05)
            time.sleep(0.2)
        proc.wait()
        tally = poller.tally(since=killed_at)
        back = tally.first_ok_after is not None and not _state(self.root).get("operation")
        result = {
            "phase": phase,
            "killed": True,
            "back": back,
            "unavailable_s": round(tally.first_ok_after, 2) if back else None,
            "maintenance": tally.maintenance,
            "failed": tally.failed,
        }
        if not back:
            # Nobody brings it back: a person runs a command.
            subprocess.run(
                [sys.executable, "-m", "odooplane", "-C", str(self.root), "env", "start",
                 "production"],
                capture_output=True,
                check=False,
            )
        return result

    def teardown(self) -> None:
        from odooplane.backends.supervisor import SupervisorBackend
        from odooplane.config import load_config
        from odooplane.environments import api as envs
        from odooplane.mailcatcher import stop_catcher
        from odooplane.postgres.cluster import EmbeddedCluster
        from odooplane.project import Project

        project = Project(root=self.root, config=load_config(self.root / "odooplane.yaml"))
        try:
            envs.destroy(project, "production", force=True)
        except Exception as exc:
            print(f"teardown: {exc}", file=sys.stderr)
        SupervisorBackend(project.state_dir).shutdown()
        stop_catcher(project.state_dir)
        EmbeddedCluster(project.state_dir).destroy()


def measure(args: argparse.Namespace) -> None:
    """One code version (the one on sys.path): prints one JSON document."""
    base = Path(tempfile.mkdtemp(prefix="odooplane-avail-"))
    os.chmod(base, 0o711)  # the embedded server's unprivileged user must enter it
    current = args.version == "current"
    version = Version(args.version, base / "project", args.odoo_src, args.dump)
    report: dict[str, object] = {"version": args.version}
    try:
        port = version.setup()
        report["snapshot_window_s"] = round(version.snapshot_window(), 2)
        version.commit_code_only()
        tally, seconds, code = version.deploy(port)
        report["code_only"] = {**asdict(tally), "seconds": round(seconds, 1), "exit": code}
        version.commit_module_update()
        tally, seconds, code = version.deploy(port)
        report["module_update"] = {**asdict(tally), "seconds": round(seconds, 1), "exit": code}
        if args.kills:
            kills = []
            phases = [("module", p) for p in (MODULE_PHASES if current else BASELINE_PHASES)]
            if current:
                phases += [("code", p) for p in CODE_PHASES]
            for kind, phase in phases:
                if kind == "module":
                    version.commit_module_update()
                else:
                    version.commit_code_only()
                row = version.kill_at(port, phase, args.kill_wait, pause=current)
                row["deploy"] = kind
                kills.append(row)
                print(f"[{args.version}] kill at {kind}/{phase}: {row}", file=sys.stderr)
            report["kills"] = kills
    finally:
        version.teardown()
        shutil.rmtree(base, ignore_errors=True)
    print(json.dumps(report))


def _child(label: str, src: Path, args: argparse.Namespace) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(src))
    argv = [
        sys.executable, __file__, "--measure", label, "--odoo-src", str(args.odoo_src),
        "--dump", str(args.dump), "--kill-wait", str(args.kill_wait),
    ]
    if args.kills:
        argv.append("--kills")
    done = subprocess.run(argv, env=env, stdout=subprocess.PIPE, check=False)
    lines = done.stdout.decode().strip().splitlines()
    if done.returncode != 0 or not lines:
        sys.exit(f"measuring {label} failed (exit {done.returncode})")
    return dict(json.loads(lines[-1]))


def _row(name: str, before: dict[str, object], after: dict[str, object]) -> None:
    print(
        f"{name:28} {before.get('ok', 0):>6} {before.get('maintenance', 0):>6} "
        f"{before.get('failed', 0):>6} {before.get('longest_gap', 0):>7.2f}   "
        f"{after.get('ok', 0):>6} {after.get('maintenance', 0):>6} {after.get('failed', 0):>6} "
        f"{after.get('longest_gap', 0):>7.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--odoo-src", type=Path, default=Path(
        os.environ.get("ODOOPLANE_TEST_ODOO_SRC", "/opt/odoo-src/17.0")))
    parser.add_argument("--dump", type=Path, default=DEFAULT_DUMP)
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("--kills", action="store_true", help="also kill deploys at each phase")
    parser.add_argument("--kill-wait", type=float, default=90.0)
    parser.add_argument("--measure", dest="version", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.dump.is_file():
        sys.exit(f"{args.dump} is missing (the shared odoo17-prodlike fixture).")
    if not (args.odoo_src / "odoo-bin").is_file():
        sys.exit(f"No Odoo source at {args.odoo_src}: pass --odoo-src.")
    if args.version:
        measure(args)
        return
    work = Path(tempfile.mkdtemp(prefix="odooplane-baseline-"))
    try:
        archive = subprocess.run(
            ["git", "archive", args.baseline, "src"], cwd=REPO, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(work)], input=archive.stdout, check=True)
        before = _child("baseline", work / "src", args)
        after = _child("current", REPO / "src", args)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"requests to production every {POLL_SECONDS * 1000:.0f} ms during a deploy "
          f"(baseline {args.baseline} | current)")
    print(f"{'':28} {'ok':>6} {'503mt':>6} {'failed':>6} {'gap s':>7}   "
          f"{'ok':>6} {'503mt':>6} {'failed':>6} {'gap s':>7}")
    print(f"{'snapshot of production (s)':28} {before['snapshot_window_s']:>27}   "
          f"{after['snapshot_window_s']:>27}")
    for key in ("code_only", "module_update"):
        b, a = before[key], after[key]
        assert isinstance(b, dict) and isinstance(a, dict)
        _row(key.replace("_", "-") + " deploy", b, a)
        print(f"{'  seconds (command)':28} {b['seconds']:>27}   {a['seconds']:>27}")
    if args.kills:
        print()
        print("production unavailable after a SIGKILL of the deploy at each phase "
              f"(seconds until /web/login answers 200; '-' = not back within "
              f"{args.kill_wait:g} s, a person must run a command)")
        for label, data in (("baseline", before), ("current", after)):
            for row in data.get("kills", []):  # type: ignore[union-attr]
                back = row.get("unavailable_s")
                print(
                    f"  {label:9} {row['deploy']:7} {row['phase']:13} "
                    f"{'-' if back is None else f'{back:.2f}':>8}  "
                    f"maintenance answers {row.get('maintenance', 0):>4}  "
                    f"failed {row.get('failed', 0):>4}"
                )


if __name__ == "__main__":
    main()
