"""GitHub deployments of previews, and their statuses (``in_progress``, ``success`` with
the preview's ``environment_url``, ``failure``, ``inactive`` on teardown)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from odooplane.errors import UsageError
from odooplane.github.client import GitHubClient
from odooplane.github.statuses import short

STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")


@dataclass(frozen=True)
class DeploymentStatus:
    deployment_id: int
    environment: str
    state: str
    environment_url: str | None
    log_url: str | None
    id: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ensure_deployment(
    client: GitHubClient,
    *,
    environment: str,
    sha: str,
    description: str,
    transient: bool = True,
    production: bool = False,
) -> int:
    """The deployment of ``sha`` to ``environment`` (reused when one exists: a job run
    again does not add another)."""
    for found in client.paginate(
        f"{client.repo_path}/deployments", limit=100, sha=sha, environment=environment
    ):
        return int(found["id"])
    made = client.post(
        f"{client.repo_path}/deployments",
        {
            "ref": sha,
            "environment": environment,
            "description": short(description),
            # odooplane's gates are reported as statuses; GitHub must not wait on them
            # or try to merge the base into the branch.
            "auto_merge": False,
            "required_contexts": [],
            "transient_environment": transient,
            "production_environment": production,
        },
    )
    if "id" not in made:
        raise UsageError(f"GitHub made no deployment of {sha[:12]}: {made.get('message')}.")
    return int(made["id"])


def post_deployment_status(
    client: GitHubClient,
    deployment_id: int,
    *,
    environment: str,
    state: str,
    description: str = "",
    environment_url: str | None = None,
    log_url: str | None = None,
) -> DeploymentStatus:
    if state not in STATES:
        raise UsageError(f"'{state}' is not a deployment state: {', '.join(STATES)}.")
    body: dict[str, Any] = {"state": state, "description": short(description)}
    if environment_url:
        body["environment_url"] = environment_url
    if log_url:
        body["log_url"] = log_url
    made = client.post(f"{client.repo_path}/deployments/{deployment_id}/statuses", body)
    return DeploymentStatus(
        deployment_id, environment, state, environment_url, log_url, int(made.get("id") or 0)
    )


def deactivate(
    client: GitHubClient, environment: str, *, description: str, log_url: str | None = None
) -> list[DeploymentStatus]:
    """Every deployment of ``environment`` that is not inactive yet becomes inactive."""
    done = []
    for deployment in client.paginate(
        f"{client.repo_path}/deployments", limit=300, environment=environment
    ):
        number = int(deployment["id"])
        latest = client.get(f"{client.repo_path}/deployments/{number}/statuses", per_page=1)
        if latest and latest[0].get("state") == "inactive":
            continue
        done.append(
            post_deployment_status(
                client,
                number,
                environment=environment,
                state="inactive",
                description=description,
                log_url=log_url,
            )
        )
    return done
