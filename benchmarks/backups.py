"""Backup, verify and restore of the 28 MB reference database, beside the baseline a
sysadmin would script (``pg_dump -Fc`` then ``pg_restore`` into a new database).

The production database is the shared fixture ``odoo17-prodlike.sql.gz`` (a real Odoo
17 database, 31 modules) with one filestore file per attachment row. Each run takes a
backup (Odoo's backup layout, checksum), verifies it (restore into a scratch database,
check it opens), restores it into staging (neutralized and verified), and runs the
baseline.

    python benchmarks/backups.py [--runs 3]

Uses a temporary project with its own embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from odooplane.config import load_config
from odooplane.postgres import databases as dbs
from odooplane.postgres.cluster import EmbeddedCluster
from odooplane.postgres.dumps import dump_custom, restore_custom
from odooplane.postgres.project_server import server_for
from odooplane.project import Project
from odooplane.promotion import backups

HERE = Path(__file__).resolve().parent
DEFAULT_DUMP = (
    Path(os.environ.get("ODOOPLANE_SHARED_DIR", str(HERE.parent.parent / "shared")))
    / "fixtures"
    / "odoo17-prodlike.sql.gz"
)


def make_project(root: Path) -> Project:
    root.mkdir(parents=True)
    (root / "odooplane.yaml").write_text(
        "project: bench\n"
        "odoo:\n"
        "  series: '17.0'\n"
        "  source: /opt/odoo-src/17.0\n"
        "environments:\n"
        "  production:\n"
        "    kind: production\n"
        "  staging:\n"
        "    kind: staging\n"
        "    data:\n"
        "      copy: production\n"
    )
    return Project(root=root, config=load_config(root / "odooplane.yaml"))


def fill_filestore(project: Project, database: str) -> int:
    server = server_for(project)
    with server.connect(database) as conn:
        rows = conn.execute(
            "SELECT store_fname, coalesce(file_size, 0) FROM ir_attachment "
            "WHERE store_fname IS NOT NULL"
        ).fetchall()
    total = 0
    for fname, size in rows:
        path = project.odoo_data_dir / "filestore" / database / str(fname)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = os.urandom(min(int(size), 4 * 1024 * 1024))
        path.write_bytes(data)
        total += len(data)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dump", type=Path, default=DEFAULT_DUMP)
    args = parser.parse_args()
    if not args.dump.is_file():
        sys.exit(f"{args.dump} is missing (the shared odoo17-prodlike fixture).")
    base = Path(tempfile.mkdtemp(prefix="odooplane-bench-"))
    os.chmod(base, 0o711)
    project = make_project(base / "project")
    try:
        server = server_for(project)
        production = project.config.database_name("production")
        dbs.import_database(server, args.dump, production)
        size = dbs.database_size(server, production) or 0
        files = fill_filestore(project, production)
        print(
            f"production: {size / 1e6:.0f} MB database, {files / 1e6:.1f} MB filestore "
            f"(from {args.dump.name})"
        )
        rows: list[dict[str, float]] = []
        for run in range(args.runs):
            row: dict[str, float] = {}
            t = time.monotonic()
            info = backups.create_backup(project, "production", server=server)
            row["backup create"] = time.monotonic() - t
            t = time.monotonic()
            verified = backups.verify_backup(project, "production", info.name, server=server)
            row["backup verify"] = time.monotonic() - t
            assert verified.ok, verified
            t = time.monotonic()
            backups.restore_backup(project, "staging", info.name, source_environment="production")
            row["restore into staging (+neutralize)"] = time.monotonic() - t
            with tempfile.TemporaryDirectory() as folder:
                t = time.monotonic()
                dump = Path(folder) / "x.dump"
                dump_custom(server, production, dump)
                row["baseline pg_dump -Fc"] = time.monotonic() - t
                t = time.monotonic()
                restore_custom(server, dump, "bench_baseline")
                row["baseline pg_restore"] = time.monotonic() - t
            dbs.drop_database(server, "bench_baseline", terminate=True)
            rows.append(row)
            print(f"run {run + 1}: " + "  ".join(f"{k}={v:.2f}s" for k, v in row.items()))
            shutil.rmtree(info.path)
        print()
        print(f"{'step':40} {'median s':>9} {'min s':>7}")
        for key in rows[0]:
            values = [r[key] for r in rows]
            print(f"{key:40} {statistics.median(values):9.2f} {min(values):7.2f}")
        ours = statistics.median(r["backup create"] for r in rows)
        theirs = statistics.median(r["baseline pg_dump -Fc"] for r in rows)
        print(
            f"\nbackup create / pg_dump -Fc: {ours / theirs:.1f}x (ours adds the filestore, "
            "Odoo's zip layout and a checksum)"
        )
    finally:
        EmbeddedCluster(project.state_dir).destroy()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
