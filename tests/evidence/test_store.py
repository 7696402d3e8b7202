"""The evidence store on SQLite and a real PostgreSQL: recording, append-only guards,
retrieval, redaction."""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from fixtures_disk import fill
from odooplane.errors import CheckFailedError, ExternalToolError, NotFoundError, UsageError
from odooplane.evidence import schema
from odooplane.evidence.artifacts import sha256_of
from odooplane.evidence.postmortem import postmortem
from odooplane.evidence.store import EvidenceStore
from odooplane.project import Project

SHA_A = "a" * 40
SHA_B = "b" * 40


def _all_text(store: EvidenceStore) -> str:
    """Every stored value of every evidence table, as text."""
    chunks = []
    with store.engine.connect() as conn:
        for table in schema.RECORD_TABLES:
            for row in conn.execute(sa.select(table)).mappings():
                chunks.append(repr(dict(row)))
    return "\n".join(chunks)


def _artifacts_text(project: Project) -> str:
    root = project.root / "web" / "docs" / "evidence"
    return "\n".join(p.read_text() for p in sorted(root.rglob("*")) if p.is_file())


def test_record_build_is_idempotent(store: EvidenceStore) -> None:
    first = store.record_build(
        git_sha=SHA_A,
        branch="main",
        commit_message="Add sale_custom",
        author="Ann <ann@example.com>",
        odoo_series="17.0",
        odoo_revision="c0ffee" * 6,
        dependencies_hash="d" * 64,
    )
    again = store.record_build(
        git_sha=SHA_A,
        branch="main",
        commit_message="Add sale_custom",
        odoo_series="17.0",
        odoo_revision="c0ffee" * 6,
        dependencies_hash="d" * 64,
    )
    other = store.record_build(git_sha=SHA_A, odoo_revision="c0ffee" * 6, dependencies_hash="e")
    assert first.id == again.id != other.id
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.builds)).scalar() == 2


IMAGE = "sha256:" + "c" * 64
REBUILT = "sha256:" + "d" * 64


def test_a_build_image_is_recorded_with_its_build_and_shown_by_history(
    store: EvidenceStore, clock: object
) -> None:
    build = store.record_build(git_sha=SHA_A, branch="main")
    layers = {"runtime": "sha256:" + "1" * 64, "odoo": "sha256:" + "2" * 64}
    first = store.record_build_image(
        build.id,
        git_sha=SHA_A,
        image_id=IMAGE,
        tag="odooplane/acme:aaaaaaaaaaaa",
        base_image="odooplane/debian:bookworm",
        base_image_id="sha256:" + "0" * 64,
        layers={**layers, "build": IMAGE},
        size_bytes=1_400_000_000,
    )
    # The same image of the same build again (every deploy of it) stores nothing new.
    again = store.record_build_image(build.id, git_sha=SHA_A, image_id=IMAGE)
    assert first.id == again.id and first.short_id == "c" * 12
    clock.advance(minutes=1)  # type: ignore[attr-defined]
    deployed = store.start_deployment("production", git_sha=SHA_A, build_id=build.id)
    deployed.finish("succeeded")
    # The build's image made again later (another base image) is a record of its own,
    # which the earlier deployment did not run.
    clock.advance(minutes=1)  # type: ignore[attr-defined]
    store.record_build_image(build.id, git_sha=SHA_A, image_id=REBUILT)
    clock.advance(minutes=1)  # type: ignore[attr-defined]
    later = store.start_deployment("staging", git_sha=SHA_A, build_id=build.id)
    later.finish("succeeded")
    plain = store.start_deployment("staging", git_sha=SHA_B)
    plain.finish("succeeded")
    by_id = {row.id: row for row in store.history(limit=10)}
    assert by_id[deployed.id].image_id == IMAGE
    assert by_id[later.id].image_id == REBUILT
    assert by_id[plain.id].image_id is None
    assert by_id[deployed.id].to_dict()["image_id"] == IMAGE
    detail = store.deployment(deployed.id)
    assert [i.image_id for i in detail.images] == [IMAGE, REBUILT]
    assert detail.images[0].layers == {**layers, "build": IMAGE}
    assert detail.images[0].tag == "odooplane/acme:aaaaaaaaaaaa"
    assert [i.image_id for i in store.build_images(git_sha=SHA_A)] == [IMAGE, REBUILT]
    assert f"| Image | `{IMAGE}` |" in postmortem(store, str(deployed.id))
    with store.engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(schema.build_images))
        assert count.scalar() == 2
    # Chained like every record, and append-only.
    assert store.verify().ok
    for statement in (
        sa.update(schema.build_images).values(image_id=REBUILT),
        sa.delete(schema.build_images),
    ):
        with (
            pytest.raises(sa.exc.DBAPIError, match="append-only"),
            store._write_connection() as conn,
        ):
            conn.execute(statement)
    with pytest.raises(UsageError, match="not an image id"):
        store.record_build_image(build.id, git_sha=SHA_A, image_id="latest")


