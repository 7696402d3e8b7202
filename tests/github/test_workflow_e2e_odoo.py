"""End to end: the generated pull-request workflows, run step by step on this machine
(tests/actions_runner.py: the runner's environment, expressions, `if`s, env layers,
`bash -eo pipefail`), with real event payloads (opened, synchronize, closed, and a
fork's opened), a real Odoo 17 preview behind Caddy, real gates, a real git remote
(file://) standing for GitHub's git, and the local GitHub API server.
"""

from __future__ import annotations

import http.client
import json
import shutil
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from actions_runner import JobResult, LocalRunner
from conftest import TEST_CACHE, run_git, write_addon
from fixtures_github import FakeGitHub, serve
from odooplane.backends.supervisor import SupervisorBackend
from odooplane.config import load_config
from odooplane.environments import api as envs
from odooplane.environments.state import StateStore
from odooplane.github.comments import MARKER, sections
from odooplane.github.workflows import FOLDER, init
from odooplane.mailcatcher import stop_catcher
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.source import OdooSource
from odooplane.postgres.server import DatabaseServer
from odooplane.previews import api as previews
from odooplane.previews.records import BASE_NAME
from odooplane.project import Project
from odooplane.routing import router_for
from routing.conftest import free_port

pytestmark = [pytest.mark.odoo, pytest.mark.slow]

CONTROLLER = """from odoo import http


class Hello(http.Controller):
    @http.route("/hello", type="http", auth="none")
    def hello(self):
        return "{text}"
"""
TEST = """from odoo.tests.common import TransactionCase


class TestHello(TransactionCase):
    def test_partner(self):
        self.assertTrue(self.env["res.partner"].create({"name": "{text}"}).id)
"""


