"""How long does neutralization take: odooplane (over SQL) against ``odoo-bin neutralize``.

Restores ../shared/fixtures/odoo17-prodlike.sql.gz (a real Odoo 17 database) into a fresh
embedded cluster with default (durable) settings; for a source of another series
(``--odoo-source /opt/odoo-src/19.0``) it makes the same production-like database with
that series instead (``tests/prodlike.py``: the modules installed, then made
production-like through Odoo's ORM; not timed). Then, on a fresh TEMPLATE clone each
time, it times:

- ``odooplane neutralize``: Odoo's own neutralize.sql files + odooplane's rules + the
  read-only verification, one call of the library;
- ``odooplane neutralize --check`` alone (verification of a neutralized copy);
- a second ``neutralize`` on the neutralized copy (idempotent: must change nothing);
- ``odoo-bin neutralize`` with the project's Odoo runtime (when the source is present),
  and what odooplane's verification still finds on its result.

Medians of ``--repeat`` runs are printed side by side with ratios.

    python benchmarks/neutralize.py
    python benchmarks/neutralize.py --repeat 9 --odoo-source /opt/odoo-src/17.0
    python benchmarks/neutralize.py --odoo-source /opt/odoo-src/19.0
    python benchmarks/neutralize.py --url postgresql://u:p@host/postgres   # another server

Building the Odoo runtime the first time takes a minute (it lands in the odooplane cache,
``$ODOOPLANE_CACHE_DIR``, and is reused afterwards).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from odooplane.config import OdooConfig, ProjectConfig
from odooplane.neutralize import (
    NeutralizationFailed,
    NeutralizeSettings,
    neutralize_with,
    verify_database_with,
)
from odooplane.postgres.cluster import EmbeddedCluster
from odooplane.postgres.databases import clone_database, drop_database, import_database
from odooplane.postgres.server import DatabaseServer
from odooplane.project import Project

ROOT = Path(__file__).resolve().parents[1]
DUMP_SERIES = "17.0"
SHARED = Path(os.environ.get("ODOOPLANE_SHARED_DIR", str(ROOT.parent / "shared")))
DEFAULT_DUMP = SHARED / "fixtures" / "odoo17-prodlike.sql.gz"
DEFAULT_SOURCE = Path(os.environ.get("ODOOPLANE_TEST_ODOO_SRC", "/opt/odoo-src/17.0"))
TEMPLATE = "bench_neutralize_prodlike"
COPY = "bench_neutralize_copy"


def settings_for(source: Path | None) -> NeutralizeSettings:
    return NeutralizeSettings(
        catcher_host="127.0.0.1",
        catcher_port=2525,
        base_url="https://staging.acme.example",
        environment="staging",
        odoo_source=source,
    )


def fresh_copy(server: DatabaseServer) -> None:
    drop_database(server, COPY, missing_ok=True, terminate=True)
    clone_database(server, TEMPLATE, COPY)


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


class OdooBin:
    """``odoo-bin neutralize -d COPY`` with the runtime odooplane builds for the source."""

    def __init__(self, server: DatabaseServer, source: Path, workdir: Path) -> None:
        from odooplane.odoo.process import odoo_options, write_conf
        from odooplane.odoo.runtime import ensure_runtime
        from odooplane.odoo.series import for_series
        from odooplane.odoo.source import inspect_source

        self.source = inspect_source(source)
        project = Project(
            root=workdir,
            config=ProjectConfig(
                project="bench",
                odoo=OdooConfig(series=self.source.series, source=str(source)),
            ),
        )
        started = time.perf_counter()
        self.runtime = ensure_runtime(project, self.source)
        print(f"Odoo runtime ready in {time.perf_counter() - started:.1f} s ({self.runtime.path})")
        options = odoo_options(project, self.source, server, database=COPY)
        self.conf = write_conf(workdir / "neutralize.conf", self.source, options)
        self.argv = for_series(self.source.series).neutralize_argv(
            self.runtime, self.source, self.conf, database=COPY
        )

    def run(self) -> None:
        done = subprocess.run(
            self.argv, env=self.runtime.env(), capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise SystemExit(f"odoo-bin neutralize failed:\n{done.stdout[-2000:]}")


def make_template(server: DatabaseServer, dump: Path, source: Path | None) -> None:
    """The production-like database: the shared dump, or one built for the source's
    series when that is not the dump's."""
    from odooplane.odoo.source import inspect_source

    drop_database(server, TEMPLATE, missing_ok=True, terminate=True)
    started = time.perf_counter()
    tree = inspect_source(source) if source is not None else None
    if tree is None or tree.series == DUMP_SERIES:
        import_database(server, dump, TEMPLATE)
        print(f"restored {dump.name} in {time.perf_counter() - started:.1f} s")
        return
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    from odooplane.odoo.runtime import ensure_runtime
    from prodlike import build_prodlike

    workdir = Path(tempfile.mkdtemp(prefix="odooplane-bench-prodlike-"))
    try:
        project = Project(
            root=workdir,
            config=ProjectConfig(
                project="bench", odoo=OdooConfig(series=tree.series, source=str(tree.path))
            ),
        )
        runtime = ensure_runtime(project, tree)
        build_prodlike(server, tree, runtime, TEMPLATE, workdir / "prodlike")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"built a production-like Odoo {tree.series} database in "
        f"{time.perf_counter() - started:.1f} s (not timed below)"
    )