def test_record_build_from_git_reads_the_commit(
    store: EvidenceStore, make_git_repo: Callable[..., Path]
) -> None:
    repo = make_git_repo(files={"addons/x/__init__.py": ""})
    build = store.record_build_from_git(repo, odoo_series="17.0", dependencies_hash="abc")
    assert build.branch == "main"
    assert build.commit_message == "initial commit"
    assert build.author == "Test Author <author@example.com>"
    assert build.committed_at is not None
    assert len(build.git_sha) == 40


def test_deployment_is_recorded_step_by_step(store: EvidenceStore, clock: object) -> None:
    build = store.record_build(git_sha=SHA_A, branch="main")
    with store.start_deployment(
        "staging", git_sha=SHA_A, build_id=build.id, approved_by="alice"
    ) as rec:
        with rec.step("install modules") as step:
            step.run(
                [sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr)"]
            )
            clock.advance(seconds=3)  # type: ignore[attr-defined]
        with rec.step("restart") as step:
            step.line("restarted")
            clock.advance(seconds=1)  # type: ignore[attr-defined]
        rec.record_migration(
            "sale", from_version="17.0.1.0", to_version="17.0.1.1", scripts=["1.1/post-x.py"]
        )
        rec.record_health_check("http /web/login", ok=True, detail="200 in 35 ms")
    history = store.history()
    assert [h.id for h in history] == [rec.id]
    summary = history[0]
    assert summary.outcome == "succeeded"
    assert summary.duration_ms == 4000
    assert summary.approved_by == "alice"
    assert summary.build_id == build.id
    assert summary.artifacts_dir is not None
    assert summary.artifacts_dir.startswith("web/docs/evidence/20260314-1530+0800/deploy-staging-")

    detail, logs = store.logs(rec.id.hex[:8])
    assert [s.name for s in detail.steps] == ["install modules", "restart"]
    assert [s.status for s in detail.steps] == ["succeeded", "succeeded"]
    assert detail.steps[0].duration_ms == 3000
    assert detail.migrations[0].module == "sale"
    assert detail.migrations[0].scripts == ["1.1/post-x.py"]
    assert detail.health_checks[0].status == "passed"
    assert detail.result["health_checks"][0]["name"] == "http /web/login"
    first = logs[0]
    assert first.text is not None and "out\n" in first.text and "err\n" in first.text
    assert first.verified is True
    assert first.path is not None and first.path.name == "01-install-modules.log"
    assert sha256_of(first.path) == detail.steps[0].artifact_sha256
    assert (first.path.parents[1] / "record.json").is_file()
    # Events are rows, numbered without gaps.
    assert [e.seq for e in detail.events] == list(range(1, len(detail.events) + 1))


def test_previous_deployment_is_the_last_successful_one(
    store: EvidenceStore, clock: object
) -> None:
    with store.start_deployment("production", git_sha=SHA_A) as first:
        pass
    clock.advance(minutes=5)  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError), store.start_deployment("production", git_sha=SHA_B) as failed:
        raise RuntimeError("boom")
    clock.advance(minutes=5)  # type: ignore[attr-defined]
    third = store.start_deployment("production", git_sha=SHA_B)
    third.finish("succeeded")
    summaries = {s.id: s for s in store.history("production")}
    assert summaries[failed.id].outcome == "failed"
    assert summaries[failed.id].previous_deployment_id == first.id
    assert summaries[third.id].previous_deployment_id == first.id
    assert [s.id for s in store.history("production", limit=2)] == [third.id, failed.id]
    assert store.history("staging") == []