@dataclass
class Scenario:
    project: Project
    repo: Path
    remote: Path
    github: FakeGitHub
    runner: LocalRunner
    front: int

    def commit_branch(self, branch: str, text: str, *, start: str = "main") -> str:
        run_git(self.repo, "checkout", "-q", "-B", branch, start)
        hello = self.repo / "addons" / "hello"
        (hello / "controllers" / "main.py").write_text(CONTROLLER.replace("{text}", text))
        (hello / "tests" / "test_hello.py").write_text(TEST.replace("{text}", text))
        run_git(self.repo, "add", "-A")
        run_git(self.repo, "commit", "-qm", f"{branch}: {text}")
        sha = run_git(self.repo, "rev-parse", "HEAD").strip()
        run_git(self.repo, "checkout", "-q", "main")
        return sha

    def push_pull(self, number: int, branch: str) -> None:
        """What GitHub keeps for a pull request: its head under refs/pull/N/head."""
        run_git(
            self.repo, "push", "-q", "-f", str(self.remote), f"{branch}:refs/pull/{number}/head"
        )

    def get(self, host: str, path: str) -> tuple[int, str]:
        """Status and body through the front door; (0, reason) when nothing listens there
        any more (the last preview's route removed)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.front, timeout=60)
        try:
            try:
                conn.request("GET", path, headers={"Host": host})
            except ConnectionRefusedError as exc:
                return 0, str(exc)
            response = conn.getresponse()
            return response.status, response.read().decode(errors="replace")
        finally:
            conn.close()

    def workflow(self, name: str) -> Path:
        return self.repo / FOLDER / name


def payload(
    action: str,
    number: int,
    head: str,
    base: str,
    branch: str,
    *,
    fork: bool = False,
    merged: bool = False,
    before: str | None = None,
) -> dict[str, Any]:
    """A pull_request webhook payload as GitHub sends it (the fields odooplane and the
    workflow read, in their places)."""
    repo = {
        "id": 1,
        "full_name": "acme/erp",
        "name": "erp",
        "private": True,
        "owner": {"login": "acme"},
        "default_branch": "main",
    }
    head_repo = (
        {
            "id": 2,
            "full_name": "mallory/erp",
            "name": "erp",
            "private": False,
            "owner": {"login": "mallory"},
        }
        if fork
        else repo
    )
    data: dict[str, Any] = {
        "action": action,
        "number": number,
        "pull_request": {
            "url": f"https://api.github.com/repos/acme/erp/pulls/{number}",
            "html_url": f"https://github.com/acme/erp/pull/{number}",
            "number": number,
            "state": "closed" if action == "closed" else "open",
            "title": f'Login page "{branch}" $(touch /tmp/pwned-{number})',
            "user": {"login": "mallory" if fork else "dev"},
            "body": "`rm -rf ~` ${{ secrets.GITHUB_TOKEN }}",
            "draft": False,
            "merged": merged,
            "head": {
                "label": f"{head_repo['owner']['login']}:{branch}",
                "ref": branch,
                "sha": head,
                "repo": head_repo,
            },
            "base": {"label": "acme:main", "ref": "main", "sha": base, "repo": repo},
        },
        "repository": repo,
        "sender": {"login": "mallory" if fork else "dev"},
    }
    if before:
        data["before"], data["after"] = before, head
    return data


@pytest.fixture(scope="module")
def scenario(
    tmp_path_factory: pytest.TempPathFactory,
    pg_server: DatabaseServer,
    odoo_source: OdooSource,
    odoo_runtime: Runtime,
) -> Iterator[Scenario]:
    if not shutil.which("caddy"):
        pytest.skip("Caddy is not installed (apt-get install caddy)")
    root = tmp_path_factory.mktemp("gh-e2e")
    fake = FakeGitHub()
    with serve(fake), pytest.MonkeyPatch.context() as patch:
        patch.setenv("ODOOPLANE_CACHE_DIR", str(TEST_CACHE))
        patch.setenv("ODOOPLANE_LOCK_TIMEOUT", "300")
        remote = root / "server" / "acme" / "erp.git"
        remote.mkdir(parents=True)
        run_git(remote, "init", "-q", "--bare", "-b", "main")
        repo = root / "srv" / "erp"
        repo.mkdir(parents=True)
        run_git(repo, "init", "-q", "-b", "main")
        front = free_port()
        (repo / "odooplane.yaml").write_text(
            f"project: gh{uuid.uuid4().hex[:6]}\n"
            "odoo:\n"
            f"  series: '{odoo_source.series}'\n"
            f"  source: '{odoo_source.path}'\n"
            "database:\n"
            f"  server: '{pg_server.url(redact=False)}'\n"
            "environments:\n"
            "  production: {kind: production}\n"
            "  staging: {kind: staging, data: {copy: production}}\n"
            "previews: {enabled: true, domain: localhost, max_running: 2}\n"
            "routing:\n"
            "  listen: 127.0.0.1\n"
            f"  http_port: {front}\n"
            f"  https_port: {free_port()}\n"
            "  tls: 'off'\n"
            "github:\n"
            "  runner_labels: [self-hosted, odooplane]\n"
            "  fork_runner_labels: [self-hosted, sandbox]\n"
            "  fork_gates: [security]\n"
            "promotion: {approvers: [ana, dev], forbid_self_approval: true}\n"
        )
        (repo / ".gitignore").write_text(".odooplane/\nweb/\n")
        write_addon(
            repo / "addons",
            "hello",
            # OCA's mandatory checks want the series in the version (manifest-version-format).
            version="17.0.1.0.0",
            extra={
                "__init__.py": "from . import controllers\n",
                "controllers/__init__.py": "from . import main\n",
                "controllers/main.py": CONTROLLER.replace("{text}", "main"),
                "tests/__init__.py": "from . import test_hello\n",
                "tests/test_hello.py": TEST.replace("{text}", "main"),
            },
        )
        project = Project(root=repo, config=load_config(repo / "odooplane.yaml"))
        init(repo, project.config)  # `odooplane ci init github`, committed with the code
        run_git(repo, "add", "-A")
        run_git(repo, "commit", "-qm", "hello, and the generated workflows")
        run_git(repo, "push", "-q", str(remote), "main:main")
        runner = LocalRunner(
            root=root / "runner",
            labels=["self-hosted", "odooplane", "sandbox", "linux"],
            api_url=fake.url,
            server_url=f"file://{root / 'server'}",
            repository="acme/erp",
            token=fake.token,
            variables={"ODOOPLANE_PROJECT": str(repo)},
        )
        # The runner's machine has odooplane on PATH (this test's installation).
        runner.base_env["PATH"] = f"{Path(sys.executable).parent}:{runner.base_env['PATH']}"
        for key in ("GITHUB_TOKEN", "GITHUB_API_URL", "GITHUB_REPOSITORY", "GITHUB_SERVER_URL"):
            runner.base_env.pop(key, None)
        sc = Scenario(project, repo, remote, fake, runner, front)
        try:
            yield sc
        finally:
            (root / "runner-log.txt").write_text("\n".join(runner.log))
            for info in previews.list_previews(sc.project):
                try:
                    previews.down(sc.project, pr=info.pr, reason="test teardown")
                except Exception as exc:
                    print(f"teardown of {info.environment}: {exc}")
            for env in (BASE_NAME, "staging", "production"):
                try:
                    envs.destroy(sc.project, env, force=True)
                except Exception as exc:
                    print(f"teardown of {env}: {exc}")
            router_for(sc.project).stop()
            SupervisorBackend(project.state_dir).shutdown()
            stop_catcher(project.state_dir)


def built(sc: Scenario, env: str) -> str | None:
    state = StateStore(sc.project.state_dir).load(env)
    return state.build if state is not None else None


def job(results: list[JobResult] | None, name: str) -> JobResult:
    assert results is not None, "the workflow did not trigger"
    return next(j for j in results if j.name == name)


def explain(result: JobResult) -> str:
    return "\n".join(f"## {s.name}: {s.outcome}\n{s.output[-3000:]}" for s in result.steps)


def latest_statuses(fake: FakeGitHub, sha: str) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for status in reversed(fake.statuses.get(sha, [])):
        latest[status["context"]] = status
    return latest


def test_environments(scenario: Scenario) -> None:
    envs.create(scenario.project, "production", ref="main")
    assert envs.create(scenario.project, "staging", ref="main").status == "running"


def test_opened(scenario: Scenario) -> None:
    sc = scenario
    base = run_git(sc.repo, "rev-parse", "main").strip()
    head = sc.commit_branch("feature/login-a", "A1")
    sc.push_pull(1, "feature/login-a")
    sc.github.add_pull(1, head)
    results = sc.runner.run(
        sc.workflow("odooplane-pull-request.yml"),
        "pull_request",
        payload("opened", 1, head, base, "feature/login-a"),
    )
    # The pull request's own repository: the main job runs, the fork's is skipped.
    assert job(results, "gates (fork)").skipped
    main = job(results, "gates and preview")
    assert main.conclusion == "success", explain(main)
    assert [s.outcome for s in main.steps] == [
        "success",
        "success",
        "success",
        "success",
        "skipped",
    ], explain(main)
    # A status per gate on the pull request's commit, pending first, then its verdict.
    statuses = latest_statuses(sc.github, head)
    assert sorted(statuses) == [
        "odooplane/migration",
        "odooplane/neutralization",
        "odooplane/security",
        "odooplane/tests",
    ]
    assert {s["state"] for s in statuses.values()} == {"success"}, statuses
    assert all(s["target_url"].endswith("/acme/erp/actions/runs/1000") for s in statuses.values())
    assert [s["state"] for s in reversed(sc.github.statuses[head])][:4] == ["pending"] * 4
    # The preview: a GitHub deployment in_progress, then success with its link.
    url = f"http://pr-1-feature-login-a.localhost:{sc.front}"
    assert sc.github.deployment_states("pr-1-feature-login-a") == ["in_progress", "success"]
    success = sc.github.deployment_statuses[sc.github.deployments[0]["id"]][0]
    assert success["environment_url"] == url and success["log_url"].endswith("/runs/1000")
    assert sc.github.deployments[0]["sha"] == head
    assert sc.get("pr-1-feature-login-a.localhost", "/hello") == (200, "A1")
    # One comment: the link, the login, the gates with their evidence ids.
    [comment] = sc.github.comments_on(1)
    body = comment["body"]
    assert body.startswith(MARKER) and f"[pr-1-feature-login-a]({url})" in body
    assert "| login | `admin` |" in body
    info = previews.show(sc.project, pr=1)
    assert f"`{info.password}`" in body
    assert "✅ odooplane gates: passed" in body and "`hello`" in body
    gates = json.loads(
        (sc.runner.root / "run-1000" / "temp-pull-request" / "odooplane-gates.json").read_text()
    )
    for result in gates["results"]:
        assert result["record_id"][:8] in body
    # The step summary has the gates (the one renderer) and where the comment is.
    assert "odooplane gates: passed" in main.summary and comment["html_url"] in main.summary
    assert info.password not in main.summary
    # The title's shell was never run.
    assert not Path("/tmp/pwned-1").exists()


def test_synchronize(scenario: Scenario) -> None:
    sc = scenario
    base = run_git(sc.repo, "rev-parse", "main").strip()
    before = sc.github.pulls[1]["head"]["sha"]
    head = sc.commit_branch("feature/login-a", "A2", start="feature/login-a")
    sc.push_pull(1, "feature/login-a")
    sc.github.pulls[1]["head"]["sha"] = head
    results = sc.runner.run(
        sc.workflow("odooplane-pull-request.yml"),
        "pull_request",
        payload("synchronize", 1, head, base, "feature/login-a", before=before),
    )
    main = job(results, "gates and preview")
    assert main.conclusion == "success", explain(main)
    assert sc.get("pr-1-feature-login-a.localhost", "/hello") == (200, "A2")
    assert {s["state"] for s in latest_statuses(sc.github, head).values()} == {"success"}
    # The same comment, edited; a deployment of the new commit.
    [comment] = sc.github.comments_on(1)
    assert f"`{head[:12]}`" in comment["body"]
    assert len(sc.github.calls("POST", r"/issues/1/comments$")) == 1
    assert len(sc.github.calls("PATCH", r"/issues/comments/")) == 1
    assert sc.github.deployment_states("pr-1-feature-login-a") == [
        "in_progress",
        "success",
        "in_progress",
        "success",
    ]


def test_a_fork_gets_gates_only(scenario: Scenario) -> None:
    sc = scenario
    base = run_git(sc.repo, "rev-parse", "main").strip()
    head = sc.commit_branch("fork-feature", "F1")
    sc.push_pull(2, "fork-feature")
    sc.github.add_pull(2, head, author="mallory")
    results = sc.runner.run(
        sc.workflow("odooplane-pull-request.yml"),
        "pull_request",
        payload("opened", 2, head, base, "fork-feature", fork=True),
    )
    assert job(results, "gates and preview").skipped
    fork = job(results, "gates (fork)")
    assert fork.conclusion == "success", explain(fork)
    # Its gates ran (only github.fork_gates) and show on the run's summary; nothing was
    # written on GitHub, no preview was made.
    assert "odooplane gates: passed" in fork.summary and "Security" in fork.summary
    assert "Tests" not in fork.summary
    assert sc.github.statuses.get(head) is None and sc.github.comments_on(2) == []
    assert [p.pr for p in previews.list_previews(sc.project)] == [1]


def test_closed(scenario: Scenario) -> None:
    sc = scenario
    base = run_git(sc.repo, "rev-parse", "main").strip()
    head = sc.github.pulls[1]["head"]["sha"]
    event = payload("closed", 1, head, base, "feature/login-a")
    assert sc.runner.run(sc.workflow("odooplane-pull-request.yml"), "pull_request", event) is None
    results = sc.runner.run(sc.workflow("odooplane-pull-request-closed.yml"), "pull_request", event)
    teardown = job(results, "remove the preview")
    assert teardown.conclusion == "success", explain(teardown)
    assert previews.list_previews(sc.project) == []
    status, _ = sc.get("pr-1-feature-login-a.localhost", "/hello")
    assert status != 200
    assert sc.github.deployment_states("pr-1-feature-login-a") == [
        "in_progress",
        "success",
        "inactive",
        "in_progress",
        "success",
        "inactive",
    ]
    [comment] = sc.github.comments_on(1)
    parts = sections(comment["body"])
    assert parts["preview"].startswith("### 🧹 Preview removed")
    assert "✅ odooplane gates: passed" in parts["gates"]
    # Run again (a re-run of the job): nothing breaks, nothing more is posted.
    again = job(
        sc.runner.run(sc.workflow("odooplane-pull-request-closed.yml"), "pull_request", event),
        "remove the preview",
    )
    assert again.conclusion == "success", explain(again)
    assert len(sc.github.comments_on(1)) == 1


def push_payload(before: str, after: str) -> dict[str, Any]:
    repo = {
        "id": 1,
        "full_name": "acme/erp",
        "name": "erp",
        "private": True,
        "owner": {"login": "acme"},
        "default_branch": "main",
    }
    return {
        "ref": "refs/heads/main",
        "before": before,
        "after": after,
        "created": False,
        "deleted": False,
        "forced": False,
        "repository": repo,
        "pusher": {"name": "dev"},
        "sender": {"login": "dev"},
        "head_commit": {"id": after, "message": "Merge #1"},
    }


def test_push_to_staging_deploys_it_and_runs_its_gates(scenario: Scenario) -> None:
    sc = scenario
    before = run_git(sc.repo, "rev-parse", "main").strip()
    run_git(sc.repo, "merge", "-q", "--no-ff", "-m", "Merge #1", "feature/login-a")
    after = run_git(sc.repo, "rev-parse", "main").strip()
    run_git(sc.repo, "push", "-q", str(sc.remote), "main:main")
    results = sc.runner.run(
        sc.workflow("odooplane-staging.yml"), "push", push_payload(before, after), sha=after
    )
    staging = job(results, "deploy staging and run its gates")
    assert staging.conclusion == "success", explain(staging)
    assert built(sc, "staging") == after
    # Judged against what production runs: the merged addon changed.
    assert "`hello`" in staging.summary and "odooplane gates: passed" in staging.summary
    statuses = latest_statuses(sc.github, after)
    assert len(statuses) == 4 and {s["state"] for s in statuses.values()} == {"success"}
    # A push to another branch starts nothing.
    other = dict(push_payload(before, after), ref="refs/heads/feature/x")
    assert sc.runner.run(sc.workflow("odooplane-staging.yml"), "push", other) is None


def test_production_is_promoted_with_an_approval_read_from_github(scenario: Scenario) -> None:
    from odooplane.evidence.api import EvidenceStore

    sc = scenario
    production = built(sc, "production")
    merged = run_git(sc.repo, "rev-parse", "main").strip()
    assert production and production != merged
    head = sc.github.pulls[1]["head"]["sha"]
    for sha in (production, head, merged):
        sc.github.add_commit(sha, "dev")
    sc.github.pulls[1].update(state="closed", merged=True, merge_commit_sha=merged)
    sc.github.add_review(1, "dev", "APPROVED", head)  # the author himself
    dispatch = {
        "inputs": {"sha": "", "pr": ""},
        "ref": "refs/heads/main",
        "repository": {"full_name": "acme/erp", "private": True},
        "sender": {"login": "ana"},
    }
    workflow = sc.workflow("odooplane-production.yml")
    refused = job(sc.runner.run(workflow, "workflow_dispatch", dispatch), "promote to production")
    assert refused.conclusion == "failure"
    assert "wrote a commit being promoted" in refused.steps[0].output
    assert built(sc, "production") == production
    sc.github.add_comment(1, "ana", f"Tried the preview, fine.\n/odooplane approve {merged[:10]}")
    done = job(sc.runner.run(workflow, "workflow_dispatch", dispatch), "promote to production")
    assert done.conclusion == "success", explain(done)
    assert built(sc, "production") == merged
    with EvidenceStore.open(sc.project) as store:
        latest = store.history("production", limit=1)[0]
    assert latest.approved_by == "ana (github-comment)"
