"""`github fetch`: the event's commits come from the repository's git remote into the
project (refs/pull/N/head as GitHub keeps it), or a sentence says why not."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_git
from odooplane.config import load_config_text
from odooplane.errors import ExternalToolError
from odooplane.github.client import GitHubSettings
from odooplane.github.events import PullRequestEvent, PushEvent
from odooplane.github.fetch import fetch
from odooplane.project import Project


def commit(repo: Path, name: str) -> str:
    (repo / name).write_text(name)
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-qm", name)
    return run_git(repo, "rev-parse", "HEAD").strip()


def test_pull_request_and_push(tmp_path: Path) -> None:
    remote = tmp_path / "server" / "acme" / "erp.git"
    remote.mkdir(parents=True)
    run_git(remote, "init", "-q", "--bare", "-b", "main")
    dev = tmp_path / "dev"
    dev.mkdir()
    run_git(dev, "init", "-q", "-b", "main")
    base = commit(dev, "a")
    run_git(dev, "push", "-q", str(remote), "main:main")
    run_git(dev, "checkout", "-q", "-b", "feature")
    head = commit(dev, "b")
    run_git(dev, "push", "-q", str(remote), "feature:refs/pull/3/head")
    project_root = tmp_path / "srv"
    run_git(tmp_path, "clone", "-q", str(remote), str(project_root))
    config = load_config_text(
        "project: erp\nodoo: {series: '17.0', source: /opt/odoo-src/17.0}\n",
        project_root / "odooplane.yaml",
    )
    project = Project(root=project_root, config=config)
    settings = GitHubSettings(
        api_url="http://unused",
        token="t",
        repository="acme/erp",
        server_url=f"file://{tmp_path / 'server'}",
    )
    event = PullRequestEvent(
        action="opened",
        number=3,
        title="x",
        author="dev",
        head_sha=head,
        head_ref="feature",
        head_repository="acme/erp",
        base_sha=base,
        base_ref="main",
        repository="acme/erp",
        private=True,
        merged=False,
        draft=False,
        html_url="",
    )
    done = fetch(project, settings, event)
    assert done.commits == [head, base]
    assert run_git(project_root, "rev-parse", "refs/odooplane/pull/3").strip() == head
    run_git(dev, "checkout", "-q", "main")
    pushed = commit(dev, "c")
    run_git(dev, "push", "-q", str(remote), "main:main")
    fetch(project, settings, PushEvent("refs/heads/main", pushed, base, "acme/erp", True))
    assert run_git(project_root, "rev-parse", "refs/remotes/origin/main").strip() == pushed
    wrong = GitHubSettings("http://unused", "t", "acme/typo", f"file://{tmp_path / 'server'}")
    with pytest.raises(ExternalToolError, match="could not fetch"):
        fetch(project, wrong, event)