def test_a_failing_step_records_the_error_and_the_outcome(store: EvidenceStore) -> None:
    with (
        pytest.raises(ExternalToolError, match="exited with code 3"),
        store.start_deployment("staging", git_sha=SHA_A) as rec,
        rec.step("upgrade") as step,
    ):
        step.run([sys.executable, "-c", "print('Traceback: KeyError x'); raise SystemExit(3)"])
    detail, logs = store.logs("staging")
    assert detail.summary.outcome == "failed"
    assert detail.steps[0].status == "failed"
    assert detail.steps[0].error is not None and "exited with code 3" in detail.steps[0].error
    assert "exited with code 3" in str(detail.result["error"])
    assert logs[0].text is not None and "[exit 3" in logs[0].text


def test_step_status_can_be_set_without_raising(store: EvidenceStore) -> None:
    rec = store.start_deployment("staging", git_sha=SHA_A)
    with rec.step("optional demo data") as step:
        step.skip("no demo on staging")
    with rec.step("check") as step:
        step.fail("3 modules not upgradable")
    rec.finish("failed", error="check failed")
    detail = store.deployment(rec.id)
    assert [s.status for s in detail.steps] == ["skipped", "failed"]
    assert detail.steps[1].error == "3 modules not upgradable"
    with pytest.raises(UsageError, match="already finished"):
        rec.note("late")


def test_update_and_delete_are_rejected(store: EvidenceStore) -> None:
    build = store.record_build(git_sha=SHA_A)
    with store.start_deployment("staging", git_sha=SHA_A, build_id=build.id) as rec:
        rec.note("hello")
    statements = [
        sa.update(schema.deployments).values(approved_by="mallory"),
        sa.delete(schema.deployments),
        sa.update(schema.builds).values(branch="other"),
        sa.delete(schema.builds),
        sa.update(schema.deployment_events).values(status="succeeded"),
        sa.delete(schema.deployment_events),
    ]
    for statement in statements:
        with (
            pytest.raises(sa.exc.DBAPIError, match="append-only"),
            store._write_connection() as conn,
        ):
            conn.execute(statement)
    if store.location.backend == "postgresql":
        with (
            pytest.raises(sa.exc.DBAPIError, match="append-only"),
            store._write_connection() as conn,
        ):
            conn.execute(sa.text("TRUNCATE ops.deployment_events"))
    assert store.deployment(rec.id).summary.approved_by is None
    assert len(store.deployment(rec.id).events) == 2


def test_a_declared_run_without_a_record_cannot_delete(store: EvidenceStore) -> None:
    store.start_deployment("staging", git_sha=SHA_A).finish("succeeded")
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), store._write_connection() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                sa.text("SELECT set_config('odooplane.retention_run', :r, true)"),
                {"r": str(uuid.uuid4())},
            )
        else:
            conn.execute(
                sa.text("INSERT INTO ops.retention_guard (run_id) VALUES (:r)"),
                {"r": uuid.uuid4().hex},
            )
        conn.execute(sa.delete(schema.deployment_events))


def test_secrets_are_redacted_from_records_and_artifacts(
    store: EvidenceStore, project: Project, secrets: dict[str, str]
) -> None:
    prod, staging = secrets["production"], secrets["staging"]
    store.record_build(git_sha=SHA_A, commit_message=f"oops, committed {prod}")
    with store.start_deployment("production", git_sha=SHA_A) as rec:
        with rec.step("upgrade") as step:
            step.run(
                [sys.executable, "-c", "import os; print('pw is', os.environ['X_PASS'])"],
                env={"X_PASS": prod, "PATH": "/usr/bin:/bin"},
            )
            step.line(f"token={staging} and url postgresql://odoo:dbpw777@db/x")
            step.write(f"split across writes: {prod[:5]}")
            step.write(f"{prod[5:]} end\n")
        rec.note(f"used {staging}", config={"admin_passwd": "plain-admin-pw"})
    with store.gate_run("tests", git_sha=SHA_A) as gate:
        gate.line(f"leaked {prod}")
        gate.details = {"api_key": "k-123456", "passed": 3}
    store.record_neutralization(
        "staging", "acme_staging", status="succeeded", output=f"mail password {prod}"
    )
    stored = _all_text(store) + _artifacts_text(project)
    for secret in (prod, staging, "dbpw777", "plain-admin-pw", "k-123456"):
        assert secret not in stored
    assert "***" in stored
    _, logs = store.logs("production")
    assert logs[0].text is not None
    assert "pw is ***" in logs[0].text
    assert "split across writes: *** end" in logs[0].text


