"""The REST client over real HTTP against the local GitHub: retries, rate limits and
errors as sentences."""

from __future__ import annotations

import time

import pytest

from fixtures_github import FakeGitHub
from odooplane.errors import UsageError
from odooplane.github.client import GitHubClient, GitHubError, RetryPolicy, resolve_settings


def client_for(waits: list[float], **retry: float) -> GitHubClient:
    return GitHubClient(
        resolve_settings(),
        retry=RetryPolicy(sleep=waits.append, **retry),  # type: ignore[arg-type]
    )


def test_settings_come_from_the_environment_then_the_config(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = resolve_settings("other/repo")
    assert settings.repository == "acme/erp" and settings.api_url == github.url
    monkeypatch.delenv("GITHUB_REPOSITORY")
    assert resolve_settings("other/repo").repository == "other/repo"
    monkeypatch.delenv("GITHUB_API_URL")
    assert resolve_settings("other/repo").api_url == "https://api.github.com"
    with pytest.raises(UsageError, match="not a repository name"):
        resolve_settings("no-slash")
    with pytest.raises(UsageError, match=r"Neither GITHUB_REPOSITORY nor github.repository"):
        resolve_settings(None)
    monkeypatch.delenv("GITHUB_TOKEN")
    with pytest.raises(UsageError, match="GITHUB_TOKEN is not set"):
        resolve_settings("acme/erp")


def test_a_502_is_retried_with_backoff(github: FakeGitHub) -> None:
    github.fault("GET", r"^/repos/acme/erp$", 502, body={"message": "Server Error"}, times=2)
    waits: list[float] = []
    body = client_for(waits).get("/repos/acme/erp")
    assert body["full_name"] == "acme/erp"
    assert waits == [1.0, 2.0]
    assert len(github.calls("GET", r"^/repos/acme/erp$")) == 3


def test_a_502_that_lasts_becomes_a_sentence(github: FakeGitHub) -> None:
    github.fault("GET", r"^/repos/acme/erp$", 502, body={"message": "Server Error"}, times=9)
    waits: list[float] = []
    with pytest.raises(GitHubError, match=r"answered 502 .* after retrying") as caught:
        client_for(waits, attempts=3).get("/repos/acme/erp")
    assert caught.value.status == 502 and len(waits) == 2


def test_retry_after_is_honoured(github: FakeGitHub) -> None:
    github.fault(
        "GET",
        r"^/repos/acme/erp$",
        403,
        headers={"Retry-After": "7"},
        body={"message": "You have exceeded a secondary rate limit."},
    )
    waits: list[float] = []
    assert client_for(waits).get("/repos/acme/erp")["private"] is True
    assert waits == [7.0]


def test_a_primary_rate_limit_waits_for_its_reset(github: FakeGitHub) -> None:
    reset = int(time.time()) + 5
    github.fault(
        "GET",
        r"^/repos/acme/erp$",
        403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
        body={"message": "API rate limit exceeded for installation ID 1."},
    )
    waits: list[float] = []
    client_for(waits).get("/repos/acme/erp")
    assert len(waits) == 1 and 3 <= waits[0] <= 7


def test_a_rate_limit_resetting_too_late_says_when(github: FakeGitHub) -> None:
    reset = int(time.time()) + 3600
    github.fault(
        "POST",
        r"/statuses/",
        403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
        body={"message": "API rate limit exceeded"},
    )
    waits: list[float] = []
    with pytest.raises(GitHubError, match=r"rate limit is exhausted .* resets at") as caught:
        client_for(waits).post("/repos/acme/erp/statuses/" + "a" * 40, {"state": "success"})
    assert waits == [] and caught.value.status == 403


def test_401_names_the_token(github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "wrong")
    with pytest.raises(GitHubError, match=r"refused the token .*Bad credentials") as caught:
        client_for([]).get("/repos/acme/erp")
    assert "GITHUB_TOKEN" in caught.value.message and caught.value.hint


def test_403_without_rate_limit_names_the_permission(github: FakeGitHub) -> None:
    github.fault(
        "POST",
        r"/issues/\d+/comments",
        403,
        body={"message": "Resource not accessible by integration"},
    )
    waits: list[float] = []
    with pytest.raises(GitHubError, match="lacks a permission") as caught:
        client_for(waits).post("/repos/acme/erp/issues/1/comments", {"body": "x"})
    assert waits == [] and "pull-requests" in str(caught.value.hint)


def test_404_names_the_repository(github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/typo")
    with pytest.raises(GitHubError, match="'acme/typo' does not exist"):
        client_for([]).get("/repos/acme/typo")


def test_422_says_what_github_refused(github: FakeGitHub) -> None:
    client = client_for([])
    with pytest.raises(GitHubError, match=r"Validation Failed .*state is not included"):
        client.post(f"{client.repo_path}/statuses/" + "b" * 40, {"state": "green"})


def test_an_unreachable_api_is_a_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    from routing.conftest import free_port

    monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/erp")
    monkeypatch.setenv("GITHUB_TOKEN", "x")
    waits: list[float] = []
    with pytest.raises(GitHubError, match="could not be reached"):
        client_for(waits, attempts=2).get("/repos/acme/erp")
    assert waits == [1.0]


def test_pagination_follows_link_headers(github: FakeGitHub) -> None:
    github.add_pull(3, "c" * 40)
    for i in range(130):
        github.add_comment(3, "dev", f"comment {i}")
    client = client_for([])
    bodies = [c["body"] for c in client.paginate(f"{client.repo_path}/issues/3/comments")]
    assert len(bodies) == 130 and bodies[-1] == "comment 129"
    assert len(github.calls("GET", r"/issues/3/comments")) == 2
