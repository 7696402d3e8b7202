"""``odooplane promote --github``: the approval source that reads GitHub, bound to what
the promotion covers (the commits after the one production runs)."""

from __future__ import annotations

from odooplane import gitrepo
from odooplane.errors import RefusedError
from odooplane.github.approvals import GitHubApproval
from odooplane.github.client import GitHubClient, resolve_settings
from odooplane.project import Project


def release_bounds(
    project: Project, sha: str | None, *, source: str | None = None, target: str | None = None
) -> tuple[str, str | None, str]:
    """(the commit promoted: ``sha`` or what the source runs, what the target runs now,
    the target's name)."""
    from odooplane.environments.state import StateStore
    from odooplane.promotion.promote import resolve_environments

    source, target = resolve_environments(project, source, target)
    store = StateStore(project.state_dir)
    if sha is not None:
        commit = gitrepo.resolve_ref(project.root, sha)
    else:
        state = store.load(source)
        if state is None or state.build is None:
            raise RefusedError(f"'{source}' runs no build yet: nothing to approve.")
        commit = state.build
    running = store.load(target)
    return commit, (running.build if running is not None else None), target


def github_approval(
    project: Project,
    *,
    pr: int | None = None,
    sha: str | None = None,
    source: str | None = None,
    target: str | None = None,
) -> GitHubApproval:
    _commit, since, _target = release_bounds(project, sha, source=source, target=target)
    section = project.config.promotion
    return GitHubApproval(
        GitHubClient(resolve_settings(project.config.github.repository)),
        approvers=tuple(section.approvers),
        forbid_self_approval=section.forbid_self_approval,
        pr=pr,
        since=since,
    )
