"""The one odooplane comment of a pull request: found by a hidden marker, edited in
place, never posted twice.

The body is made of sections between hidden markers (``<!-- odooplane:preview -->``
... ``<!-- /odooplane:preview -->``), so a later step can replace one section (the
preview gone at close) and keep the others (the gates).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from odooplane.github.client import GitHubClient

MARKER = "<!-- odooplane:pull-request -->"


@dataclass(frozen=True)
class CommentResult:
    id: int
    action: str  # created, updated, unchanged
    url: str
    body: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def section(name: str, text: str) -> str:
    return f"<!-- odooplane:{name} -->\n{text.strip()}\n<!-- /odooplane:{name} -->"


def sections(body: str) -> dict[str, str]:
    """Name -> text of each section of a comment body."""
    found = re.finditer(
        r"<!-- odooplane:([a-z-]+) -->\n(.*?)\n<!-- /odooplane:\1 -->", body, flags=re.S
    )
    return {m.group(1): m.group(2) for m in found}


def compose(parts: dict[str, str], order: tuple[str, ...] = ("preview", "gates", "footer")) -> str:
    """A full body: the marker, then the sections in ``order`` (others after)."""
    names = [n for n in order if n in parts] + [n for n in parts if n not in order]
    return MARKER + "\n" + "\n\n".join(section(n, parts[n]) for n in names) + "\n"


def find_comment(client: GitHubClient, pr: int) -> dict[str, Any] | None:
    """The comment carrying the marker (the oldest, if someone copied it)."""
    for comment in client.paginate(f"{client.repo_path}/issues/{pr}/comments"):
        if MARKER in str(comment.get("body") or ""):
            return dict(comment)
    return None


def upsert_comment(
    client: GitHubClient, pr: int, parts: dict[str, str], *, keep: bool = True
) -> CommentResult:
    """Write ``parts`` into the pull request's odooplane comment. With ``keep``, the
    sections of the existing comment that ``parts`` does not name stay as they were."""
    existing = find_comment(client, pr)
    if existing is None:
        body = compose(parts)
        made = client.post(f"{client.repo_path}/issues/{pr}/comments", {"body": body})
        return CommentResult(int(made["id"]), "created", str(made.get("html_url") or ""), body)
    merged = {**sections(str(existing.get("body") or "")), **parts} if keep else dict(parts)
    body = compose(merged)
    if body == existing.get("body"):
        return CommentResult(
            int(existing["id"]), "unchanged", str(existing.get("html_url") or ""), body
        )
    edited = client.patch(f"{client.repo_path}/issues/comments/{existing['id']}", {"body": body})
    return CommentResult(int(edited["id"]), "updated", str(edited.get("html_url") or ""), body)