def test_gate_runs_and_neutralizations_are_recorded(store: EvidenceStore) -> None:
    build = store.record_build(git_sha=SHA_A)
    with store.gate_run("tests", git_sha=SHA_A, build_id=build.id) as gate:
        gate.line("Ran 12 tests")
        gate.summary = "12 passed"
    with pytest.raises(CheckFailedError), store.gate_run("security", git_sha=SHA_A) as gate:
        raise CheckFailedError("2 critical findings")
    recorded = store.record_gate_run(
        "migration-dry-run", "passed", git_sha=SHA_A, output="ok\n", duration_s=1.5
    )
    neutralization = store.record_neutralization(
        "staging",
        "acme_staging",
        source_database="acme_production",
        status="succeeded",
        rules=["odoo:mail", "odooplane:crons"],
        verification={"ok": True, "checks": 14},
        output="done\n",
    )
    assert recorded.duration_ms == 1500
    assert neutralization.rules == ["odoo:mail", "odooplane:crons"]
    rec = store.start_deployment("staging", git_sha=SHA_A, build_id=build.id)
    rec.finish("succeeded")
    gates = store.deployment(rec.id).gate_runs
    assert [(g.gate, g.status) for g in gates] == [
        ("tests", "passed"),
        ("security", "failed"),
        ("migration-dry-run", "passed"),
    ]
    assert gates[0].summary == "12 passed"
    assert gates[1].summary == "2 critical findings"
    assert gates[0].artifact_sha256 is not None


def test_resolve_by_prefix_environment_or_not_found(store: EvidenceStore) -> None:
    rec = store.start_deployment("staging", git_sha=SHA_A)
    rec.finish("succeeded")
    assert store.resolve(str(rec.id)).id == rec.id
    assert store.resolve(rec.id.hex[:10]).id == rec.id
    assert store.resolve(str(rec.id)[:13]).id == rec.id
    assert store.resolve("staging").id == rec.id
    with pytest.raises(NotFoundError, match="nope"):
        store.resolve("nope")
    with pytest.raises(NotFoundError):
        store.logs("staging", step="no-such-step")


def test_follow_streams_a_running_deployment(store: EvidenceStore) -> None:
    rec = store.start_deployment("staging", git_sha=SHA_A)
    gate = threading.Event()
    chunks: list[str] = []

    def reader() -> None:
        for chunk in store.follow(str(rec.id), poll_seconds=0.05):
            chunks.append(chunk)
            gate.set()

    with rec.step("first") as step:
        step.line("line one")
        thread = threading.Thread(target=reader)
        thread.start()
        assert gate.wait(10)
        step.line("line two")
    with rec.step("second") as step:
        step.line("line three")
    rec.finish("succeeded")
    thread.join(20)
    assert not thread.is_alive()
    text = "".join(chunks)
    assert text.index("==> first <==") < text.index("line one") < text.index("line two")
    assert text.index("line two") < text.index("==> second <==") < text.index("line three")
    assert text.endswith("==> outcome: succeeded <==\n")


def test_context_manager_records_success_and_cancellation(store: EvidenceStore) -> None:
    with store.start_deployment("staging", git_sha=SHA_A) as ok:
        pass
    with (
        pytest.raises(KeyboardInterrupt),
        store.start_deployment("staging", git_sha=SHA_A) as cancelled,
    ):
        raise KeyboardInterrupt
    outcomes = {s.id: s.outcome for s in store.history()}
    assert outcomes == {ok.id: "succeeded", cancelled.id: "cancelled"}
    with pytest.raises(UsageError, match="not a deployment outcome"):
        store.start_deployment("staging", git_sha=SHA_A).finish("great")
    with pytest.raises(UsageError, match="not a git commit SHA"):
        store.start_deployment("staging", git_sha="main")


def test_environment_definitions_are_recorded_once_per_change(store: EvidenceStore) -> None:
    first = store.record_environment("staging")
    assert first is not None and store.record_environment("staging") == first
    assert store.record_environment("nowhere") is None
    store.start_deployment("staging", git_sha=SHA_A).finish("succeeded")
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(schema.environments)).mappings().all()
    assert len(rows) == 1
    assert rows[0]["kind"] == "staging" and rows[0]["definition"]["env_file"] == ".env.staging"


