"""A pull request's preview, from the command to the first 200 through the proxy.

Reference database: production restored from the shared fixture ``odoo17-prodlike.sql.gz``
(a real Odoo 17 database, 31 modules; one filestore file per attachment row), staging a
neutralized copy of it. Side by side, in one run, each timed from the command's start to
the first 200 of ``/web/login`` through the project's Caddy:

- **stock**: what one does without odooplane: ``pg_dump`` staging, restore it into a new
  database, copy the filestore, ``odoo-bin neutralize``, start ``odoo-bin``;
- **odooplane**: ``odooplane preview up`` (the real command, interpreter start-up
  included), the first one (which makes the neutralized base), one right after it
  (no spare copy of the base ready: it clones the base), and the next ones, each once
  the spare copy made in the background after the previous one is ready (pull
  requests come minutes apart);
- **wake**: a request to a preview stopped for idleness, until it serves.

Then the memory of a running preview (the RSS of its Odoo process tree) and what this
machine holds running and stopped.

    python benchmarks/preview.py [--runs 3] [--odoo-src /opt/odoo-src/17.0]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import filelock
import psutil

from odooplane.config import load_config
from odooplane.environments import api as envs
from odooplane.environments import spares
from odooplane.environments.builds import require_build, runtime_of, source_of
from odooplane.environments.context import EnvContext
from odooplane.environments.state import StateStore
from odooplane.mailcatcher import stop_catcher
from odooplane.odoo.series import for_series
from odooplane.ports import free_port
from odooplane.postgres import databases as dbs
from odooplane.postgres.cluster import EmbeddedCluster
from odooplane.postgres.project_server import server_for
from odooplane.previews import api as previews
from odooplane.previews.records import BASE_NAME
from odooplane.project import Project
from odooplane.routing import Upstream, router_for

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from env_create import DEFAULT_DUMP, fill_filestore, git  # noqa: E402


def make_project(root: Path, odoo_src: Path) -> Project:
    root.mkdir(parents=True)
    (root / "odooplane.yaml").write_text(
        "project: bench\n"
        "odoo:\n"
        "  series: '17.0'\n"
        f"  source: '{odoo_src}'\n"
        "environments:\n"
        "  production:\n"
        "    kind: production\n"
        "  staging:\n"
        "    kind: staging\n"
        "    data: {copy: production}\n"
        "previews:\n"
        "  enabled: true\n"
        "  domain: localhost\n"
        "  max_running: 50\n"
        "routing:\n"
        "  listen: 127.0.0.1\n"
        f"  http_port: {free_port()}\n"
        f"  https_port: {free_port()}\n"
        "  tls: 'off'\n"
    )
    (root / ".gitignore").write_text(".odooplane/\nweb/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "bench project")
    return Project(root=root, config=load_config(root / "odooplane.yaml"))


def stock_path(project: Project, work: Path, index: int) -> tuple[float, dict[str, float]]:
    """dump + restore + filestore copy + odoo-bin neutralize + odoo-bin, timed."""
    server = server_for(project)
    staging_db = project.config.database_name("staging")
    target = f"bench_stock_{index}"
    parts: dict[str, float] = {}
    router = router_for(project)
    http, gevent = free_port(), free_port()
    router.route(
        f"stock-{index}",
        listen_port=None,
        hostnames=[f"stock-{index}.localhost"],
        upstream=Upstream(http),
    )
    host = f"stock-{index}.localhost"
    url = f"http://127.0.0.1:{project.config.routing.http_port}/web/login"
    conf_src = (StateStore(project.state_dir).env_dir("staging") / "odoo.conf").read_text()
    conf_text = re.sub(r"(?m)^db_name = .*$", f"db_name = {target}", conf_src)
    conf_text = re.sub(r"(?m)^dbfilter = .*$", f"dbfilter = ^{target}$", conf_text)
    conf_text = re.sub(r"(?m)^http_port = .*$", f"http_port = {http}", conf_text)
    conf_text = re.sub(r"(?m)^gevent_port = .*$", f"gevent_port = {gevent}", conf_text)
    # Without odooplane there is no role per environment: the restored database is the
    # server's login's, and Odoo connects with that login.
    for key, value in server.odoo_options().items():
        conf_text = re.sub(rf"(?m)^{key} = .*$", f"{key} = {value}", conf_text)
    conf = work / f"stock-{index}.conf"
    conf.write_text(conf_text)
    state = StateStore(project.state_dir).load("staging")
    assert state is not None and state.build
    b = require_build(project, state.build)
    profile = for_series(b.odoo_series)
    runtime, source = runtime_of(b), source_of(b)
    started = time.monotonic()
    dump = work / f"stock-{index}.zip"
    t = time.monotonic()
    dbs.export_database(
        server, staging_db, dump, filestore_root=project.odoo_data_dir / "filestore"
    )
    dbs.import_database(server, dump, target, filestore_root=project.odoo_data_dir / "filestore")
    parts["dump + restore (with filestore)"] = time.monotonic() - t
    t = time.monotonic()
    subprocess.run(
        profile.neutralize_argv(runtime, source, conf, database=target),
        check=True,
        capture_output=True,
        env=runtime.env(base=dict(os.environ)),
    )
    parts["odoo-bin neutralize"] = time.monotonic() - t
    t = time.monotonic()
    odoo = subprocess.Popen(
        profile.server_argv(runtime, source, conf),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=runtime.env(base=dict(os.environ)),
    )
    try:
        request = urllib.request.Request(url, headers={"Host": host})
        total = first_200_request(request, started)
        parts["start to 200 through the proxy"] = time.monotonic() - t
    finally:
        odoo.terminate()
        odoo.wait(60)
        router.remove(f"stock-{index}")
        dbs.drop_database(
            server,
            target,
            filestore_root=project.odoo_data_dir / "filestore",
            terminate=True,
            missing_ok=True,
        )
        dump.unlink(missing_ok=True)
    return total, parts


def first_200_request(
    request: urllib.request.Request, started: float, timeout: float = 300
) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                if response.status == 200:
                    response.read()
                    return time.monotonic() - started
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    raise SystemExit(f"{request.full_url} never answered 200")


def preview_up(
    project: Project, pr: int, profile: Path | None = None
) -> tuple[float, dict[str, object]]:
    """``odooplane preview up`` as CI runs it, to the first 200 through the proxy. The
    info gets ``_command`` (until the command exited) beside its own ``seconds`` (the
    library's part, without the interpreter's start and the imports)."""
    started = time.monotonic()
    python = [sys.executable] + (["-m", "cProfile", "-o", str(profile)] if profile else [])
    result = subprocess.run(
        [
            *python,
            "-m",
            "odooplane",
            "-C",
            str(project.root),
            "preview",
            "up",
            "--pr",
            str(pr),
            "--branch",
            f"bench-{pr}",
            "--ref",
            "main",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    command = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"preview up failed:\n{result.stderr}")
    info = json.loads(result.stdout)
    info["_command"] = command
    host = f"{info['environment']}.localhost"
    request = urllib.request.Request(
        f"http://127.0.0.1:{project.config.routing.http_port}/web/login", headers={"Host": host}
    )
    return first_200_request(request, started), info


def wait_for_spare(project: Project, timeout: float = 120) -> None:
    """Until the base's spare copy, made in the background after the last preview, is
    ready (its record written, the maker's lock free)."""
    record = project.state_dir / "spares" / f"{BASE_NAME}.json"
    lock = filelock.FileLock(str(project.state_dir / "spares" / f"{BASE_NAME}.lock"))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if record.exists():
            with lock.acquire(timeout=timeout):
                return
        time.sleep(0.1)
    raise SystemExit(f"the preview base's spare was not made: see {record.with_suffix('.log')}")


def breakdown(
    total: float, info: dict[str, object], steps: list[dict[str, object]]
) -> dict[str, float]:
    """Where the time of one ``preview up`` went, from the command to the first 200."""
    command = float(info["_command"])  # type: ignore[arg-type]
    library = float(info.get("seconds") or 0.0)  # type: ignore[arg-type]
    named = {str(s["name"]): float(s["seconds"]) for s in steps}  # type: ignore[arg-type]
    parts = {
        "interpreter start, imports, CLI": command - library,
        **named,
        "rest of the library (build check, evidence, route...)": library - sum(named.values()),
        "after the command, to the first 200": total - command,
    }
    return parts


def print_profile(path: Path, top: int = 30) -> None:
    import pstats

    stats = pstats.Stats(str(path))
    stats.sort_stats("cumulative").print_stats(top)


def environment_memory(project: Project, name: str) -> tuple[int, int]:
    """RSS and PSS of environment ``name``'s processes: what its program runs (a cold
    Odoo, or the stand-in of a forked one) and the Odoo answering on its port. PSS
    counts the memory a forked Odoo shares with its warm parent once for all of them."""
    from odooplane.environments import slots
    from odooplane.environments.context import EnvContext

    procs: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if proc.environ().get("ODOOPLANE_ENVIRONMENT") == name:
                procs[proc.pid] = proc
    ctx = EnvContext(project, name)
    state = ctx.store.load(name)
    slot = slots.serving(ctx, state) if state else None
    if slot is not None:
        for conn in psutil.net_connections("tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr.port == slot.http and conn.pid:
                procs.setdefault(conn.pid, psutil.Process(conn.pid))
    rss = pss = 0
    for proc in procs.values():
        with contextlib.suppress(psutil.Error):
            info = proc.memory_full_info()
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
    return rss, pss


def zygote_memory() -> tuple[int, int]:
    """RSS and PSS of the warm Odoo parents (odooplane.odoo.zygote serve), without the
    children they forked (which keep their command line)."""

    def is_zygote(proc: psutil.Process) -> bool:
        cmdline = proc.cmdline()
        return len(cmdline) > 2 and cmdline[1].endswith("zygote.py") and cmdline[2] == "serve"

    rss = pss = 0
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            parent = proc.parent()
            if is_zygote(proc) and not (parent is not None and is_zygote(parent)):
                info = proc.memory_full_info()
                rss += info.rss
                pss += getattr(info, "pss", info.rss)
    return rss, pss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--odoo-src",
        type=Path,
        default=Path(os.environ.get("ODOOPLANE_TEST_ODOO_SRC", "/opt/odoo-src/17.0")),
    )
    parser.add_argument("--dump", type=Path, default=DEFAULT_DUMP)
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="Also run one preview up under cProfile, save its profile there and print "
        "where its time goes.",
    )
    args = parser.parse_args()
    # As installed (pip compiles the bytecode of what it installs): without it, and with
    # PYTHONDONTWRITEBYTECODE set, every command would compile its imports anew
    # (odooplane's modules, and SQLAlchemy's alone for about 0.45 s).
    import compileall
    import sysconfig

    import odooplane

    compileall.compile_dir(Path(odooplane.__file__).parent, quiet=1)
    compileall.compile_dir(sysconfig.get_paths()["purelib"], quiet=1, workers=2)
    if not args.dump.is_file():
        sys.exit(f"{args.dump} is missing (the shared odoo17-prodlike fixture).")
    base = Path(tempfile.mkdtemp(prefix="odooplane-bench-"))
    os.chmod(base, 0o711)
    work = base / "work"
    work.mkdir()
    project = make_project(base / "project", args.odoo_src)
    try:
        t0 = time.monotonic()
        envs.create(project, "production", import_path=args.dump, start=False)
        files, size = fill_filestore(project)
        envs.create(project, "staging", start=False)
        print(
            f"production restored and staging copied in {time.monotonic() - t0:.1f} s "
            f"(filestore: {files} files, {size / 1e6:.1f} MB)"
        )

        stock: list[float] = []
        stock_parts: list[dict[str, float]] = []
        for index in range(args.runs):
            total, parts = stock_path(project, work, index)
            stock.append(total)
            stock_parts.append(parts)
            print(
                f"stock run {index + 1}: {total:.2f} s  "
                + "  ".join(f"{k}={v:.2f}s" for k, v in parts.items())
            )

        first, info = preview_up(project, 1)
        steps = info.get("details", {}).get("steps", [])  # type: ignore[union-attr]
        print(f"first preview (makes the base too): {first:.2f} s")
        # Without a spare: the base cloned by the command (a preview right after another).
        wait_for_spare(project)
        base_ctx = EnvContext(project, BASE_NAME)
        spares.discard(
            project, BASE_NAME, base_ctx.database, base_ctx.filestore_root, server_for(project)
        )
        no_spare, info = preview_up(project, 100)
        print(
            f"preview up without a spare (clones the base): {no_spare:.2f} s  "
            + "  ".join(f"{s['name']}={s['seconds']:.2f}s" for s in info["details"]["steps"])  # type: ignore[index]
        )
        ups: list[float] = []
        shares: list[dict[str, float]] = []
        for index in range(args.runs):
            # Pull requests come minutes apart: the spare made after the last one is ready.
            wait_for_spare(project)
            total, info = preview_up(project, 2 + index)
            ups.append(total)
            steps = info.get("details", {}).get("steps", [])  # type: ignore[union-attr]
            print(
                f"preview up run {index + 1}: {total:.2f} s  "
                + "  ".join(f"{s['name']}={s['seconds']:.2f}s" for s in steps)
            )
            shares.append(breakdown(total, info, steps))  # type: ignore[arg-type]
        if args.profile:
            total, info = preview_up(project, 2 + args.runs, profile=args.profile)
            print(f"preview up under cProfile: {total:.2f} s; profile in {args.profile}")
            print_profile(args.profile)

        # Memory of running previews, then wake each after an idle stop.
        infos = previews.list_previews(project)
        memory = [environment_memory(project, i.environment) for i in infos]
        memory = [m for m in memory if m[0]]
        later = datetime.now(timezone.utc) + timedelta(hours=1)
        previews.gc(project, now=later)
        wakes: list[float] = []
        for i in infos[: args.runs]:
            started = time.monotonic()
            request = urllib.request.Request(
                f"http://127.0.0.1:{project.config.routing.http_port}/web/login",
                headers={"Host": f"{i.environment}.localhost"},
            )
            wakes.append(first_200_request(request, started))
            print(f"wake {i.environment}: {wakes[-1]:.2f} s")

        server = server_for(project)
        db_sizes = [
            dbs.database_size(server, project.config.database_name(i.environment)) or 0
            for i in infos
        ]
        print()
        med_stock, med_up, med_wake = (statistics.median(x) for x in (stock, ups, wakes))
        print(f"{'path':44} {'median s':>9} {'min s':>7}")
        print(f"{'stock: dump+restore, neutralize, start':44} {med_stock:9.2f} {min(stock):7.2f}")
        print(f"{'odooplane preview up (base reused)':44} {med_up:9.2f} {min(ups):7.2f}")
        print(f"{'odooplane preview up (no spare: clones)':44} {no_spare:9.2f}")
        print(f"{'odooplane preview up (first: makes the base)':44} {first:9.2f}")
        print(f"{'wake of a stopped preview':44} {med_wake:9.2f} {min(wakes):7.2f}")
        print(f"speed-up preview up vs stock: {med_stock / med_up:.1f}x")
        for key in stock_parts[0]:
            print(f"  stock part {key}: {statistics.median(p[key] for p in stock_parts):.2f} s")
        for key in shares[0]:
            print(f"  preview up part {key}: {statistics.median(p[key] for p in shares):.2f} s")
        if memory:
            per_rss = statistics.median(m[0] for m in memory)
            per = statistics.median(m[1] for m in memory)
            total_mem = psutil.virtual_memory().total
            print(
                f"memory per running preview (workers=0): {per / 2**20:.0f} MiB PSS "
                f"({per_rss / 2**20:.0f} MiB RSS, shared pages counted in full)"
            )
            z_rss, z_pss = zygote_memory()
            if z_rss:
                print(f"warm Odoo parent, once per Odoo: {z_pss / 2**20:.0f} MiB PSS")
            usable = total_mem * 0.8
            print(
                f"running previews this machine holds ({total_mem / 2**30:.0f} GiB, "
                f"80% usable): about {int((usable - z_pss) // per)}"
            )
        disk = shutil.disk_usage(project.root)
        per_db = statistics.median(db_sizes) if db_sizes else 0
        if per_db:
            print(
                f"disk per stopped preview (database; filestore hard-linked): "
                f"{per_db / 2**20:.0f} MiB; free disk {disk.free / 2**30:.0f} GiB holds "
                f"about {int(disk.free // per_db)} stopped previews"
            )
    finally:
        for i in previews.list_previews(project):
            previews.down(project, pr=i.pr, reason="benchmark done")
        for env in ("preview-base", "staging", "production"):
            try:
                envs.destroy(project, env, force=True)
            except Exception as exc:  # clean-up goes on
                print(f"clean-up of {env}: {exc}")
        router_for(project).stop()
        from odooplane.backends.supervisor import SupervisorBackend

        SupervisorBackend(project.state_dir).shutdown()
        stop_catcher(project.state_dir)
        EmbeddedCluster(project.state_dir).destroy()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
