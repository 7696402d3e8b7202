"""How fast is evidence retrieval with a realistic amount of it stored.

Stores N deployments (default 10,000, spread over the 30-day record window, 4
environments) with their events, migrations and one log artifact per step, in SQLite
and in PostgreSQL (an embedded cluster started in a temporary folder, durable default
settings), then times:

- ``logs <random id>``: resolve the deployment, read its events, migrations and gate
  runs, read and sha256-verify its step logs (library call);
- ``logs <8-char id prefix>``: the same, found by prefix (what people type);
- ``history`` and ``history <env>`` (20 rows, newest first);
- the same commands end to end as ``odooplane ...`` processes (interpreter start
  included), fewer times: wall time, and CPU time (user + system), which does not
  depend on what else the machine is running.

It prints p50 and p95 per backend and the ratio to the 1 s goal.

    python benchmarks/evidence.py
    python benchmarks/evidence.py --deployments 2000 --repeat 50 --cli-repeat 5
    python benchmarks/evidence.py --backends sqlite
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from psycopg import sql
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from odooplane.config import ProjectConfig
from odooplane.evidence.artifacts import ArtifactLayout, parse_offset, slug
from odooplane.evidence.store import EvidenceStore
from odooplane.project import Project

GOAL_SECONDS = 1.0
ENVIRONMENTS = ("production", "staging", "dev-feature", "pr-42-checkout")
STEPS = ("snapshot", "install requirements", "upgrade modules", "restart", "health check")
BATCH = 250
console = Console()


def _log_text(rng: random.Random, deployment: int, step: str) -> str:
    lines = [f"$ odoo-bin -d acme --stop-after-init -u sale_custom  # {step}"]
    for number in range(rng.randint(20, 80)):
        lines.append(
            f"2026-05-{1 + deployment % 28:02d} 10:{number % 60:02d}:00,000 {1000 + deployment} "
            f"INFO acme odoo.modules.loading: loading module {number} of deployment {deployment}"
        )
    lines.append("[exit 0 after 12.3s]")
    return "\n".join(lines) + "\n"


def populate(store: EvidenceStore, layout: ArtifactLayout, count: int, seed: int) -> list[str]:
    """Store ``count`` deployments (in batches, through the store's idempotent insert)."""
    rng = random.Random(seed)
    now = store.now()
    ids: list[str] = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"{store.location.backend}: storing deployments", total=count)
        for start in range(0, count, BATCH):
            rows: list[tuple[str, dict[str, Any]]] = []
            for number in range(start, min(count, start + BATCH)):
                started = now - timedelta(days=30) + timedelta(seconds=number * 259.0)
                deployment_id = uuid.UUID(int=rng.getrandbits(128), version=4)
                environment = ENVIRONMENTS[number % len(ENVIRONMENTS)]
                topic_dir = layout.topic_dir(
                    started, f"deploy-{environment}-{deployment_id.hex[:8]}"
                )
                rows.append(
                    (
                        "deployments",
                        {
                            "id": deployment_id,
                            "project": store.project_name,
                            "environment": environment,
                            "kind": "deploy",
                            "git_sha": f"{rng.getrandbits(160):040x}",
                            "approved_by": "carol" if environment == "production" else None,
                            "recorded_by": "bench@localhost",
                            "started_at": started,
                            "artifacts_dir": layout.to_record(topic_dir),
                            "recorded_at": started,
                        },
                    )
                )
                moment = started
                seq = 0
                for index, step in enumerate(STEPS, 1):
                    path = topic_dir / "logs" / f"{index:02d}-{slug(step)}.log"
                    data = _log_text(rng, number, step).encode()
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data)
                    stored = layout.to_record(path)
                    seq += 1
                    rows.append(
                        (
                            "deployment_events",
                            {
                                "id": uuid.uuid4(),
                                "deployment_id": deployment_id,
                                "seq": seq,
                                "at": moment,
                                "kind": "step_started",
                                "step": step,
                                "artifact_path": stored,
                                "data": {"index": index},
                            },
                        )
                    )
                    duration = rng.randint(200, 20_000)
                    moment = moment + timedelta(milliseconds=duration)
                    seq += 1
                    rows.append(
                        (
                            "deployment_events",
                            {
                                "id": uuid.uuid4(),
                                "deployment_id": deployment_id,
                                "seq": seq,
                                "at": moment,
                                "kind": "step_finished",
                                "step": step,
                                "status": "succeeded",
                                "duration_ms": duration,
                                "artifact_path": stored,
                                "artifact_sha256": hashlib.sha256(data).hexdigest(),
                                "artifact_bytes": len(data),
                                "data": {"index": index, "error": None},
                            },
                        )
                    )
                rows.append(
                    (
                        "migrations",
                        {
                            "id": uuid.uuid4(),
                            "deployment_id": deployment_id,
                            "module": "sale_custom",
                            "from_version": "17.0.1.0",
                            "to_version": "17.0.1.1",
                            "scripts": ["17.0.1.1/post-migrate.py"],
                            "status": "succeeded",
                            "started_at": started,
                            "duration_ms": 1200,
                            "recorded_at": started,
                        },
                    )
                )
                seq += 1
                rows.append(
                    (
                        "deployment_events",
                        {
                            "id": uuid.uuid4(),
                            "deployment_id": deployment_id,
                            "seq": seq,
                            "at": moment,
                            "kind": "finished",
                            "status": "succeeded" if rng.random() > 0.05 else "failed",
                            "duration_ms": int((moment - started).total_seconds() * 1000),
                            "data": {"error": None, "rollback": None, "health_checks": []},
                        },
                    )
                )
                ids.append(str(deployment_id))
            store.insert_records(rows)
            progress.advance(task, min(BATCH, count - start))
    return ids


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def timed(action: Callable[[], object], repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def cli_cpu(root: Path, args: Callable[[], tuple[str, ...]], repeat: int) -> tuple[float, float]:
    """p50 and p95 of the CPU time (user + system) of CLI runs: what a run costs on an
    idle machine, whatever else this one is doing."""
    samples = []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        cli(root, *args())
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        samples.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return percentiles(samples)


def cli(root: Path, *args: str) -> None:
    # Installed packages come with compiled bytecode; a PYTHONDONTWRITEBYTECODE
    # environment would make every run recompile SQLAlchemy from source. Keep the
    # bytecode in a private folder instead of writing into the environment.
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(root.parent / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    result = subprocess.run(
        [sys.executable, "-m", "odooplane", "-C", str(root), *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if result.returncode != 0:
        raise SystemExit(f"odooplane {' '.join(args)} failed: {result.stderr}")


def bench_backend(
    name: str, url: str, root: Path, count: int, repeat: int, cli_repeat: int, seed: int
) -> list[tuple[str, str, float, float]]:
    root.mkdir(parents=True, exist_ok=True)
    project = Project(
        root=root,
        config=ProjectConfig(
            project="acme",
            odoo={"series": "17.0", "source": "/opt/odoo"},
            evidence={"url": url},
        ),
    )
    (root / "odooplane.yaml").write_text(
        f"project: acme\nodoo:\n  series: '17.0'\n  source: /opt/odoo\nevidence:\n  url: {url}\n"
    )
    store = EvidenceStore.open(project)
    layout = ArtifactLayout(root / "web/docs/evidence", root, parse_offset("+0800"))
    started = time.perf_counter()
    ids = populate(store, layout, count, seed)
    console.print(f"{name}: stored {count} deployments in {time.perf_counter() - started:.1f} s")
    rng = random.Random(seed + 1)
    results: list[tuple[str, str, float, float]] = []

    def logs_random() -> None:
        detail, logs = store.logs(rng.choice(ids))
        assert len(logs) == len(STEPS) and all(log.verified for log in logs), detail.id

    def logs_prefix() -> None:
        store.logs(rng.choice(ids).replace("-", "")[:8])

    measures: list[tuple[str, Callable[[], object]]] = [
        ("logs <random id>", logs_random),
        ("logs <id prefix>", logs_prefix),
        ("history", lambda: store.history(limit=20)),
        ("history <env>", lambda: store.history(rng.choice(ENVIRONMENTS), limit=20)),
    ]
    for label, action in measures:
        action()  # warm up caches and connections, as a second command would find them
        p50, p95 = timed(action, repeat)
        results.append((name, label, p50, p95))
    store.close()
    for label, args in (
        ("cli: odooplane logs <id>", lambda: ("logs", rng.choice(ids))),
        ("cli: odooplane history", lambda: ("history", "--json")),
    ):
        cli(root, *args())  # warm-up: compiles the bytecode once, as an install does
        p50, p95 = timed(lambda args=args: cli(root, *args()), cli_repeat)
        results.append((name, label, p50, p95))
        p50, p95 = cli_cpu(root, args, cli_repeat)
        results.append((name, label.replace("cli:", "cli cpu:"), p50, p95))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=200, help="library calls per measure")
    parser.add_argument("--cli-repeat", type=int, default=20, help="CLI runs per measure")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="odooplane-bench-evidence-"))
    # The embedded cluster runs as an unprivileged user when invoked as root.
    os.chmod(base, 0o711)
    os.environ.setdefault("ODOOPLANE_CACHE_DIR", str(base / "cache"))
    results: list[tuple[str, str, float, float]] = []
    cluster = None
    try:
        backends = [b.strip() for b in args.backends.split(",") if b.strip()]
        if "sqlite" in backends:
            results += bench_backend(
                "sqlite",
                "sqlite",
                base / "sqlite-project",
                args.deployments,
                args.repeat,
                args.cli_repeat,
                args.seed,
            )
        if "postgresql" in backends:
            from odooplane.postgres.cluster import EmbeddedCluster

            cluster = EmbeddedCluster(base / "pg-state")
            cluster.start()
            server = cluster.server()
            with server.connect() as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier("evidence")))
            results += bench_backend(
                "postgresql",
                server.url("evidence", redact=False),
                base / "pg-project",
                args.deployments,
                args.repeat,
                args.cli_repeat,
                args.seed,
            )
    finally:
        if cluster is not None:
            cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)

    table = Table(title=f"Evidence retrieval with {args.deployments} deployments stored")
    for column in ("backend", "operation", "p50 (ms)", "p95 (ms)", "p95 / 1 s goal"):
        table.add_column(column, justify="right" if "(" in column or "/" in column else "left")
    for backend, label, p50, p95 in results:
        table.add_row(
            backend, label, f"{p50 * 1000:.1f}", f"{p95 * 1000:.1f}", f"{p95 / GOAL_SECONDS:.3f}"
        )
    console.print(table)
    worst = max(p95 for *_, p95 in results) if results else 0.0
    verdict = "met" if worst < GOAL_SECONDS else "NOT met"
    console.print(f"Goal (< {GOAL_SECONDS:g} s): {verdict}; worst p95 {worst * 1000:.1f} ms.")
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    console.print(f"measured {stamp} on {os.cpu_count()} CPU(s)")


if __name__ == "__main__":
    main()
