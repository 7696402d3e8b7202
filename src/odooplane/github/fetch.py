"""Bring the commits a workflow run needs into the project on the runner's machine.

The project folder (``ODOOPLANE_PROJECT``) keeps the environments' state, so it is a
persistent clone, not the job's workspace. Its commits come from the repository on
GitHub (``$GITHUB_SERVER_URL/$GITHUB_REPOSITORY.git``) with the job's token, given to
git through its environment (never on a command line other processes can read).
"""

from __future__ import annotations

import base64
import os
import subprocess
from dataclasses import asdict, dataclass
from typing import Any

from odooplane import gitrepo
from odooplane.errors import ExternalToolError
from odooplane.github.client import GitHubSettings
from odooplane.github.events import PullRequestEvent, PushEvent
from odooplane.project import Project


@dataclass(frozen=True)
class FetchResult:
    remote: str
    refspecs: list[str]
    commits: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def remote_url(settings: GitHubSettings) -> str:
    return f"{settings.server_url}/{settings.repository}.git"


def refspecs_for(event: PullRequestEvent | PushEvent) -> tuple[list[str], list[str]]:
    """(refspecs, commits that must exist afterwards)."""
    if isinstance(event, PullRequestEvent):
        return (
            [
                # GitHub keeps every pull request's head here, forks included.
                f"+refs/pull/{event.number}/head:refs/odooplane/pull/{event.number}",
                f"+refs/heads/{event.base_ref}:refs/remotes/origin/{event.base_ref}",
            ],
            [event.head_sha, event.base_sha],
        )
    branch = event.branch or event.ref
    return [f"+{event.ref}:refs/remotes/origin/{branch}"], [event.after]


def fetch(
    project: Project, settings: GitHubSettings, event: PullRequestEvent | PushEvent
) -> FetchResult:
    remote = remote_url(settings)
    refspecs, commits = refspecs_for(event)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_CONFIG")}
    env["GIT_TERMINAL_PROMPT"] = "0"
    if settings.token and remote.startswith("http"):
        basic = base64.b64encode(f"x-access-token:{settings.token}".encode()).decode()
        env.update(
            GIT_CONFIG_COUNT="1",
            GIT_CONFIG_KEY_0=f"http.{settings.server_url}/.extraheader",
            GIT_CONFIG_VALUE_0=f"AUTHORIZATION: basic {basic}",
        )
    gitrepo.require_repository(project.root)
    done = subprocess.run(
        ["git", "-C", str(project.root), "fetch", "--no-tags", "--quiet", remote, *refspecs],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise ExternalToolError(
            f"git could not fetch {', '.join(refspecs)} from {remote} into {project.root}: "
            f"{done.stderr.strip()}",
            hint="Check the repository name and that the job's token may read its contents "
            "(permissions: contents: read).",
        )
    missing = [sha for sha in commits if not gitrepo.has_commit(project.root, sha)]
    if missing:
        raise ExternalToolError(
            f"After fetching from {remote}, {', '.join(s[:12] for s in missing)} is still "
            f"missing from {project.root}.",
            hint="Was the branch force-pushed since the event? Run the job again.",
        )
    return FetchResult(remote, refspecs, commits)
