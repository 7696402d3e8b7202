"""Deployments of previews and their statuses: in_progress, success with the
environment's URL, failure, inactive on teardown."""

from __future__ import annotations

from fixtures_github import FakeGitHub
from odooplane.github.client import GitHubClient, resolve_settings
from odooplane.github.deployments import deactivate, ensure_deployment, post_deployment_status

SHA1, SHA2 = "1" * 40, "2" * 40
LOG = "https://github.com/acme/erp/actions/runs/5"


def test_a_preview_deployment_from_start_to_teardown(github: FakeGitHub) -> None:
    client = GitHubClient(resolve_settings())
    env = "pr-7-feature-x"
    first = ensure_deployment(client, environment=env, sha=SHA1, description="preview of #7")
    assert ensure_deployment(client, environment=env, sha=SHA1, description="again") == first
    post_deployment_status(client, first, environment=env, state="in_progress", log_url=LOG)
    post_deployment_status(
        client,
        first,
        environment=env,
        state="success",
        environment_url="http://pr-7-feature-x.localhost",
        log_url=LOG,
    )
    second = ensure_deployment(client, environment=env, sha=SHA2, description="preview of #7")
    assert second != first
    post_deployment_status(client, second, environment=env, state="failure", log_url=LOG)
    made = github.calls("POST", r"/deployments$")
    assert len(made) == 2 and made[0]["transient_environment"] is True
    assert made[0]["auto_merge"] is False and made[0]["required_contexts"] == []
    ok = github.deployment_statuses[first][0]
    assert ok["environment_url"] == "http://pr-7-feature-x.localhost" and ok["log_url"] == LOG

    gone = deactivate(client, env, description="pull request closed", log_url=LOG)
    assert {d.deployment_id for d in gone} == {first, second}
    assert github.deployment_states(env) == [
        "in_progress",
        "success",
        "inactive",
        "failure",
        "inactive",
    ]
    # Run again (a job retried): nothing more to do.
    assert deactivate(client, env, description="pull request closed") == []
