"""Approvals read from GitHub: reviews of the release pull request and
`/odooplane approve <sha>` comments; self-approval refused when forbidden."""

from __future__ import annotations

import pytest

from fixtures_github import FakeGitHub
from odooplane.errors import RefusedError
from odooplane.github.approvals import GitHubApproval, find_approvals
from odooplane.github.client import GitHubClient, resolve_settings
from odooplane.promotion.approval import ApprovalRequest

PROD, MID, SHA = "0" * 39 + "1", "0" * 39 + "2", "0" * 39 + "3"
HEAD = "e" * 40


def request() -> ApprovalRequest:
    return ApprovalRequest(
        project="erp",
        source="staging",
        target="production",
        git_sha=SHA,
        build={"author": "Dev One <dev@example.com>"},
        gates={},
    )


@pytest.fixture
def repo(github: FakeGitHub) -> FakeGitHub:
    github.add_commit(PROD, "olga")
    github.add_commit(MID, "dev")
    github.add_commit(SHA, "ana")
    github.add_pull(20, HEAD, author="dev", merge_commit_sha=SHA, state="closed")
    return github


def source(**kwargs: object) -> GitHubApproval:
    return GitHubApproval(GitHubClient(resolve_settings()), since=PROD, **kwargs)  # type: ignore[arg-type]


def test_an_author_reviewing_is_refused_another_approver_accepted(repo: FakeGitHub) -> None:
    repo.add_review(20, "ana", "APPROVED", HEAD)
    strict = source(approvers=("ana", "bob"), forbid_self_approval=True)
    with pytest.raises(RefusedError, match=r"ana .*wrote a commit being promoted"):
        strict.approve(request())
    assert strict.findings is not None and strict.findings.authors == ["ana", "dev"]
    # Without the rule, ana may approve.
    assert source(approvers=("ana", "bob")).approve(request()) is not None
    repo.add_review(20, "bob", "APPROVED", HEAD)
    approval = strict.approve(request())
    assert approval is not None
    assert (approval.approver, approval.method) == ("bob", "github-review")
    assert approval.detail and "pullrequestreview" in approval.detail


def test_a_withdrawn_or_stale_review_does_not_count(repo: FakeGitHub) -> None:
    repo.add_review(20, "bob", "APPROVED", "f" * 40)  # an older commit of the PR
    repo.add_review(20, "carl", "APPROVED", HEAD)
    repo.add_review(20, "carl", "CHANGES_REQUESTED", HEAD)
    with pytest.raises(RefusedError, match=r"bob .*not the pull request's last commit"):
        source().approve(request())


def test_comment_approval_by_an_approver_for_this_sha(repo: FakeGitHub) -> None:
    repo.add_comment(20, "eve", f"/odooplane approve {SHA[:10]}", association="NONE")
    repo.add_comment(20, "bob", "/odooplane approve 1234567")  # another commit
    findings = find_approvals(GitHubClient(resolve_settings()), SHA, since=PROD)
    assert [(c.login, c.refused) for c in findings.candidates] == [
        ("eve", "no write access to the repository (none)")
    ]
    repo.add_comment(20, "bob", f"please\n/odooplane approve {SHA}\nthanks")
    approval = source(approvers=("bob",), forbid_self_approval=True).approve(request())
    assert approval is not None and approval.method == "github-comment"
    assert approval.approver == "bob"


def test_not_in_approvers_is_refused(repo: FakeGitHub) -> None:
    repo.add_review(20, "mallory", "APPROVED", HEAD, association="COLLABORATOR")
    with pytest.raises(RefusedError, match=r"mallory .*not in promotion.approvers"):
        source(approvers=("bob",)).approve(request())


def test_a_named_pull_request_and_commit_comments(repo: FakeGitHub) -> None:
    repo.add_pull(30, "9" * 40, author="dev")
    repo.add_review(30, "bob", "APPROVED", "9" * 40)
    approval = source(pr=30).approve(request())
    assert approval is not None and approval.approver == "bob"
    repo.commit_comments[SHA] = [
        {
            "id": 1,
            "body": f"/odooplane approve {SHA[:7]}",
            "user": {"login": "olga"},
            "author_association": "OWNER",
            "html_url": "https://github.com/acme/erp/commit/x#commitcomment-1",
            "created_at": "2026-01-01T00:00:00Z",
        }
    ]
    repo.pulls.clear()
    approval = source(forbid_self_approval=True).approve(request())
    assert approval is not None and (approval.approver, approval.method) == (
        "olga",
        "github-comment",
    )
