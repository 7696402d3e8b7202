"""Save-to-served latency of a Python edit: stock ``odoo-bin --dev=all`` vs ``odooplane dev``.

Both run in one go, on copies of the same database, with the same probe: a controller
returning a constant, polled every 50 ms. Each edit changes the constant; the latency is
the time from the save to the first answer carrying the new constant, and every refused
connection or non-200 answer in between counts as a failed request.

    /work/venv/bin/python benchmarks/dev_reload.py [--edits 5] [--odoo-src /opt/odoo-src/19.0]

The series is read from the source tree (``--dev=all`` means access, qweb, reload, xml
on 19.0; reload, qweb, xml before).

Stock Odoo needs ``inotify`` (or watchdog < 7) to notice edits; the runtime does not ship
it, so it is installed once into a side folder put on the stock server's PYTHONPATH.
Cold start: the steps of ``prepare_dev`` (PostgreSQL, runtime, database) and the first
generation are timed; pass ``--cold-cache`` to build the runtime into an empty cache.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from odooplane.dev.session import DevSession, prepare_dev
from odooplane.odoo.process import http_get, odoo_options, write_conf
from odooplane.odoo.series import for_series
from odooplane.odoo.source import read_series
from odooplane.ports import free_port
from odooplane.postgres.databases import clone_database, drop_database
from odooplane.project import load_project

CONTROLLER = """from odoo import http


class Probe(http.Controller):
    @http.route("/dev_probe/value", type="http", auth="none")
    def value(self):
        return "{value}"
