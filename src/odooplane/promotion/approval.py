"""Who approved a promotion, and how: pluggable approval sources.

An approval source gets an :class:`ApprovalRequest` (the build, the gates it passed,
the modules that will change) and returns an :class:`Approval` or None. odooplane
ships two: :class:`NamedApproval` (``--approved-by NAME`` in CI) and
:class:`InteractiveApproval` (a person confirms at the terminal). The GitHub integration
adds its own (a review or an ``/odooplane approve <sha>`` comment) by implementing the
same protocol.

The project's rules apply to every source: when ``promotion.approvers`` lists names,
only they may approve; with ``promotion.forbid_self_approval`` the author of the
commit may not approve it.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from odooplane.errors import RefusedError, UsageError


@dataclass(frozen=True)
class ApprovalRequest:
    project: str
    source: str
    target: str
    git_sha: str
    build: dict[str, Any]
    gates: dict[str, dict[str, Any]]
    install: list[str] = field(default_factory=list)
    update: list[str] = field(default_factory=list)

    @property
    def author(self) -> str:
        return str(self.build.get("author") or "")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Approval:
    approver: str
    method: str  # "named" (--approved-by), "interactive", "github-review", ...
    at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ApprovalSource(Protocol):
    def approve(self, request: ApprovalRequest) -> Approval | None: ...


@dataclass(frozen=True)
class NamedApproval:
    """``--approved-by NAME``: the CI job says who approved (recorded as given)."""

    name: str

    def approve(self, request: ApprovalRequest) -> Approval | None:
        name = self.name.strip()
        if not name:
            raise UsageError("--approved-by needs a name.")
        return Approval(approver=name, method="named")


@dataclass(frozen=True)
class InteractiveApproval:
    """A person at the terminal: ``confirm(request)`` shows the request and returns
    True to approve. The approver is the logged-in user unless ``name`` is given."""

    confirm: Callable[[ApprovalRequest], bool]
    name: str | None = None

    def approve(self, request: ApprovalRequest) -> Approval | None:
        if not self.confirm(request):
            return None
        return Approval(approver=self.name or getpass.getuser(), method="interactive")


def _identities(author: str) -> set[str]:
    """The ways an author is named: 'Ana Lopez <ana@x.com>' -> name, email, login."""
    text = author.strip().lower()
    found = {text}
    if "<" in text and text.endswith(">"):
        name, _, email = text[:-1].partition("<")
        found |= {name.strip(), email.strip(), email.strip().split("@")[0]}
    return {f for f in found if f}


def check_rules(
    approval: Approval,
    request: ApprovalRequest,
    *,
    approvers: list[str] | tuple[str, ...] = (),
    forbid_self_approval: bool = False,
) -> None:
    """Refuse an approval that the project's rules do not allow."""
    who = approval.approver.strip().lower()
    allowed = {a.strip().lower() for a in approvers}
    if allowed and who not in allowed:
        raise RefusedError(
            f"'{approval.approver}' may not approve promotions to {request.target}: "
            f"promotion.approvers lists {', '.join(sorted(approvers))}.",
            hint="Ask one of them, or add the name to promotion.approvers in odooplane.yaml.",
        )
    if forbid_self_approval and who in _identities(request.author):
        raise RefusedError(
            f"'{approval.approver}' wrote commit {request.git_sha[:12]} and may not approve "
            "its own promotion (promotion.forbid_self_approval is on).",
            hint="Someone else must approve it.",
        )
