"""All gates on a one-module change, beside testing every addon (what OCA's CI does).

The reference project: production restored from the shared fixture
``odoo17-prodlike.sql.gz`` (a real Odoo 17 database, 31 modules), plus six project
addons with tests (on base, mail, portal, web; two depend on a third), installed in
production. One commit changes one leaf addon. Then, side by side in one run:

- ``gate run`` (tests, security, migration, neutralization skipped: no staging) of the
  change against the first commit: only the changed addon is tested, linted, updated;
- the baseline: the tests gate with ``--all``: every project addon installed and tested
  on a fresh database, as OCA's CI does for every pull request.

    python benchmarks/gates.py [--runs 2] [--odoo-src /opt/odoo-src/17.0]

Uses a temporary project with its own embedded PostgreSQL; the Odoo runtime and the
security tools come from the cache (built on first use, not timed: a warm-up run
builds them).
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
from odooplane.environments.builds import build, runtime_of, source_of
from odooplane.gates.runner import run_gates
from odooplane.mailcatcher import stop_catcher
from odooplane.odoo.process import initialize_database
from odooplane.postgres import databases as dbs
from odooplane.postgres.cluster import EmbeddedCluster
from odooplane.postgres.project_server import server_for
from odooplane.project import Project

HERE = Path(__file__).resolve().parent
DEFAULT_DUMP = (
    Path(os.environ.get("ODOOPLANE_SHARED_DIR", str(HERE.parent.parent / "shared")))
    / "fixtures"
    / "odoo17-prodlike.sql.gz"
)
ADDONS = {
    "acme_base": ("base",),
    "acme_mail": ("mail",),
    "acme_portal": ("portal",),
    "acme_web": ("web",),
    "acme_sales": ("acme_base", "mail"),
    "acme_report": ("acme_sales",),
}
TEST = """from odoo.tests.common import TransactionCase


class TestAddon(TransactionCase):
    def test_partner(self):
        partner = self.env["res.partner"].create({{"name": "{name}"}})
        self.assertEqual(partner.name, "{name}")

    def test_users(self):
        self.assertTrue(self.env["res.users"].search_count([]) > 0)
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


def write_addon(root: Path, name: str, depends: tuple[str, ...], version: str) -> None:
    folder = root / "addons" / name
    (folder / "tests").mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").write_text("")
    (folder / "__manifest__.py").write_text(
        f"{{'name': '{name}', 'version': '{version}', 'depends': {list(depends)!r}, "
        "'license': 'LGPL-3', 'author': 'bench'}\n"
    )
    (folder / "tests" / "__init__.py").write_text("from . import test_addon\n")
    (folder / "tests" / "test_addon.py").write_text(TEST.format(name=name))


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
    )
    (root / ".gitignore").write_text(".odooplane/\nweb/\n")
    for name, depends in ADDONS.items():
        write_addon(root, name, depends, "17.0.1.0.0")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "bench project")
    return Project(root=root, config=load_config(root / "odooplane.yaml"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
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
        server = server_for(project)
        first = git(project.root, "rev-parse", "HEAD")
        b = build(project, first)
        production = project.config.database_name("production")
        t = time.monotonic()
        dbs.import_database(server, args.dump, production)
        initialize_database(
            project, source_of(b), runtime_of(b), server, production, list(ADDONS), demo=False
        )
        print(
            f"production: fixture + {len(ADDONS)} addons installed in {time.monotonic() - t:.0f} s"
        )
        write_addon(project.root, "acme_web", ADDONS["acme_web"], "17.0.1.0.1")
        (project.root / "addons" / "acme_web" / "hooks.py").write_text("VALUE = 2\n")
        git(project.root, "add", "-A")
        git(project.root, "commit", "-q", "-m", "change acme_web")
        head = git(project.root, "rev-parse", "HEAD")
        # Warm-up: builds the security tools and the runtime of the new commit.
        run_gates(project, ["security"], ref=head, base=first)
        rows: list[dict[str, float]] = []
        for run in range(args.runs):
            row: dict[str, float] = {}
            t = time.monotonic()
            report = run_gates(project, [], ref=head, base=first)
            row["all gates, one-module change"] = time.monotonic() - t
            for result in report.results:
                row[f"  {result.gate} ({result.status})"] = result.seconds
            t = time.monotonic()
            every = run_gates(project, ["tests"], ref=head, all_addons=True)
            row["baseline: tests of every addon"] = time.monotonic() - t
            tests = every.result("tests")
            assert tests is not None
            rows.append(row)
            print(
                f"run {run + 1}: one-module change {row['all gates, one-module change']:.1f} s "
                f"(addons {', '.join(report.changes.selected)}); every addon "
                f"{row['baseline: tests of every addon']:.1f} s ({tests.summary})"
            )
        print()
        print(f"{'':42} {'median s':>9} {'min s':>7}")
        for key in rows[0]:
            values = [r.get(key, 0.0) for r in rows]
            print(f"{key:42} {statistics.median(values):9.1f} {min(values):7.1f}")
        ours = statistics.median(r["all gates, one-module change"] for r in rows)
        theirs = statistics.median(r["baseline: tests of every addon"] for r in rows)
        print(f"\nall gates on the change / tests of every addon: {ours / theirs:.2f}x")
    finally:
        stop_catcher(project.state_dir)
        EmbeddedCluster(project.state_dir).destroy()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
