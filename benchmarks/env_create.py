"""How long `odooplane env create staging` takes, from the command to /web/login answering 200.

Staging is a neutralized copy of a production environment restored from the shared
fixture ``odoo17-prodlike.sql.gz`` (a real Odoo 17 database, 31 modules). The fixture
has no filestore, so the script writes one file per attachment row (the sizes the
database records) to make the filestore copy real. Every run creates staging, times it
part by part (clone, filestore, neutralize, update, start, health), then destroys it.

    python benchmarks/env_create.py [--runs 3] [--odoo-src /opt/odoo-src/17.0]

Uses a temporary project with its own embedded PostgreSQL; the Python runtime comes from
the cache (``$ODOOPLANE_CACHE_DIR``), built on first use.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from odooplane.config import load_config
from odooplane.environments import api as envs
from odooplane.mailcatcher import stop_catcher
from odooplane.postgres.cluster import EmbeddedCluster
from odooplane.postgres.project_server import server_for
from odooplane.project import Project

HERE = Path(__file__).resolve().parent
DEFAULT_DUMP = (
    Path(os.environ.get("ODOOPLANE_SHARED_DIR", str(HERE.parent.parent / "shared")))
    / "fixtures"
    / "odoo17-prodlike.sql.gz"
)
PARTS = {
    "clone": "clone database",
    "filestore": "copy filestore",
    "neutralize": "neutralize",
    "update": "update modules",
    "start": "start",
    "health (to /web/login 200)": "health check",
}


def git(repo: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


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
        "    data:\n"
        "      copy: production\n"
    )
    (root / ".gitignore").write_text(".odooplane/\nweb/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "bench project")
    return Project(root=root, config=load_config(root / "odooplane.yaml"))


def fill_filestore(project: Project) -> tuple[int, int]:
    """One file per ir_attachment row with a store_fname, of the recorded size."""
    server = server_for(project)
    database = project.config.database_name("production")
    with server.connect(database) as conn:
        rows = conn.execute(
            "SELECT store_fname, coalesce(file_size, 0) FROM ir_attachment "
            "WHERE store_fname IS NOT NULL"
        ).fetchall()
    root = project.filestore_dir(database)
    total = 0
    for fname, size in rows:
        path = root / str(fname)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = os.urandom(min(int(size), 4 * 1024 * 1024))
        path.write_bytes(data)
        total += len(data)
    return len(rows), total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--odoo-src",
        type=Path,
        default=Path(os.environ.get("ODOOPLANE_TEST_ODOO_SRC", "/opt/odoo-src/17.0")),
    )
    parser.add_argument("--dump", type=Path, default=DEFAULT_DUMP)
    args = parser.parse_args()
    if not args.dump.is_file():
        sys.exit(f"{args.dump} is missing (the shared odoo17-prodlike fixture).")
    if not (args.odoo_src / "odoo-bin").is_file():
        sys.exit(f"No Odoo source at {args.odoo_src}: pass --odoo-src.")

    base = Path(tempfile.mkdtemp(prefix="odooplane-bench-"))
    os.chmod(base, 0o711)  # the embedded server's unprivileged user must enter it
    project = make_project(base / "project", args.odoo_src)
    try:
        t0 = time.monotonic()
        prod = envs.create(project, "production", import_path=args.dump, start=False)
        setup = time.monotonic() - t0
        files, size = fill_filestore(project)
        print(
            f"production restored from {args.dump.name} in {setup:.1f} s "
            f"(steps: {', '.join(f'{s.name} {s.seconds:.1f}s' for s in prod.steps)}); "
            f"filestore: {files} files, {size / 1e6:.1f} MB"
        )
        runs: list[dict[str, float]] = []
        for index in range(args.runs):
            # The real command, as a person or CI runs it: interpreter start-up included.
            started = time.monotonic()
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "odooplane",
                    "-C",
                    str(project.root),
                    "env",
                    "create",
                    "staging",
                    "--json",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            total = time.monotonic() - started
            if result.returncode != 0:
                sys.exit(f"env create staging failed:\n{result.stderr}")
            outcome = json.loads(result.stdout)
            steps = {s["name"]: s["seconds"] for s in outcome["steps"]}
            row = {part: steps.get(step, 0.0) for part, step in PARTS.items()}
            row["total (command start to 200)"] = total
            runs.append(row)
            print(
                f"run {index + 1}: {total:.1f} s  "
                + "  ".join(
                    f"{part.split(' ')[0]}={value:.2f}s"
                    for part, value in row.items()
                    if not part.startswith("total")
                )
            )
            envs.destroy(project, "staging")
        print()
        print(f"{'part':32} {'median s':>9} {'min s':>7} {'share':>6}")
        medians = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        total_median = medians["total (command start to 200)"]
        for key, value in medians.items():
            low = min(r[key] for r in runs)
            print(f"{key:32} {value:9.2f} {low:7.2f} {value / total_median:6.0%}")
        accounted = sum(v for k, v in medians.items() if not k.startswith("total"))
        print(f"{'other (start-up, build, evidence)':32} {total_median - accounted:9.2f}")
    finally:
        try:
            envs.destroy(project, "staging")
            envs.destroy(project, "production", force=True)
        finally:
            stop_catcher(project.state_dir)
            EmbeddedCluster(project.state_dir).destroy()
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
