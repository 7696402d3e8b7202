"""How fast is a database copy: CREATE DATABASE ... TEMPLATE (WAL_LOG, FILE_COPY) against
pg_dump | pg_restore.

Restores ../shared/fixtures/odoo17-prodlike.sql.gz (a real Odoo 17 database, 28 MB) into
a fresh embedded cluster with default (durable) settings, optionally grows copies of it
with a filler table to larger sizes, and times each way of copying several times,
printing medians and ratios. The FILE_COPY threshold in odooplane.postgres.databases
comes from these numbers.

    python benchmarks/db_clone.py                      # 28 MB, 256 MB and 1024 MB
    python benchmarks/db_clone.py --sizes 0 --repeat 7 # the fixture only
    python benchmarks/db_clone.py --url postgresql://u:p@host/postgres  # another server
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from psycopg import sql

from odooplane.postgres.cluster import EmbeddedCluster
from odooplane.postgres.databases import (
    clone_database,
    database_size,
    drop_database,
    import_database,
)
from odooplane.postgres.server import DatabaseServer

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DUMP = (
    Path(os.environ.get("ODOOPLANE_SHARED_DIR", str(ROOT.parent / "shared")))
    / "fixtures"
    / "odoo17-prodlike.sql.gz"
)


def checkpoint(server: DatabaseServer) -> None:
    # Every timing starts from a clean buffer pool, so FILE_COPY's two checkpoints cost
    # what they cost on an idle server, not what the previous run left dirty.
    with server.connect() as conn:
        conn.execute("CHECKPOINT")


def timed(
    server: DatabaseServer, action: Callable[[], object], cleanup: Callable[[], object]
) -> float:
    checkpoint(server)
    started = time.perf_counter()
    action()
    elapsed = time.perf_counter() - started
    cleanup()
    return elapsed


def dump_restore(server: DatabaseServer, source: str, target: str) -> None:
    with server.connect() as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(target))
        )
    dump = subprocess.Popen(
        [str(server.tool("pg_dump")), "--format=custom", "--no-owner", source],
        stdout=subprocess.PIPE,
        env=server.tool_env(source),
    )
    restore = subprocess.run(
        [str(server.tool("pg_restore")), "--no-owner", "--no-privileges", "--dbname", target],
        stdin=dump.stdout,
        env=server.tool_env(target),
        capture_output=True,
    )
    if dump.stdout is not None:
        dump.stdout.close()
    if dump.wait() != 0 or restore.returncode != 0:
        raise SystemExit(f"pg_dump | pg_restore failed: {restore.stderr.decode()[-500:]}")


def settle(server: DatabaseServer, name: str) -> None:
    """VACUUM ANALYZE a freshly loaded database, as a production database is in steady
    state. Otherwise autovacuum works through every table just after the load, and
    CREATE DATABASE has to wait for its workers to leave the source (seconds)."""
    with server.connect(name) as conn:
        conn.execute("VACUUM (ANALYZE)")


def grow(server: DatabaseServer, template: str, name: str, megabytes: int) -> None:
    """A copy of the Odoo database plus a filler table, about ``megabytes`` in all."""
    clone_database(server, template, name)
    current = (database_size(server, name) or 0) / 1e6
    missing = max(0.0, megabytes - current)
    # ~ 300 bytes per row once stored (tuple header, text, index-free heap).
    rows = int(missing * 1e6 / 300)
    with server.connect(name) as conn:
        conn.execute(
            "CREATE TABLE benchmark_filler AS SELECT g AS id, md5(g::text) || repeat('x', 220) "
            "AS payload FROM generate_series(1, %s) AS g",
            (rows,),
        )
    settle(server, name)


def measure(server: DatabaseServer, source: str, repeat: int) -> dict[str, float]:
    """Median seconds of each way of copying ``source``."""
    target = "bench_copy"
    drop_database(server, target, missing_ok=True, terminate=True)

    def drop() -> None:
        drop_database(server, target, terminate=True)

    actions: dict[str, Callable[[], object]] = {
        "wal_log": lambda: clone_database(server, source, target, strategy="wal_log"),
        "file_copy": lambda: clone_database(server, source, target, strategy="file_copy"),
        "dump": lambda: dump_restore(server, source, target),
    }
    return {
        label: statistics.median(timed(server, action, drop) for _ in range(repeat))
        for label, action in actions.items()
    }


def run(server: DatabaseServer, dump: Path, sizes: list[int], repeat: int) -> None:
    template = "bench_prodlike"
    drop_database(server, template, missing_ok=True, terminate=True)
    started = time.perf_counter()
    import_database(server, dump, template)
    print(f"restored {dump.name} in {time.perf_counter() - started:.1f} s")
    settle(server, template)
    version = server.server_version()
    print(f"PostgreSQL {version // 10000}.{version % 10000}, {repeat} runs each, median shown\n")

    header = (
        f"{'database':>10} {'WAL_LOG':>9} {'FILE_COPY':>10} {'dump|restore':>13} "
        f"{'dump/WAL':>9} {'dump/FILE':>10} {'WAL/FILE':>9}"
    )
    print(header)
    print("-" * len(header))
    for megabytes in sizes:
        source = template if megabytes == 0 else f"bench_{megabytes}mb"
        if source != template:
            drop_database(server, source, missing_ok=True, terminate=True)
            grow(server, template, source, megabytes)
        size_mb = (database_size(server, source) or 0) / 1e6
        results = measure(server, source, repeat)
        wal, copy, dumped = results["wal_log"], results["file_copy"], results["dump"]
        print(
            f"{size_mb:>8.0f}MB {wal:>8.2f}s {copy:>9.2f}s {dumped:>12.2f}s "
            f"{dumped / wal:>8.1f}x {dumped / copy:>9.1f}x {wal / copy:>8.2f}x",
            flush=True,
        )
        if source != template:
            drop_database(server, source, terminate=True)
    drop_database(server, template, terminate=True)
    print("\nWAL/FILE > 1 means FILE_COPY is faster at that size.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dump", type=Path, default=DEFAULT_DUMP, help="the Odoo dump to restore")
    parser.add_argument(
        "--sizes",
        default="0,256,1024",
        help="database sizes in MB to test, 0 = the fixture as is (default: 0,256,1024)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (median)")
    parser.add_argument("--url", help="benchmark this server instead of a fresh embedded one")
    args = parser.parse_args()
    if not args.dump.is_file():
        raise SystemExit(f"{args.dump} is missing; set ODOOPLANE_SHARED_DIR or pass --dump.")
    sizes = [int(part) for part in args.sizes.split(",") if part.strip()]

    if args.url:
        run(DatabaseServer.from_url(args.url), args.dump, sizes, args.repeat)
        return
    base = Path(tempfile.mkdtemp(prefix="odooplane-bench-"))
    os.chmod(base, 0o711)
    cluster = EmbeddedCluster(base / "state")
    try:
        status = cluster.start()
        print(f"embedded cluster in {status.data_dir} (durable default settings)")
        run(cluster.server(), args.dump, sizes, args.repeat)
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