"""


def write_project(root: Path, odoo_src: Path, series: str) -> None:
    addon = root / "addons" / "dev_probe"
    (addon / "controllers").mkdir(parents=True)
    (addon / "__init__.py").write_text("from . import controllers\n")
    (addon / "controllers" / "__init__.py").write_text("from . import main\n")
    (addon / "controllers" / "main.py").write_text(CONTROLLER.replace("{value}", "v0"))
    (addon / "__manifest__.py").write_text(
        f"{{'name': 'dev_probe', 'version': '{series}.1.0.0', 'depends': ['web'], "
        "'license': 'LGPL-3', 'installable': True}\n"
    )
    (root / "odooplane.yaml").write_text(
        "project: bench\n"
        "odoo:\n"
        f"  series: '{series}'\n"
        f"  source: '{odoo_src}'\n"
        "  addons_paths: ['addons']\n"
        "environments:\n"
        "  dev:\n"
        "    kind: development\n"
        "    database: bench_dev\n"
        "    modules: [dev_probe]\n"
    )


class Poller(threading.Thread):
    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.last: bytes | None = None
        self.last_at = 0.0
        self.failures = 0

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                status, body = http_get(self.url, timeout=30)
                if status == 200:
                    self.last, self.last_at = body, time.monotonic()
                else:
                    self.failures += 1
            except (urllib.error.URLError, OSError):
                self.failures += 1
            time.sleep(0.05)


def measure(url: str, main_py: Path, edits: int, label: str) -> tuple[list[float], int]:
    poller = Poller(url)
    poller.start()
    latencies: list[float] = []
    deadline = time.monotonic() + 120
    while poller.last is None and time.monotonic() < deadline:
        time.sleep(0.05)
    failures_before = poller.failures
    for index in range(edits):
        value = f"{label}-{index}-{uuid.uuid4().hex[:6]}"
        time.sleep(1.0)  # let the previous reload settle, as a developer would
        saved = time.monotonic()
        main_py.write_text(CONTROLLER.replace("{value}", value))
        while poller.last != value.encode():
            if time.monotonic() - saved > 60:
                raise SystemExit(f"{label}: edit {index} was not served within 60 s")
            time.sleep(0.005)
        latencies.append(poller.last_at - saved)
        print(f"  {label} edit {index + 1}: {latencies[-1]:.3f} s", flush=True)
    poller.stop.set()
    poller.join(40)
    return latencies, poller.failures - failures_before


def inotify_dir(runtime_python: Path, cache: Path) -> Path:
    target = cache / "bench-inotify"
    if not (target / "inotify").is_dir():
        uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
        subprocess.run(
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--python",
                str(runtime_python),
                "--target",
                str(target),
                "inotify==0.2.10",
            ],
            check=True,
        )
    return target


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--edits", type=int, default=5)
    parser.add_argument(
        "--odoo-src", default=os.environ.get("ODOOPLANE_TEST_ODOO_SRC", "/opt/odoo-src/17.0")
    )
    parser.add_argument("--series", help="default: read from the source's odoo/release.py")
    parser.add_argument(
        "--cold-cache", action="store_true", help="build the runtime into an empty cache"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    parser.add_argument(
        "--socket-only",
        action="store_true",
        help="only compare SO_REUSEPORT with the inherited socket (no Odoo)",
    )
    args = parser.parse_args()
    socket_experiment()
    if args.socket_only:
        return

    work = Path(tempfile.mkdtemp(prefix="odooplane-bench-dev-"))
    os.chmod(work, 0o711)  # the embedded PostgreSQL runs as another user when we are root
    if args.cold_cache:
        os.environ["ODOOPLANE_CACHE_DIR"] = str(work / "cache")
    os.environ.setdefault("ODOOPLANE_CACHE_DIR", "/tmp/odooplane-test-cache")
    root = work / "project"
    root.mkdir()
    series = args.series or read_series(Path(args.odoo_src) / "odoo" / "release.py")
    print(f"Odoo {series} at {args.odoo_src}", flush=True)
    write_project(root, Path(args.odoo_src), series)
    project = load_project(root)
    cold_started = time.monotonic()
    context = prepare_dev(project, mail=False)
    steps = {step.name: step.seconds for step in context.steps}
    server = context.server
    copy = "bench_stock"
    clone_database(server, context.database, copy)
    main_py = root / "addons" / "dev_probe" / "controllers" / "main.py"
    try:
        # -- odooplane dev ------------------------------------------------------------
        print("odooplane dev:", flush=True)
        session = DevSession(context, port=None, livereload=True)
        first = session.start()
        steps["first generation"] = round(first.seconds, 2)
        cold_total = time.monotonic() - cold_started
        runner = threading.Thread(target=session.run, daemon=True)
        runner.start()
        try:
            ours, our_failures = measure(
                session.url + "/dev_probe/value", main_py, args.edits, "odooplane"
            )
        finally:
            session.stop()
        main_py.write_text(CONTROLLER.replace("{value}", "v0"))

        # -- stock odoo-bin --dev=all --------------------------------------------------
        print("stock odoo-bin --dev=all:", flush=True)
        extra_path = inotify_dir(context.runtime.python, Path(os.environ["ODOOPLANE_CACHE_DIR"]))
        env = context.runtime.env()
        env["PYTHONPATH"] = str(extra_path)
        popen_log = work / "stock.log"
        conf = work / "stock.conf"
        port = free_port()
        write_conf(
            conf,
            context.source,
            odoo_options(project, context.source, server, database=copy, http_port=port),
        )
        argv = for_series(context.source.series).server_argv(
            context.runtime, context.source, conf, dev=["all"]
        )
        with popen_log.open("ab") as log:
            stock = subprocess.Popen(
                argv,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=root,
                start_new_session=True,
            )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 180
            while True:
                try:
                    if http_get(url + "/dev_probe/value", timeout=30)[0] == 200:
                        break
                except (urllib.error.URLError, OSError):
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"stock Odoo did not start; see {popen_log}")
                time.sleep(0.2)
            stock_lat, stock_failures = measure(
                url + "/dev_probe/value", main_py, args.edits, "stock"
            )
        finally:
            os.killpg(stock.pid, 15)
            stock.wait(30)
    finally:
        drop_database(server, copy, force=True, missing_ok=True)
        if not args.keep:
            from odooplane.postgres.cluster import EmbeddedCluster

            EmbeddedCluster(project.state_dir).destroy()
            shutil.rmtree(work, ignore_errors=True)

    def row(name: str, values: list[float], failures: int) -> str:
        return (
            f"{name:<26} {min(values):>7.3f} {statistics.median(values):>8.3f} "
            f"{max(values):>7.3f} {failures:>8}"
        )

    print()
    print(
        f"Odoo {series}: Python edit, save to served ({args.edits} edits each, probe polled "
        "every 50 ms)"
    )
    print(f"{'':<26} {'min s':>7} {'median s':>8} {'max s':>7} {'failed':>8}")
    print(row("stock odoo-bin --dev=all", stock_lat, stock_failures))
    print(row("odooplane dev", ours, our_failures))
    ratio = statistics.median(stock_lat) / statistics.median(ours)
    print(f"ratio (stock median / odooplane median): {ratio:.1f}x")
    print()
    print(
        "Start: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items())
        + f"; total to first page {cold_total:.1f} s"
        + (" (empty cache)" if args.cold_cache else " (runtime cache warm)")
    )


# -- the socket switch, isolated from Odoo ----------------------------------------------


def _serve(sock: socket.socket, label: bytes, quiet_on_usr2: bool) -> None:
    """A child serving one-line answers until SIGTERM (runs after fork, never returns)."""
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    if quiet_on_usr2:
        quiet, _other = socket.socketpair()
        signal.signal(signal.SIGUSR2, lambda *_: os.dup2(quiet.fileno(), sock.fileno()))
    sock.settimeout(0.05)
    while not stopping.is_set():
        try:
            conn, _ = sock.accept()
        except OSError:
            continue
        with conn:
            conn.recv(64)
            time.sleep(0.002)  # some work, so connections queue up
            conn.sendall(label)
    os._exit(0)


def _fork_server(sock: socket.socket, label: bytes, quiet: bool) -> int:
    pid = os.fork()
    if pid == 0:
        _serve(sock, label, quiet)
    return pid


def _hammer(port: int, seconds: float, threads: int = 16) -> tuple[int, int]:
    ok = failed = 0
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def run() -> None:
        nonlocal ok, failed
        while time.monotonic() < end:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                    conn.sendall(b"x")
                    good = bool(conn.recv(64))
            except OSError:
                good = False
            with lock:
                ok, failed = (ok + 1, failed) if good else (ok, failed + 1)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return ok, failed


def socket_experiment(switches: int = 10) -> None:
    """SO_REUSEPORT between old and new server vs one inherited socket, under load."""
    results = {}
    for variant in ("SO_REUSEPORT, old server closes", "one inherited socket (odooplane)"):
        reuse = variant.startswith("SO_REUSEPORT")
        port = free_port()

        def listener(port: int = port, reuse: bool = reuse) -> socket.socket:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen(128)
            return sock

        shared = listener()
        current = _fork_server(shared, b"0", not reuse)
        if reuse:
            shared.close()
        box: list[tuple[int, int]] = []
        load = threading.Thread(
            target=lambda box=box, port=port: box.append(_hammer(port, switches * 0.3 + 0.5))
        )
        load.start()
        for index in range(switches):
            time.sleep(0.3)
            sock = listener() if reuse else shared
            new = _fork_server(sock, str(index + 1).encode(), not reuse)
            if reuse:
                sock.close()
            else:
                os.kill(current, signal.SIGUSR2)
            os.kill(current, signal.SIGTERM)
            os.waitpid(current, 0)
            current = new
        load.join()
        os.kill(current, signal.SIGTERM)
        os.waitpid(current, 0)
        if not reuse:
            shared.close()
        results[variant] = box[0]
    print(f"Socket switch under load ({switches} switches, 16 clients):")
    for variant, (ok, failed) in results.items():
        print(f"  {variant:<34} {ok:>6} answered {failed:>5} failed")


if __name__ == "__main__":
    main()
