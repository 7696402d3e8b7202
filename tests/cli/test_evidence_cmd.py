"""`odooplane evidence ...`, `history`, `logs` and `postmortem` through the real entry
point: exit codes, JSON output, files written."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from odooplane.cli import main
from odooplane.evidence.store import EvidenceStore
from odooplane.project import load_project

CONFIG = """\
project: acme
odoo:
  series: "17.0"
  source: /opt/odoo
environments:
  staging:
    kind: staging
    env_file: staging.env
  production:
    kind: production
"""
SECRET = "stg-Secret-424242"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    # Messages on stderr are wrapped to the terminal width; compare them unwrapped.
    return int(info.value.code or 0), out, " ".join(err.split())


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    root.mkdir()
    (root / "odooplane.yaml").write_text(CONFIG)
    (root / "staging.env").write_text(f"SMTP_PASSWORD={SECRET}\n")
    return root


def _record(project_dir: Path) -> tuple[str, str]:
    """Two deployments of staging: one that worked, one that failed."""
    with EvidenceStore.open(load_project(project_dir)) as store:
        good = store.start_deployment("staging", git_sha="a" * 40, approved_by="ann")
        with good, good.step("install") as step:
            step.line(f"installed; smtp password {SECRET}")
        bad = store.start_deployment("staging", git_sha="b" * 40)
        try:
            with bad.step("upgrade") as step:
                step.run([sys.executable, "-c", "print('ERROR odoo: boom'); raise SystemExit(1)"])
        except Exception as exc:
            bad.finish("failed", error=str(exc))
    return str(good.id), str(bad.id)


def test_history_and_logs(project_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["-C", str(project_dir), "history", "--json"], capsys)
    assert code == 0 and json.loads(out) == []
    good, bad = _record(project_dir)

    code, out, _ = run(["-C", str(project_dir), "history", "staging", "--json"], capsys)
    rows = json.loads(out)
    assert code == 0 and [r["id"] for r in rows] == [bad, good]
    assert [r["outcome"] for r in rows] == ["failed", "succeeded"]
    code, out, _ = run(["-C", str(project_dir), "history", "--limit", "1"], capsys)
    assert code == 0 and bad[:8] in out and good[:8] not in out and "failed" in out

    code, out, err = run(["-C", str(project_dir), "logs", good[:8]], capsys)
    assert code == 0
    assert "installed; smtp password ***" in out and SECRET not in out
    assert "==> install (succeeded" in err

    code, out, _ = run(["-C", str(project_dir), "logs", "staging", "--step", "upgrade"], capsys)
    assert code == 0 and "ERROR odoo: boom" in out

    code, out, _ = run(["-C", str(project_dir), "logs", bad, "--json"], capsys)
    data = json.loads(out)
    assert data["deployment"]["outcome"] == "failed"
    assert data["steps"][0]["step"]["name"] == "upgrade"
    assert data["steps"][0]["verified"] is True

    code, out, _ = run(["-C", str(project_dir), "logs", bad, "--follow"], capsys)
    assert code == 0 and "ERROR odoo: boom" in out and "outcome: failed" in out

    code, _, err = run(["-C", str(project_dir), "logs", "nowhere"], capsys)
    assert code == 1 and "No deployment with id 'nowhere'" in err
    code, _, err = run(["-C", str(project_dir), "logs", good, "--step", "nope"], capsys)
    assert code == 1 and "has no step named 'nope'" in err


def test_history_shows_the_image_a_build_ran_from(
    project_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = "sha256:" + "9" * 64
    with EvidenceStore.open(load_project(project_dir)) as store:
        build = store.record_build(git_sha="c" * 40)
        store.record_build_image(build.id, git_sha="c" * 40, image_id=image)
        store.start_deployment("production", git_sha="c" * 40, build_id=build.id).finish(
            "succeeded"
        )
    code, out, _ = run(["-C", str(project_dir), "history", "--json"], capsys)
    assert code == 0 and [r["image_id"] for r in json.loads(out)] == [image]
    code, out, _ = run(["-C", str(project_dir), "history"], capsys)
    assert code == 0 and "image" in out and "9" * 12 in out


def test_postmortem_writes_markdown(
    project_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, bad = _record(project_dir)
    target = tmp_path / "pm" / "postmortem.md"
    code, _, err = run(
        ["-C", str(project_dir), "postmortem", bad[:10], "--out", str(target)], capsys
    )
    assert code == 0 and str(target) in err
    text = target.read_text()
    assert "```mermaid" in text and "ERROR odoo: boom" in text
    code, out, _ = run(["-C", str(project_dir), "postmortem", "staging"], capsys)
    assert code == 0 and out.startswith(f"# Postmortem: deployment `{bad[:8]}`")


def test_evidence_status_migrate_sync_prune(
    project_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["-C", str(project_dir), "evidence", "status", "--json"], capsys)
    status = json.loads(out)
    assert code == 0 and status["backend"] == "sqlite" and status["reachable"] is True
    code, out, _ = run(["-C", str(project_dir), "evidence", "migrate", "--json"], capsys)
    assert code == 0 and json.loads(out)["after"] == "0004"
    code, out, _ = run(["-C", str(project_dir), "evidence", "sync", "--json"], capsys)
    assert code == 0 and json.loads(out)["delivered"] == 0
    _record(project_dir)
    code, out, _ = run(["-C", str(project_dir), "evidence", "prune", "--dry-run", "--json"], capsys)
    report = json.loads(out)
    assert code == 0 and report["dry_run"] is True and report["records_total"] == 0
    code, out, _ = run(["-C", str(project_dir), "evidence", "prune"], capsys)
    assert code == 0 and "Removed 0 artifact folder(s)" in out


def test_sync_fails_when_the_store_is_unreachable(
    project_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project_dir / "odooplane.yaml").write_text(
        CONFIG + "evidence:\n  url: postgresql://odoo:pw@127.0.0.1:1/evidence\n"
    )
    _record(project_dir)
    code, out, _ = run(["-C", str(project_dir), "evidence", "status", "--json"], capsys)
    assert json.loads(out)["spooled_rows"] == 10
    code, _, err = run(["-C", str(project_dir), "evidence", "sync"], capsys)
    assert code == 1 and "cannot be reached" in err and "10 record(s) stay spooled" in err
    assert "pw@" not in err
    code, _, err = run(["-C", str(project_dir), "history"], capsys)
    assert code == 1 and "cannot be reached" in err


def test_export_sql(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "site"
    code, out, _ = run(["evidence", "export-sql", "--out", str(out_dir), "--json"], capsys)
    files = json.loads(out)
    assert code == 0 and [f["status"] for f in files] == ["written"] * 4
    assert all(Path(f["path"]).parent == out_dir / "supabase" / "migrations" for f in files)


@pytest.mark.parametrize(
    "args",
    [
        ["evidence", "--help"],
        ["evidence", "prune", "--help"],
        ["evidence", "export-sql", "--help"],
        ["history", "--help"],
        ["logs", "--help"],
        ["postmortem", "--help"],
    ],
)
def test_help(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(args, capsys)
    assert code == 0 and "Usage:" in out


def test_bad_inputs_are_sentences(project_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each of these exited 3 (an unexpected error) or was accepted (issue 10)."""
    _record(project_dir)
    base = ["-C", str(project_dir)]
    code, _, err = run([*base, "history", "--limit", str(10**30)], capsys)
    assert code == 2 and "--limit" in err and "SELECT" not in err
    code, _, err = run([*base, "postmortem", "staging", "--out", "/proc/pm.md"], capsys)
    assert code == 2 and "The postmortem cannot be written to /proc/pm.md" in err
    code, _, err = run([*base, "postmortem", "staging", "--out", str(project_dir)], capsys)
    assert code == 2 and "is a directory" in err


