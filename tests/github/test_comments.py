"""The pull-request comment: created once, edited after, sections kept."""

from __future__ import annotations

from fixtures_github import FakeGitHub
from odooplane.github.client import GitHubClient, resolve_settings
from odooplane.github.comments import MARKER, sections, upsert_comment


def test_created_once_then_edited_in_place(github: FakeGitHub) -> None:
    github.add_pull(12, "a" * 40)
    github.add_comment(12, "ana", "Looks good, trying the preview.")
    client = GitHubClient(resolve_settings())
    first = upsert_comment(client, 12, {"preview": "link 1", "gates": "gates 1"})
    assert first.action == "created"
    again = upsert_comment(client, 12, {"preview": "link 1", "gates": "gates 1"})
    assert again.action == "unchanged" and again.id == first.id
    edited = upsert_comment(client, 12, {"gates": "gates 2"})
    assert edited.action == "updated" and edited.id == first.id
    ours = [c for c in github.comments_on(12) if MARKER in c["body"]]
    assert len(ours) == 1
    assert sections(ours[0]["body"]) == {"preview": "link 1", "gates": "gates 2"}
    # Ana's comment is untouched; one POST, one PATCH.
    assert github.comments_on(12)[0]["body"] == "Looks good, trying the preview."
    assert len(github.calls("POST", r"/issues/12/comments")) == 1
    assert len(github.calls("PATCH", r"/issues/comments/")) == 1


def test_found_past_the_first_page(github: FakeGitHub) -> None:
    github.add_pull(4, "b" * 40)
    client = GitHubClient(resolve_settings())
    made = upsert_comment(client, 4, {"gates": "one"})
    for i in range(120):
        github.add_comment(4, "dev", f"chatter {i}")
    later = upsert_comment(client, 4, {"gates": "two"})
    assert later.id == made.id and later.action == "updated"
    assert len([c for c in github.comments_on(4) if MARKER in c["body"]]) == 1
