"""Postmortems from evidence: a failed deployment shows its timeline, the commits since
the previous deployment, the first error and the rollback taken."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import run_git
from odooplane.errors import ExternalToolError
from odooplane.evidence.postmortem import changes_between, postmortem
from odooplane.evidence.store import EvidenceStore
from odooplane.project import Project


def _commit(repo: Path, name: str, message: str) -> str:
    (repo / name).write_text(message + "\n")
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", message)
    return run_git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo_project(project: Project) -> Project:
    """The test project folder as a real git repository."""
    run_git(project.root, "init", "-q", "-b", "main")
    return project


def test_postmortem_of_a_failed_deployment(
    repo_project: Project,
    make_store: Callable[..., EvidenceStore],
    clock: object,
    secrets: dict[str, str],
) -> None:
    repo = repo_project.root
    first = _commit(repo, "a.txt", "Initial addons")
    store = make_store()
    with store.start_deployment("production", git_sha=first) as good:
        with good.step("upgrade") as step:
            step.line("all fine")
        good.record_health_check("http", ok=True)
    clock.advance(days=1)  # type: ignore[attr-defined]
    _commit(repo, "b.txt", "Add field x_discount to sale.order")
    broken = _commit(repo, "c.txt", "Rename x_discount without migration")
    build = store.record_build(git_sha=broken, branch="main", odoo_series="17.0")
    store.record_gate_run("tests", "passed", git_sha=broken, build_id=build.id, summary="42 ok")
    noise = "\n".join(f"INFO acme odoo.modules.loading: loading {n}" for n in range(40))
    failing = (
        f"{noise}\n"
        "Traceback (most recent call last):\n"
        '  File "odoo/modules/migration.py", line 12, in migrate_module\n'
        "psycopg2.errors.UndefinedColumn: column x_discount does not exist\n"
        f"db_password={secrets['production']}\n"
    )
    with (
        pytest.raises(ExternalToolError),
        store.start_deployment(
            "production", git_sha=broken, build_id=build.id, approved_by="carol"
        ) as failed,
    ):
        with failed.step("snapshot") as step:
            step.line("snapshot acme_production@pre-deploy taken")
            clock.advance(seconds=12)  # type: ignore[attr-defined]
        failed.record_migration(
            "sale_custom", from_version="17.0.1.0", to_version="17.0.2.0", status="failed"
        )
        with failed.step("upgrade modules") as step:
            clock.advance(seconds=30)  # type: ignore[attr-defined]
            step.run(
                [
                    sys.executable,
                    "-c",
                    f"import sys; sys.stdout.write({failing!r}); sys.exit(1)",
                ]
            )
    # The environment restored its snapshot: recorded as a rollback deployment.
    clock.advance(seconds=40)  # type: ignore[attr-defined]
    with store.start_deployment(
        "production", git_sha=first, kind="rollback", rollback_of=failed.id, approved_by="carol"
    ) as rollback:
        with rollback.step("restore snapshot") as step:
            step.line("restored acme_production@pre-deploy")
        rollback.record_health_check("http", ok=True, detail="200")

    text = postmortem(store, failed.id.hex[:8])

    assert text.startswith(f"# Postmortem: deployment `{failed.id.hex[:8]}` to production")
    assert "**failed**" in text and "carol" in text
    # Timeline: a Mermaid gantt with the failed step marked critical.
    gantt = text.split("```mermaid", 1)[1].split("```", 1)[0]
    assert "gantt" in gantt and "dateFormat x" in gantt
    assert re.search(r"snapshot :done, s1, \d+, \d+", gantt)
    assert re.search(r"upgrade modules :crit, s2, \d+, \d+", gantt)
    # What changed: the two new commits, not the one already deployed.
    assert "Add field x_discount to sale.order" in text
    assert "Rename x_discount without migration" in text
    assert "Initial addons" not in text
    assert f"Commits from `{first[:12]}` (previous deployment)" in text
    assert "| sale_custom | 17.0.1.0 | 17.0.2.0 |" in text
    assert "| tests | passed |" in text
    # The log excerpt starts 10 lines before the traceback, not at the top of the log.
    excerpt = text.split("## First error", 1)[1].split("## Rollback", 1)[0]
    assert "Traceback (most recent call last):" in excerpt
    assert "UndefinedColumn: column x_discount does not exist" in excerpt
    assert "loading 29" not in excerpt and "loading 30" in excerpt
    assert "db_password=***" in excerpt and secrets["production"] not in text
    rollback_section = text.split("## Rollback", 1)[1].split("## Open questions", 1)[0]
    assert f"Rollback deployment `{rollback.id.hex[:8]}`" in rollback_section
    assert "outcome **succeeded**" in rollback_section
    questions = text.split("## Open questions", 1)[1]
    assert "Why did step 'upgrade modules' fail" in questions
    assert "No health check was recorded" in questions


def test_rollback_inside_the_deployment_and_unreachable_commits(
    repo_project: Project, make_store: Callable[..., EvidenceStore]
) -> None:
    store = make_store()
    with store.start_deployment("staging", git_sha="d" * 40) as first:
        pass
    rec = store.start_deployment("staging", git_sha="e" * 40)
    with pytest.raises(RuntimeError), rec.step("upgrade") as step:
        step.line("ERROR odoo: cannot load module")
        raise RuntimeError("module failed")
    rec.finish(
        "rolled_back",
        error="module failed",
        rollback={"snapshot": "acme_staging@before", "restored_sha": first.git_sha},
    )
    text = postmortem(store, str(rec.id))
    assert "are not reachable" in text
    assert "- snapshot: `acme_staging@before`" in text
    assert "RuntimeError: module failed" in text
    assert "No gate run was recorded" in text


def test_changes_between_lists_new_commits(make_git_repo: Callable[..., Path]) -> None:
    repo = make_git_repo()
    base = run_git(repo, "rev-parse", "HEAD")
    head = _commit(repo, "x.txt", "Second")
    changes = changes_between(repo, base, head)
    assert [c.subject for c in changes.commits] == ["Second"]
    same = changes_between(repo, head, head)
    assert same.commits == [] and same.note is not None and "same code" in same.note
    first_time = changes_between(repo, None, head)
    assert [c.subject for c in first_time.commits] == ["Second", "initial commit"]
