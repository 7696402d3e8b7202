"""The comment step against the local GitHub: preview and gates sections, the password
only where allowed, closing rewrites the preview section only; the step summary."""

from __future__ import annotations

from pathlib import Path

from fixtures_github import FakeGitHub
from odooplane.config import load_config_text
from odooplane.github.client import GitHubClient, resolve_settings
from odooplane.github.comments import MARKER, sections
from odooplane.github.events import PullRequestEvent
from odooplane.github.jobs import RunInfo, comment
from odooplane.project import Project

SHA = "a" * 40
RUN = "https://github.com/acme/erp/actions/runs/9"


def event(private: bool = True, **extra: object) -> PullRequestEvent:
    fields: dict[str, object] = dict(
        action="opened",
        number=5,
        title="t",
        author="dev",
        head_sha=SHA,
        head_ref="feature/x",
        head_repository="acme/erp",
        base_sha="b" * 40,
        base_ref="main",
        repository="acme/erp",
        private=private,
        merged=False,
        draft=False,
        html_url="",
    )
    fields.update(extra)
    return PullRequestEvent(**fields)  # type: ignore[arg-type]


def gates_report() -> dict[str, object]:
    return {
        "project": "erp",
        "git_sha": SHA,
        "build_id": None,
        "environment": None,
        "seconds": 3.0,
        "status": "failed",
        "ok": False,
        "changes": {
            "base": "b" * 40,
            "ref": SHA,
            "changed": ["sale_x"],
            "dependents": [],
            "all_addons": False,
            "files": {},
            "other_files": [],
            "selected": ["sale_x"],
        },
        "results": [
            {
                "gate": "tests",
                "title": "Tests",
                "status": "failed",
                "summary": "1 of 3 failed",
                "seconds": 2.0,
                "log": None,
                "record_id": "4d2c" + "0" * 28,
                "details": {},
                "counts": {},
                "cases": [
                    {
                        "classname": "sale_x.tests.T",
                        "name": "test_a",
                        "status": "failed",
                        "seconds": 0.1,
                        "message": "AssertionError",
                        "details": "Traceback",
                    }
                ],
            },
        ],
    }


PREVIEW = {
    "environment": "pr-5-feature-x",
    "pr": 5,
    "status": "running",
    "login": "admin",
    "password": "s3cret-pass",
    "url": "http://pr-5-feature-x.localhost",
    "build": SHA,
    "data": "staging",
    "evidence_id": "77aa" + "0" * 28,
}


def project(tmp_path: Path, policy: str = "private") -> Project:
    text = (
        "project: erp\nodoo: {series: '17.0', source: /opt/odoo-src/17.0}\n"
        f"github: {{show_password: {policy}}}\n"
    )
    return Project(root=tmp_path, config=load_config_text(text, tmp_path / "odooplane.yaml"))


def test_one_comment_through_the_pull_requests_life(tmp_path: Path, github: FakeGitHub) -> None:
    github.add_pull(5, SHA)
    client = GitHubClient(resolve_settings())
    summary = tmp_path / "summary.md"
    run = RunInfo(RUN, summary)
    made = comment(
        project(tmp_path),
        event(),
        client=client,
        run=run,
        gates=gates_report(),
        preview=PREVIEW,
        gates_given=True,
    )
    assert made.action == "created"
    body = github.comments_on(5)[0]["body"]
    assert body.startswith(MARKER)
    assert "[pr-5-feature-x](http://pr-5-feature-x.localhost)" in body
    assert "`s3cret-pass`" in body and "`77aa0000`" in body
    assert "❌ odooplane gates: failed" in body and f"[4d2c0000]({RUN})" in body
    assert "sale_x.tests.T.test_a" in body
    # The summary says where the comment is, never the password.
    text = summary.read_text()
    assert made.url in text and "s3cret-pass" not in text
    closed = comment(
        project(tmp_path),
        event(merged=True),
        client=client,
        run=run,
        gates=None,
        preview={"environment": "pr-5-feature-x", "status": "removed", "closed_as": "merged"},
        gates_given=False,
    )
    assert closed.action == "updated" and closed.id == made.id
    parts = sections(github.comments_on(5)[0]["body"])
    assert parts["preview"].startswith("### 🧹 Preview removed")
    assert "merged" in parts["preview"] and "s3cret-pass" not in parts["preview"]
    assert "❌ odooplane gates: failed" in parts["gates"]
    assert len(github.comments_on(5)) == 1


def test_no_password_on_a_public_repository(tmp_path: Path, github: FakeGitHub) -> None:
    github.add_pull(5, SHA)
    client = GitHubClient(resolve_settings())
    comment(
        project(tmp_path),
        event(private=False),
        client=client,
        run=RunInfo(),
        gates=None,
        preview=PREVIEW,
        gates_given=True,
    )
    body = github.comments_on(5)[0]["body"]
    assert "s3cret-pass" not in body and "odooplane preview show --pr 5" in body
    assert "💥 odooplane gates: they did not run" in body
    comment(
        project(tmp_path, "always"),
        event(private=False),
        client=client,
        run=RunInfo(),
        gates=None,
        preview={"status": "failed", "build": SHA, "error": "addon x broke"},
        gates_given=False,
    )
    parts = sections(github.comments_on(5)[0]["body"])
    assert "❌ Preview failed" in parts["preview"] and "addon x broke" in parts["preview"]


def test_previews_removed_by_gc_are_told_to_github(github: FakeGitHub) -> None:
    from odooplane.github.deployments import ensure_deployment, post_deployment_status
    from odooplane.github.jobs import report_removals

    client = GitHubClient(resolve_settings())
    github.add_pull(5, SHA)
    github.add_pull(6, SHA)
    comment_id = client.post("/repos/acme/erp/issues/5/comments", {"body": MARKER + "\nold"})["id"]
    for env in ("pr-5-feature-x", "pr-6-other"):
        number = ensure_deployment(client, environment=env, sha=SHA, description="preview")
        post_deployment_status(client, number, environment=env, state="success")
    inactive, touched = report_removals(
        client, [("pr-5-feature-x", "expired"), ("pr-6-other", "closed")], RunInfo(RUN)
    )
    assert sorted(inactive) == ["pr-5-feature-x", "pr-6-other"]
    assert github.deployment_states("pr-6-other") == ["success", "inactive"]
    assert touched == {5: "updated"}
    assert "removed (expired)" in github.comments[comment_id]["body"]
    assert github.comments_on(6) == []
