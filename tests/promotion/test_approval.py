"""Approval sources and the project's rules on who may approve."""

from __future__ import annotations

import pytest

from odooplane.errors import RefusedError, UsageError
from odooplane.promotion.approval import (
    ApprovalRequest,
    InteractiveApproval,
    NamedApproval,
    check_rules,
)

REQUEST = ApprovalRequest(
    project="acme",
    source="staging",
    target="production",
    git_sha="a" * 40,
    build={"author": "Ana Lopez <ana@acme.example>", "subject": "Fix invoices"},
    gates={"tests": {"status": "passed", "id": "1", "summary": "", "at": ""}},
    update=["account_x"],
)


def test_named_and_interactive_sources() -> None:
    named = NamedApproval("bob").approve(REQUEST)
    assert named is not None and (named.approver, named.method) == ("bob", "named")
    with pytest.raises(UsageError):
        NamedApproval("  ").approve(REQUEST)
    seen: list[ApprovalRequest] = []

    def yes(request: ApprovalRequest) -> bool:
        seen.append(request)
        return True

    interactive = InteractiveApproval(yes, name="carol").approve(REQUEST)
    assert interactive is not None and interactive.method == "interactive"
    assert seen == [REQUEST]
    assert InteractiveApproval(lambda r: False).approve(REQUEST) is None


@pytest.mark.parametrize("who", ["ana", "Ana Lopez", "ana@acme.example"])
def test_author_may_not_approve_when_forbidden(who: str) -> None:
    approval = NamedApproval(who).approve(REQUEST)
    assert approval is not None
    check_rules(approval, REQUEST)  # allowed by default
    with pytest.raises(RefusedError, match="may not approve its own promotion"):
        check_rules(approval, REQUEST, forbid_self_approval=True)


def test_only_listed_approvers() -> None:
    approval = NamedApproval("mallory").approve(REQUEST)
    assert approval is not None
    with pytest.raises(RefusedError, match=r"promotion\.approvers lists bob, carol"):
        check_rules(approval, REQUEST, approvers=["carol", "bob"])
    bob = NamedApproval("Bob").approve(REQUEST)
    assert bob is not None
    check_rules(bob, REQUEST, approvers=["carol", "bob"], forbid_self_approval=True)
