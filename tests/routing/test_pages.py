"""The router's own pages: complete HTML with no external resource, one sentence on
what is happening, reloading where waiting helps, and nothing a name could inject."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from odooplane.routing.pages import (
    failed_page,
    maintenance_page,
    starting_page,
    unavailable_page,
    unknown_host_page,
)

EVIL = "<script>alert(1)</script>"


class _Parsed(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.refresh: str | None = None
        self.title = ""
        self._in_title = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        if tag == "meta" and values.get("http-equiv") == "refresh":
            self.refresh = values.get("content")
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def _check_self_contained(text: str) -> _Parsed:
    assert text.startswith("<!DOCTYPE html>")
    assert not re.search(r"(src|href)=", text)  # nothing to fetch from elsewhere
    parsed = _Parsed(text)
    assert "script" not in parsed.tags
    assert {"html", "head", "body", "main", "h1", "style"} <= set(parsed.tags)
    return parsed


def test_unavailable_page_retries() -> None:
    page = _Parsed(unavailable_page("staging", retry_seconds=7))
    assert page.refresh == "7"
    assert page.title == "staging is not answering"
    assert "tries again every 7 seconds" in unavailable_page("staging", retry_seconds=7)


def test_maintenance_page_message_and_retry() -> None:
    text = maintenance_page("production", retry_after=0, message="Upgrading sale & stock")
    page = _check_self_contained(text)
    assert page.refresh == "1"  # never a zero-second reload loop
    assert "Upgrading sale &amp; stock" in text
    assert "A new version is being installed." in maintenance_page("p", retry_after=30)


def test_starting_and_failed_pages() -> None:
    starting = starting_page("pr-12", seconds=12.6)
    assert _check_self_contained(starting).refresh == "1"
    assert "Starting pr-12" in starting and "13 s so far" in starting
    failed = failed_page(
        "pr-12", reason="Odoo exited 1", log_tail="line 1\nline <2>", retry_seconds=60
    )
    assert _check_self_contained(failed).refresh == "60"
    assert "<pre>line 1\nline &lt;2&gt;</pre>" in failed


def test_unknown_host_page_does_not_reload() -> None:
    page = _check_self_contained(unknown_host_page())
    assert page.refresh is None
    assert "A preview is removed when its pull request closes." in unknown_host_page()


@pytest.mark.parametrize(
    "render",
    [
        lambda env: unavailable_page(env),
        lambda env: maintenance_page(env, retry_after=5, message=env),
        lambda env: starting_page(env, seconds=1),
        lambda env: failed_page(env, reason=env, log_tail=env, retry_seconds=5),
    ],
)
def test_names_and_messages_are_escaped(render: object) -> None:
    text = render(EVIL)  # type: ignore[operator]
    assert EVIL not in text
    _check_self_contained(text)