def test_a_store_path_that_is_not_a_database(
    project_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = project_dir / "notes.txt"
    text.write_text("not a database\n")
    config = project_dir / "odooplane.yaml"
    config.write_text(config.read_text() + f"evidence:\n  url: 'sqlite:///{text}'\n")
    for command in (["history"], ["evidence", "status"], ["config", "check"]):
        code, _, err = run(["-C", str(project_dir), *command], capsys)
        assert code == 2, (command, err)
        assert f"The evidence store {text} (evidence.url) is not an SQLite database" in err
    assert text.read_text() == "not a database\n"


def test_evidence_verify(project_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import sqlite3

    good, _bad = _record(project_dir)
    base = ["-C", str(project_dir)]
    code, out, _ = run([*base, "evidence", "verify", "--json"], capsys)
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["breaks"] == []
    code, out, _ = run([*base, "evidence", "verify"], capsys)
    assert code == 0 and f"head {report['head']}" in " ".join(out.split())

    # The edit of issue 10, by someone with the file: guards out of the way first.
    conn = sqlite3.connect(project_dir / ".odooplane" / "evidence.sqlite")
    conn.execute("DROP TRIGGER deployments_no_update")
    conn.execute(
        "UPDATE deployments SET approved_by = 'mallory' WHERE id = ?",
        (good.replace("-", ""),),
    )
    conn.commit()
    conn.close()
    code, out, err = run([*base, "evidence", "verify"], capsys)
    assert code == 1
    assert f"ops.deployments record {good}" in " ".join(out.split())
    assert "approved_by changed" in out
    assert "does not match its hash chain: 1 break(s)" in err