def test_identifiers_survive_an_env_value_that_equals_them(
    store: EvidenceStore, project: Project
) -> None:
    # An env file value that happens to be an environment's name: logs lose it (it is
    # a value from an env file), the records keep finding the environment by name.
    store.redactor.add_mapping({"SITE": "staging"})
    with store.start_deployment("staging", git_sha=SHA_A) as rec, rec.step("say") as step:
        step.line("site is staging")
    detail, logs = store.logs("staging")
    assert detail.summary.environment == "staging" and detail.summary.id == rec.id
    assert logs[0].text == "site is ***\n"


def test_a_full_artifacts_disk_is_a_warning_with_the_log_tail_kept(
    make_project: Callable[..., Project],
    tmp_path: Path,
    small_disk: Callable[..., Path],
) -> None:
    disk = small_disk("artifacts")
    project = make_project(tmp_path / "full", artifacts=str(disk))
    with EvidenceStore.open(project) as store:
        fill(disk)
        with store.start_deployment("production", git_sha=SHA_A) as rec:
            with rec.step("update modules") as step:
                for number in range(100):
                    step.line(f"loading module {number}")
            rec.finish("succeeded")
        detail = store.deployment(rec.id)
        assert detail.summary.outcome == "succeeded"
        [step_record] = detail.steps
        assert step_record.status == "succeeded"
        assert step_record.artifact_sha256 is None
        finished = next(e for e in detail.events if e.kind == "step_finished")
        assert "No space left on device" in (finished.data or {})["artifact_error"]
        assert (finished.data or {})["output_tail"].endswith("loading module 99\n")
        assert any("could not be written" in w for w in store.warnings)
        # A failed step whose log is lost: its postmortem shows the lines kept.
        with store.start_deployment("production", git_sha=SHA_A) as failed:
            with failed.step("update modules") as step:
                step.line("ERROR acme odoo.modules.loading: broken view")
                step.fail("update failed")
            failed.finish("rolled_back")
        text = postmortem(store, str(failed.id), repo=tmp_path)
        assert "broken view" in text


def test_a_full_sqlite_disk_spools_and_delivers_later(
    make_project: Callable[..., Project], tmp_path: Path, small_disk: Callable[..., Path]
) -> None:
    disk = small_disk("store", size="2m")
    project = make_project(tmp_path / "spooling", f"sqlite:///{disk / 'evidence.sqlite'}")
    with EvidenceStore.open(project) as store:
        store.record_build(git_sha=SHA_A, branch="main")  # creates the file
        fill(disk)
        # The database cannot grow: records wait in the local spool (on the state
        # folder's disk), in order, and the deployment goes on.
        with store.start_deployment("production", git_sha=SHA_A) as rec:
            with rec.step("switch") as step:
                step.line("switched")
            rec.finish("succeeded")
        assert store.local_spool is not None and store.local_spool.pending_rows() >= 4
        assert any("delivered by the next command" in w for w in store.warnings)
    (disk / ".filler").unlink()
    with EvidenceStore.open(project) as store:
        assert store.local_spool is not None and store.local_spool.is_empty()
        assert store.deployment(rec.id).summary.outcome == "succeeded"
        assert store.verify().ok


def test_an_interrupted_deployment_is_closed_once_naming_its_step(
    store: EvidenceStore, tmp_path: Path
) -> None:
    rec = store.start_deployment("production", git_sha=SHA_A)
    with rec.step("stop"):
        pass
    step = rec.step("update modules")
    step.__enter__().line("loading...")
    # The process dies here: no step_finished, no outcome.
    assert store.deployment(rec.id).summary.outcome == "running"
    recovery = store.start_deployment("production", git_sha=SHA_A, kind="recover")
    closed = store.close_interrupted(
        rec.id, phase="updating", step="update modules", recovered_by=recovery.id
    )
    assert closed == ["update modules"]
    again = store.close_interrupted(rec.id, phase="updating")
    assert again == []
    detail = store.deployment(rec.id)
    assert detail.summary.outcome == "interrupted"
    assert [s.status for s in detail.steps] == ["succeeded", "interrupted"]
    assert detail.result["interrupted_step"] == "update modules"
    assert detail.result["recovered_by"] == str(recovery.id)
    assert sum(1 for e in detail.events if e.kind == "finished") == 1
    text = postmortem(store, str(rec.id), repo=tmp_path)
    assert "No step failed" not in text
    assert "Step **update modules** was interrupted" in text
    assert "loading..." in text
