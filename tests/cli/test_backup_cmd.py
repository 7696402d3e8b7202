"""`odooplane backup` on the real test server with a small database: create, list,
verify (a database that is not Odoo does not verify), prune, and bad input as
sentences. Backups of a real Odoo database: tests/promotion/test_backups.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_run import run, run_json
from fixtures_postgres import seed, unique_name
from odooplane.postgres import databases as dbs
from odooplane.postgres.server import DatabaseServer


@pytest.fixture
def project(tmp_path: Path, pg_server: DatabaseServer) -> Iterator[Path]:
    root = tmp_path / "shop"
    root.mkdir()
    production = unique_name("prod")
    (root / "odooplane.yaml").write_text(
        "project: shop\n"
        "odoo: {series: '17.0', source: /opt/odoo-src/17.0}\n"
        f"database: {{server: '{pg_server.url(redact=False)}'}}\n"
        "environments:\n"
        f"  production: {{kind: production, database: {production}}}\n"
        f"  staging: {{kind: staging, database: {production}_stg}}\n"
    )
    seed(pg_server, production, ["order 1", "order 2"])
    yield root
    for db in dbs.list_databases(pg_server):
        if db.name.startswith(production):
            dbs.drop_database(pg_server, db.name, terminate=True, missing_ok=True, force=True)


def test_help(capfd: pytest.CaptureFixture[str]) -> None:
    for sub in ("create", "list", "verify", "restore", "prune", "schedule"):
        code, out, _ = run(capfd, "backup", sub, "--help")
        assert code == 0 and "ENVIRONMENT" in out, sub


def test_create_list_verify_prune(project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    at = ("-C", str(project))
    assert run_json(capfd, *at, "backup", "list", "production") == []
    made = run_json(capfd, *at, "backup", "create", "production")
    assert made["bytes"] > 0 and len(made["sha256"]) == 64
    assert Path(made["path"]).is_dir()  # Odoo's backup layout, unpacked
    listed = run_json(capfd, *at, "backup", "list", "production")
    assert [b["name"] for b in listed] == [made["name"]]
    assert listed[0]["kind"] == "manual"
    # The dump restores, but it is no Odoo database: not usable, exit 1, with the reason.
    code, out, err = run(capfd, *at, "backup", "verify", "production")
    assert code == 1
    assert "NOT usable" in out
    assert f"Backup {made['name']} did not verify" in err
    pruned = run_json(capfd, *at, "backup", "prune", "production", "--dry-run")
    assert pruned["kept"] == [made["name"]] and pruned["removed"] == []
    assert pruned["dry_run"] is True


def test_bad_input_is_a_sentence(project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    at = ("-C", str(project))
    code, _, err = run(capfd, *at, "backup", "create", "staging")
    assert code == 1 and "Environment 'staging' has no database" in err
    code, _, err = run(capfd, *at, "backup", "create", "qa")
    assert code == 1 and "No environment named 'qa'" in err
    code, _, err = run(capfd, *at, "backup", "create", "production", "--kind", "weekly")
    assert code == 2 and "weekly" in err
    code, _, err = run(capfd, *at, "backup", "verify", "production", "nope")
    assert code == 1 and "Environment 'production' has no backup in" in err
    assert "odooplane backup create production" in err
    code, _, err = run(capfd, *at, "backup", "schedule", "production", "--at", "25:00")
    assert code == 2 and "25:00" in err
    code, _, err = run(capfd, *at, "backup", "restore", "production")
    assert code == 1 and "Traceback" not in err
