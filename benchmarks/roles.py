"""What roles per environment cost: a clone settled for its own role against the same
clone with ownership left as it came (the baseline: every environment sharing one
superuser, before issue 10), and an import loaded by a throw-away unprivileged role
against one loaded as the superuser.

Restores ../shared/fixtures/odoo17-prodlike.sql.gz (a real Odoo 17 database) into a
fresh embedded cluster and times each several times, printing medians and ratios.

    python benchmarks/roles.py
    python benchmarks/roles.py --repeat 7
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from psycopg import sql

from odooplane.postgres import archive, roles
from odooplane.postgres.cluster import EmbeddedCluster
from odooplane.postgres.databases import clone_database, drop_database, import_database
from odooplane.postgres.server import DatabaseServer

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DUMP = (
    Path(os.environ.get("ODOOPLANE_SHARED_DIR", str(ROOT.parent / "shared")))
    / "fixtures"
    / "odoo17-prodlike.sql.gz"
)


def median_of(repeat: int, run: Callable[[], float]) -> float:
    return statistics.median(run() for _ in range(repeat))


def bare_clone(server: DatabaseServer, source: str, target: str) -> float:
    """CREATE DATABASE ... TEMPLATE alone: what every clone was before roles."""
    started = time.perf_counter()
    with server.connect() as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(target), sql.Identifier(source)
            )
        )
    elapsed = time.perf_counter() - started
    drop_database(server, target, terminate=True)
    return elapsed


def settled_clone(server: DatabaseServer, source: str, target: str) -> float:
    """The clone as odooplane makes it now: owned by the target's role, inside and out."""
    roles.ensure_role(server, target, "benchmark-password-0123456789")
    started = time.perf_counter()
    clone_database(server, source, target)
    elapsed = time.perf_counter() - started
    drop_database(server, target, terminate=True)
    roles.retire_role(server, target)
    return elapsed


def import_as(server: DatabaseServer, dump: Path, target: str, *, contained: bool) -> float:
    started = time.perf_counter()
    if contained:
        import_database(server, dump, target)
    else:
        # Created as odooplane creates Odoo's databases (template0, C collation), so
        # only the role differs.
        with server.connect() as conn:
            conn.execute(
                sql.SQL(
                    "CREATE DATABASE {} ENCODING 'UTF8' LC_COLLATE 'C' TEMPLATE template0"
                ).format(sql.Identifier(target))
            )
        archive.load(server, dump, archive.detect_format(dump), target, filestore_dir=None)
    elapsed = time.perf_counter() - started
    drop_database(server, target, terminate=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dump", type=Path, default=DEFAULT_DUMP)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="odooplane-bench-roles-"))
    os.chmod(base, 0o711)
    cluster = EmbeddedCluster(base / "state")
    try:
        cluster.start()
        server = cluster.server()
        import_database(server, args.dump, "prod")
        roles.ensure_role(server, "prod", "benchmark-password-prod-0123")
        moved = roles.settle(server, "prod").reassigned
        with server.connect("prod") as conn:
            conn.execute("VACUUM (ANALYZE)")
        print(f"fixture: {args.dump.name}, {moved} objects settled for role 'prod'")
        bare = median_of(args.repeat, lambda: bare_clone(server, "prod", "copy_bare"))
        settled = median_of(args.repeat, lambda: settled_clone(server, "prod", "copy_role"))
        print(f"clone, ownership as it came (baseline)   {bare:7.3f} s")
        print(
            f"clone settled for its own role           {settled:7.3f} s  "
            f"({settled / bare:.2f}x, +{settled - bare:.3f} s)"
        )
        plain = median_of(
            args.repeat, lambda: import_as(server, args.dump, "imp_plain", contained=False)
        )
        contained = median_of(
            args.repeat, lambda: import_as(server, args.dump, "imp_role", contained=True)
        )
        print(f"import as the superuser (baseline)       {plain:7.3f} s")
        print(
            f"import by a throw-away role, settled      {contained:7.3f} s  "
            f"({contained / plain:.2f}x, +{contained - plain:.3f} s)"
        )
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
