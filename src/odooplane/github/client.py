"""A small client of GitHub's REST API (standard library only).

It talks to ``GITHUB_API_URL`` (what Actions sets, so GitHub Enterprise Server works
too; default the public API) with the token of ``GITHUB_TOKEN``, for the repository of
``GITHUB_REPOSITORY`` or the config's ``github.repository``.

- 5xx answers, 429 and rate-limited 403 are retried with backoff, honouring
  ``Retry-After`` and ``x-ratelimit-reset`` (bounded by ``max_wait``: a wait longer
  than that is an error saying when to retry, never a hung job);
- 401, 403, 404 and 422 become one sentence saying what to fix (the token, its
  permissions, the repository's name, the value GitHub refused).
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from odooplane import __version__
from odooplane.errors import OdooplaneError, UsageError

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
REPOSITORY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")


class GitHubError(OdooplaneError):
    """GitHub refused or failed a request; the message says what to fix."""

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.status = status


@dataclass(frozen=True)
class GitHubSettings:
    """Where and as whom to talk to GitHub."""

    api_url: str
    token: str
    repository: str
    server_url: str = "https://github.com"

    @property
    def owner(self) -> str:
        return self.repository.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.repository.split("/", 1)[1]


def check_repository(value: str, where: str) -> str:
    if not REPOSITORY_RE.match(value):
        raise UsageError(
            f"'{value}' ({where}) is not a repository name: write it as OWNER/NAME, "
            "such as acme/erp."
        )
    return value


def resolve_settings(
    repository: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    need_token: bool = True,
) -> GitHubSettings:
    """Settings from the environment Actions gives a step, then ``repository`` (the
    config's ``github.repository``)."""
    env = os.environ if environ is None else environ
    api_url = (env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
    if not re.match(r"^https?://[^\s/]+", api_url):
        raise UsageError(
            f"GITHUB_API_URL is '{api_url}', not an http(s) URL; unset it for "
            f"{DEFAULT_API_URL} or give your GitHub Enterprise Server's API URL."
        )
    repo = env.get("GITHUB_REPOSITORY") or repository
    if not repo:
        raise UsageError(
            "Which repository? Neither GITHUB_REPOSITORY nor github.repository in "
            "odooplane.yaml names one.",
            hint="Set github.repository: OWNER/NAME in odooplane.yaml.",
        )
    where = "GITHUB_REPOSITORY" if env.get("GITHUB_REPOSITORY") else "github.repository"
    check_repository(repo, where)
    token = env.get("GITHUB_TOKEN", "").strip()
    if need_token and not token:
        raise UsageError(
            "GITHUB_TOKEN is not set: odooplane needs a token to talk to GitHub.",
            hint="In a workflow pass `GITHUB_TOKEN: ${{ github.token }}` in the step's env; "
            "elsewhere a fine-grained token with the permissions docs/github.md lists.",
        )
    server = (env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
    return GitHubSettings(api_url=api_url, token=token, repository=repo, server_url=server)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: Any

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class RetryPolicy:
    attempts: int = 5
    backoff: float = 1.0  # first wait on a 5xx; doubled each time
    max_wait: float = 120.0  # a rate limit resetting later than this is an error
    sleep: Callable[[float], None] = field(default=time.sleep)


_LINK_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


class GitHubClient:
    """Requests to one repository's API; paths are relative to the API's root."""

    def __init__(
        self, settings: GitHubSettings, *, retry: RetryPolicy | None = None, timeout: float = 30
    ):
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self.timeout = timeout

    @property
    def repo_path(self) -> str:
        owner = urllib.parse.quote(self.settings.owner, safe="")
        name = urllib.parse.quote(self.settings.name, safe="")
        return f"/repos/{owner}/{name}"

    # -- requests ------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> Response:
        url = path if path.startswith("http") else self.settings.api_url + path
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(1, self.retry.attempts + 1):
            response = self._send(method, url, data)
            wait = self._retry_wait(response, attempt)
            if wait is None:
                break
            self.retry.sleep(wait)
        if response.status == 0 or response.status >= 400:
            raise self._error(method, path, response)
        return response

    def _send(self, method: str, url: str, data: bytes | None) -> Response:
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": f"odooplane/{__version__}",
        }
        if self.settings.token:
            headers["Authorization"] = f"Bearer {self.settings.token}"
        if data is not None:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as raw:
                return Response(raw.status, _headers(raw.headers), _decode(raw.read()))
        except urllib.error.HTTPError as exc:
            return Response(exc.code, _headers(exc.headers), _decode(exc.read()))
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            # A connection that failed is retried like a 5xx (status 0 marks it).
            return Response(0, {}, {"message": str(reason)})

    def _retry_wait(self, response: Response, attempt: int) -> float | None:
        """Seconds to wait before retrying, or None when the answer is final."""
        if attempt >= self.retry.attempts:
            return None
        status = response.status
        limited = status == 429 or (status == 403 and _rate_limited(response))
        if not limited and not (status == 0 or status >= 500):
            return None
        wait: float | None = None
        retry_after = response.header("retry-after")
        if retry_after and retry_after.strip().isdigit():
            wait = float(retry_after)
        elif limited and response.header("x-ratelimit-remaining") == "0":
            reset = response.header("x-ratelimit-reset")
            if reset and reset.isdigit():
                wait = max(0.0, int(reset) - time.time()) + 1
        if wait is None:
            # Secondary limits without headers: GitHub asks for at least a minute.
            wait = 60.0 if limited else self.retry.backoff * 2 ** (attempt - 1)
        if wait > self.retry.max_wait:
            return None
        return wait

    def _error(self, method: str, path: str, response: Response) -> GitHubError:
        status = response.status
        body = response.body if isinstance(response.body, dict) else {}
        said = str(body.get("message") or "").strip()
        repo = self.settings.repository
        api = self.settings.api_url
        what = f"{method} {path}"
        if status == 0:
            return GitHubError(
                f"GitHub's API at {api} could not be reached ({said}).",
                hint="Check GITHUB_API_URL and the runner's network.",
            )
        if status == 401:
            return GitHubError(
                f"GitHub refused the token ({status} {said or 'Bad credentials'}): "
                "GITHUB_TOKEN is missing, expired or revoked.",
                status=status,
                hint="Pass `GITHUB_TOKEN: ${{ github.token }}` in the workflow step, or "
                "renew the token.",
            )
        if status in (403, 429) and _rate_limited(response):
            reset = response.header("x-ratelimit-reset")
            when = (
                time.strftime("%H:%M:%S UTC", time.gmtime(int(reset)))
                if reset and reset.isdigit()
                else "later"
            )
            return GitHubError(
                f"GitHub's rate limit is exhausted for this token ({said or status}); "
                f"it resets at {when}.",
                status=status,
                hint="Retry after that time, or use a token with a higher limit.",
            )
        if status == 403:
            return GitHubError(
                f"The token may not do {what} on {repo} ({said or 'Forbidden'}): "
                "it lacks a permission.",
                status=status,
                hint="Give the workflow or job the permissions docs/github.md lists "
                "(contents: read, statuses, deployments, pull-requests and issues: write); "
                "pull requests from forks get a read-only token.",
            )
        if status == 404:
            return GitHubError(
                f"GitHub found nothing at {what} ({said or 'Not Found'}): the repository "
                f"'{repo}' does not exist, or the token cannot see it, or the "
                "number or commit is wrong.",
                status=status,
                hint="Check GITHUB_REPOSITORY or github.repository (OWNER/NAME) and that "
                "the token has access to that repository.",
            )
        if status == 422:
            details = "; ".join(
                str(e.get("message") or f"{e.get('field')} {e.get('code')}")
                for e in body.get("errors") or []
                if isinstance(e, dict)
            )
            return GitHubError(
                f"GitHub refused the values sent to {what}: {said or 'Validation Failed'}"
                + (f" ({details})" if details else "")
                + ".",
                status=status,
                hint="The commit must be pushed to the repository, and names and "
                "descriptions within GitHub's limits.",
            )
        return GitHubError(
            f"GitHub answered {status} to {what} after retrying: {said or 'server error'}.",
            status=status,
            hint="GitHub may be having trouble (https://www.githubstatus.com); run the job again.",
        )

    # -- conveniences --------------------------------------------------------------------

    def get(self, path: str, **params: str | int) -> Any:
        return self.request("GET", path, params=params or None).body

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body=body).body

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, body=body).body

    def paginate(self, path: str, *, limit: int = 3000, **params: str | int) -> Iterator[Any]:
        """Items of a list endpoint, page after page (``Link: rel="next"``)."""
        url: str | None = path
        query: dict[str, str | int] | None = {"per_page": 100, **params}
        seen = 0
        while url is not None:
            response = self.request("GET", url, params=query)
            items = response.body
            if isinstance(items, dict):
                # compare returns an object; its list lives under "commits"
                items = items.get("commits", [])
            for item in items or []:
                yield item
                seen += 1
                if seen >= limit:
                    return
            found = _LINK_NEXT.search(response.header("link") or "")
            url = found.group(1) if found else None
            query = None


def _rate_limited(response: Response) -> bool:
    if response.header("x-ratelimit-remaining") == "0":
        return True
    if response.header("retry-after"):
        return True
    body = response.body if isinstance(response.body, dict) else {}
    return "rate limit" in str(body.get("message", "")).lower()


def _headers(raw: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in raw.items()} if raw is not None else {}


def _decode(data: bytes) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return {"message": data.decode("utf-8", "replace")[:300]}
