"""Promote and rollback on the reference project, beside their baselines.

Production is restored from the shared fixture ``odoo17-prodlike.sql.gz`` (a real Odoo
17 database, 31 modules) plus one project addon; staging is its neutralized copy. A
second commit bumps the addon (a module update). Each run:

- ``promote`` of that commit (gates read from evidence, approval, backup, deploy, smoke
  checks), beside the baseline ``env deploy`` alone (no backup, no smoke checks);
- ``rollback --force`` (code and data, by renaming the pre-deploy snapshot into place),
  beside the baseline of restoring the promotion's backup (``backup restore --force``).

    python benchmarks/promotion.py [--runs 3] [--odoo-src /opt/odoo-src/17.0]

Uses a temporary project with its own embedded PostgreSQL; the runtime comes from the
cache. Goal: rollback under 10 s (the product requirement says under 5 minutes).
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
from pathlib import Path

from odooplane.config import load_config
from odooplane.environments import api as envs
from odooplane.gates.runner import run_gates
from odooplane.mailcatcher import stop_catcher
from odooplane.postgres.cluster import EmbeddedCluster
from odooplane.project import Project
from odooplane.promotion.approval import NamedApproval
from odooplane.promotion.backups import restore_backup
from odooplane.promotion.promote import promote
from odooplane.promotion.rollback import rollback

HERE = Path(__file__).resolve().parent
DEFAULT_DUMP = (
    Path(os.environ.get("ODOOPLANE_SHARED_DIR", str(HERE.parent.parent / "shared")))
    / "fixtures"
    / "odoo17-prodlike.sql.gz"
)
TEST = """from odoo.tests.common import TransactionCase


class TestBench(TransactionCase):
    def test_partner(self):
        self.assertTrue(self.env["res.partner"].create({"name": "bench"}))
"""


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def write_addon(root: Path, version: str) -> None:
    folder = root / "addons" / "bench_app"
    (folder / "tests").mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").write_text("")
    (folder / "__manifest__.py").write_text(
        f"{{'name': 'bench_app', 'version': '{version}', 'depends': ['mail'], "
        "'license': 'LGPL-3'}\n"
    )
    (folder / "tests" / "__init__.py").write_text("from . import test_bench\n")
    (folder / "tests" / "test_bench.py").write_text(TEST)


def make_project(root: Path, odoo_src: Path) -> Project:
    root.mkdir(parents=True)
    (root / "odooplane.yaml").write_text(
        "project: bench\n"
        "odoo:\n"
        "  series: '17.0'\n"
        f"  source: '{odoo_src}'\n"
        "  addons_paths: [addons]\n"
        "environments:\n"
        "  production:\n"
        "    kind: production\n"
        "  staging:\n"
        "    kind: staging\n"
        "    data:\n"
        "      copy: production\n"
        "gates:\n"
        "  required: [tests]\n"
    )
    (root / ".gitignore").write_text(".odooplane/\nweb/\n")
    write_addon(root, "17.0.1.0.0")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "v1")
    return Project(root=root, config=load_config(root / "odooplane.yaml"))


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
    base = Path(tempfile.mkdtemp(prefix="odooplane-bench-"))
    os.chmod(base, 0o711)
    project = make_project(base / "project", args.odoo_src)
    try:
        t = time.monotonic()
        envs.create(project, "production", import_path=args.dump)
        first = git(project.root, "rev-parse", "HEAD")
        envs.deploy(project, "production", first)
        envs.create(project, "staging")
        write_addon(project.root, "17.0.1.1.0")
        git(project.root, "add", "-A")
        git(project.root, "commit", "-q", "-m", "v2")
        second = git(project.root, "rev-parse", "HEAD")
        envs.deploy(project, "staging", second)
        report = run_gates(project, ["tests"], ref=second, base=first, environment="staging")
        if not report.ok:
            sys.exit(f"the tests gate did not pass: {report.to_dict()}")
        print(f"set-up (production from the fixture, staging, gates): {time.monotonic() - t:.0f} s")
        rows: list[dict[str, float]] = []
        for run in range(args.runs):
            row: dict[str, float] = {}
            t = time.monotonic()
            result = promote(project, approval=NamedApproval("bench"))
            row["promote (backup, deploy, smoke)"] = time.monotonic() - t
            t = time.monotonic()
            undone = rollback(project, "production", force=True)
            row["rollback --force (code + data)"] = time.monotonic() - t
            t = time.monotonic()
            envs.deploy(project, "production", second)
            row["baseline: env deploy alone"] = time.monotonic() - t
            assert result.backup is not None
            t = time.monotonic()
            envs.stop(project, "production")
            restore_backup(project, "production", result.backup["name"], force=True)
            envs.deploy(project, "production", first)
            row["baseline: restore the backup + redeploy"] = time.monotonic() - t
            rows.append(row)
            print(
                f"run {run + 1}: "
                + "  ".join(f"{k.split(' (')[0]}={v:.1f}s" for k, v in row.items())
                + f"  (kept {undone.kept_snapshot})"
            )
        print()
        print(f"{'':44} {'median s':>9} {'min s':>7}")
        for key in rows[0]:
            values = [r[key] for r in rows]
            print(f"{key:44} {statistics.median(values):9.1f} {min(values):7.1f}")
        ours = statistics.median(r["rollback --force (code + data)"] for r in rows)
        theirs = statistics.median(r["baseline: restore the backup + redeploy"] for r in rows)
        print(f"\nrollback / restore-from-backup: {ours / theirs:.2f}x; goal: rollback < 10 s")
    finally:
        for env in ("staging", "production"):
            try:
                envs.destroy(project, env, force=True)
            except Exception as exc:  # clean-up goes on
                print(f"clean-up of {env}: {exc}")
        stop_catcher(project.state_dir)
        EmbeddedCluster(project.state_dir).destroy()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
