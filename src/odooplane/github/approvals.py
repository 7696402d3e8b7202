"""Approvals of a promotion read from GitHub, on every plan.

GitHub's required reviewers on environments are not available for private
repositories on every plan, so ``odooplane promote --github`` looks for a person's
approval itself, for the exact commit it promotes:

- a review **approving** the release pull request (the pull request the commit
  belongs to, or the one named with ``--pr``), given on that pull request's last
  commit, and not withdrawn by a later review of the same person; or
- a comment ``/odooplane approve <sha>`` (the SHA or a prefix of at least 7
  characters) on that pull request or on the commit itself.

Who counts: the logins of ``promotion.approvers`` when it lists some, else people with
write access to the repository (``author_association`` OWNER, MEMBER or COLLABORATOR).
With ``promotion.forbid_self_approval``, the GitHub authors of the commits being
promoted (those production does not run yet) never count. The approval returned names
the approver and how (``github-review`` or ``github-comment``, with its URL); promote
records both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from odooplane.errors import RefusedError
from odooplane.github.client import GitHubClient, GitHubError
from odooplane.promotion.approval import Approval, ApprovalRequest

APPROVE_RE = re.compile(r"^\s*/odooplane\s+approve\s+([0-9a-fA-F]{7,40})\s*$", re.M)
WRITERS = {"OWNER", "MEMBER", "COLLABORATOR"}
BOTS = {"web-flow", "github-actions[bot]"}


@dataclass
class Candidate:
    login: str
    method: str  # github-review, github-comment
    url: str
    at: str
    association: str
    refused: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ApprovalFindings:
    sha: str
    pull_requests: list[int]
    authors: list[str]
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def accepted(self) -> Candidate | None:
        return next((c for c in self.candidates if c.refused is None), None)

    def to_dict(self) -> dict[str, Any]:
        accepted = self.accepted
        return {
            "sha": self.sha,
            "pull_requests": self.pull_requests,
            "authors": self.authors,
            "candidates": [c.to_dict() for c in self.candidates],
            "approved_by": accepted.login if accepted else None,
            "method": accepted.method if accepted else None,
        }


def _release_pulls(client: GitHubClient, sha: str, pr: int | None) -> list[dict[str, Any]]:
    if pr is not None:
        return [client.get(f"{client.repo_path}/pulls/{pr}")]
    return list(client.paginate(f"{client.repo_path}/commits/{sha}/pulls", limit=20))


def commit_authors(client: GitHubClient, sha: str, since: str | None) -> list[str]:
    """GitHub logins of the authors of the commits promoted (``since..sha``)."""
    commits: Iterable[dict[str, Any]]
    if since and since != sha:
        try:
            commits = client.paginate(f"{client.repo_path}/compare/{since}...{sha}", limit=1000)
            commits = list(commits)
        except GitHubError as exc:
            if exc.status != 404:
                raise
            # What production runs is unknown to GitHub (never pushed): judge the commit.
            commits = [client.get(f"{client.repo_path}/commits/{sha}")]
    else:
        commits = [client.get(f"{client.repo_path}/commits/{sha}")]
    logins = {
        str((c.get("author") or {}).get("login") or "") for c in commits if isinstance(c, dict)
    }
    return sorted(login for login in logins - BOTS if login)


def find_approvals(
    client: GitHubClient,
    sha: str,
    *,
    pr: int | None = None,
    since: str | None = None,
    approvers: Iterable[str] = (),
    forbid_self_approval: bool = False,
) -> ApprovalFindings:
    """Every review and comment that could approve ``sha``, each accepted or refused
    with the reason."""
    pulls = _release_pulls(client, sha, pr)
    authors = commit_authors(client, sha, since) if forbid_self_approval else []
    findings = ApprovalFindings(
        sha=sha, pull_requests=[int(p["number"]) for p in pulls], authors=authors
    )
    allowed = {a.strip().lower() for a in approvers if a.strip()}
    wrote = {a.lower() for a in authors}

    def judge(candidate: Candidate) -> Candidate:
        who = candidate.login.lower()
        if allowed and who not in allowed:
            candidate.refused = "not in promotion.approvers"
        elif not allowed and candidate.association not in WRITERS:
            candidate.refused = (
                f"no write access to the repository ({candidate.association.lower()})"
            )
        elif forbid_self_approval and who in wrote:
            candidate.refused = (
                "wrote a commit being promoted (promotion.forbid_self_approval is on)"
            )
        return candidate

    for pull in pulls:
        number = int(pull["number"])
        head = str((pull.get("head") or {}).get("sha") or "")
        latest: dict[str, dict[str, Any]] = {}
        for review in client.paginate(f"{client.repo_path}/pulls/{number}/reviews"):
            login = str((review.get("user") or {}).get("login") or "")
            if review.get("state") in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
                latest[login] = review
        for login, review in latest.items():
            if review.get("state") != "APPROVED":
                continue
            candidate = Candidate(
                login=login,
                method="github-review",
                url=str(review.get("html_url") or ""),
                at=str(review.get("submitted_at") or ""),
                association=str(review.get("author_association") or "NONE"),
            )
            if review.get("commit_id") not in (head, sha):
                candidate.refused = (
                    f"approved {str(review.get('commit_id'))[:12]}, not the pull request's "
                    f"last commit {head[:12]}"
                )
                findings.candidates.append(candidate)
                continue
            findings.candidates.append(judge(candidate))
        findings.candidates += _comment_candidates(
            client, f"{client.repo_path}/issues/{number}/comments", sha, judge
        )
    findings.candidates += _comment_candidates(
        client, f"{client.repo_path}/commits/{sha}/comments", sha, judge
    )
    return findings


def _comment_candidates(client: GitHubClient, path: str, sha: str, judge: Any) -> list[Candidate]:
    found = []
    for comment in client.paginate(path):
        for match in APPROVE_RE.finditer(str(comment.get("body") or "")):
            if not sha.lower().startswith(match.group(1).lower()):
                continue
            found.append(
                judge(
                    Candidate(
                        login=str((comment.get("user") or {}).get("login") or ""),
                        method="github-comment",
                        url=str(comment.get("html_url") or ""),
                        at=str(comment.get("created_at") or ""),
                        association=str(comment.get("author_association") or "NONE"),
                    )
                )
            )
            break
    return found


@dataclass
class GitHubApproval:
    """An approval source for :func:`odooplane.promotion.promote.promote`."""

    client: GitHubClient
    approvers: tuple[str, ...] = ()
    forbid_self_approval: bool = False
    pr: int | None = None
    since: str | None = None  # what production runs: the commits after it are promoted
    findings: ApprovalFindings | None = None

    def approve(self, request: ApprovalRequest) -> Approval | None:
        self.findings = find_approvals(
            self.client,
            request.git_sha,
            pr=self.pr,
            since=self.since,
            approvers=self.approvers,
            forbid_self_approval=self.forbid_self_approval,
        )
        accepted = self.findings.accepted
        if accepted is None:
            raise RefusedError(refusal(self.findings, request.target))
        return Approval(
            approver=accepted.login,
            method=accepted.method,
            at=accepted.at or Approval(approver="", method="").at,
            detail=accepted.url,
        )


def refusal(findings: ApprovalFindings, target: str) -> str:
    sha = findings.sha[:12]
    where = (
        "pull request " + ", ".join(f"#{n}" for n in findings.pull_requests)
        if findings.pull_requests
        else "no pull request (the commit belongs to none)"
    )
    refused = "; ".join(f"{c.login} ({c.method}): {c.refused}" for c in findings.candidates)
    return (
        f"Nobody approved promoting {sha} to '{target}' on GitHub ({where}"
        + (f"; refused: {refused}" if refused else "")
        + f"). An approver approves the release pull request, or comments "
        f"`/odooplane approve {sha}`."
    )