def run(server: DatabaseServer, dump: Path, source: Path | None, repeat: int) -> None:
    make_template(server, dump, source)
    version = server.server_version()
    print(f"PostgreSQL {version // 10000}.{version % 10000}, {repeat} runs each, median shown")
    settings = settings_for(source)
    times: dict[str, list[float]] = {
        "neutralize": [],
        "check": [],
        "second": [],
        "odoo-bin": [],
    }
    changed: list[int] = []
    for _ in range(repeat):
        fresh_copy(server)
        started = time.perf_counter()
        changed.append(neutralize_with(server, COPY, settings).changed)
        times["neutralize"].append(time.perf_counter() - started)
        times["check"].append(timed(lambda: verify_database_with(server, COPY, settings)))
        started = time.perf_counter()
        again = neutralize_with(server, COPY, settings).changed
        times["second"].append(time.perf_counter() - started)
        if again:
            raise SystemExit(f"the second run changed {again} rows; it must change none")

    odoo_bin: OdooBin | None = None
    leaks: list[str] = []
    dummies = 0
    if source is not None:
        workdir = Path(tempfile.mkdtemp(prefix="odooplane-bench-project-"))
        try:
            odoo_bin = OdooBin(server, source, workdir)
            for _ in range(repeat):
                fresh_copy(server)
                times["odoo-bin"].append(timed(odoo_bin.run))
            report = verify_database_with(server, COPY, settings)
            leaks = [check.id for check in report.failures]
            odoo_bin.run()  # a second time, as a refresh script would
            with server.connect(COPY) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM ir_mail_server "
                    "WHERE name = 'neutralization - disable emails'"
                ).fetchone()
                dummies = int(row[0]) if row else 0
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    median = {k: statistics.median(v) for k, v in times.items() if v}
    print()
    print(f"{'operation':<50} {'median':>9} {'min':>8} {'max':>8}")
    print("-" * 78)
    labels = {
        "neutralize": "odooplane neutralize (Odoo SQL + rules + verify)",
        "check": "odooplane neutralize --check (read-only)",
        "second": "odooplane neutralize, second run (no change)",
        "odoo-bin": "odoo-bin neutralize",
    }
    for key, label in labels.items():
        if times[key]:
            low, high = min(times[key]), max(times[key])
            print(f"{label:<50} {median[key]:>8.3f}s {low:>7.3f}s {high:>7.3f}s")
    print()
    print(f"rows changed by the first odooplane run: {statistics.median(changed):.0f}")
    if "odoo-bin" in median:
        both = median["neutralize"]
        print(f"odoo-bin / odooplane (neutralize incl. verify): {median['odoo-bin'] / both:.1f}x")
        print(
            "odoo-bin / odooplane (neutralize + a separate --check): "
            f"{median['odoo-bin'] / (both + median['check']):.1f}x"
        )
        print(
            f"after odoo-bin neutralize, odooplane's check still fails {len(leaks)} checks: "
            f"{', '.join(leaks)}"
        )
        print(f"after running odoo-bin neutralize twice: {dummies} dummy mail servers")
    else:
        print("odoo-bin neutralize: skipped (no Odoo source; pass --odoo-source)")
    drop_database(server, COPY, missing_ok=True, terminate=True)
    drop_database(server, TEMPLATE, terminate=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--dump", type=Path, default=DEFAULT_DUMP, help="the Odoo dump to restore")
    parser.add_argument(
        "--odoo-source",
        type=Path,
        default=DEFAULT_SOURCE,
        help="Odoo source tree (its neutralize.sql files and odoo-bin)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (median)")
    parser.add_argument("--url", help="benchmark this server instead of a fresh embedded one")
    args = parser.parse_args()
    if not args.dump.is_file():
        raise SystemExit(f"{args.dump} is missing; set ODOOPLANE_SHARED_DIR or pass --dump.")
    source = args.odoo_source if (args.odoo_source / "odoo" / "addons" / "base").is_dir() else None
    if source is None:
        print(f"no Odoo source at {args.odoo_source}: odooplane's rules only, no odoo-bin")
    try:
        if args.url:
            run(DatabaseServer.from_url(args.url), args.dump, source, args.repeat)
            return
        base = Path(tempfile.mkdtemp(prefix="odooplane-bench-"))
        os.chmod(base, 0o711)
        cluster = EmbeddedCluster(base / "state")
        try:
            status = cluster.start()
            print(f"embedded cluster in {status.data_dir} (durable default settings)")
            run(cluster.server(), args.dump, source, args.repeat)
        finally:
            cluster.destroy()
            shutil.rmtree(base, ignore_errors=True)
    except NeutralizationFailed as exc:
        raise SystemExit(f"neutralization did not verify: {exc}") from None


if __name__ == "__main__":
    main()
