"""A local GitHub: a real HTTP server on 127.0.0.1 speaking the REST endpoints odooplane
uses, with the request and response shapes GitHub documents (JSON bodies, status codes,
``Link`` pagination, rate-limit headers, ``Bad credentials``/``Not Found``/``Validation
Failed`` errors). The only stand-in the suite allows: GitHub cannot be reached here.

``faults`` queues answers for the next matching requests (a 502, a 403 with rate-limit
headers...), so retries and error sentences are tested over real HTTP.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

DOCS = "https://docs.github.com/rest"
BOT = "github-actions[bot]"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def user(login: str) -> dict[str, Any]:
    return {"login": login, "id": abs(hash(login)) % 10**7, "type": "User"}


@dataclass
class Fault:
    method: str
    path: str  # a regex matched against the path
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    times: int = 1


@dataclass
class FakeGitHub:
    token: str = "ghs_local_test_token"
    repository: str = "acme/erp"
    private: bool = True
    url: str = ""
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1001))
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    deployment_statuses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    commits: dict[str, dict[str, Any]] = field(default_factory=dict)
    commit_comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- test helpers ---------------------------------------------------------------------

    def add_pull(self, number: int, head_sha: str, *, author: str = "dev", **extra: Any) -> None:
        self.pulls[number] = {
            "number": number,
            "state": "open",
            "title": extra.pop("title", f"PR {number}"),
            "user": user(author),
            "head": {"sha": head_sha, "ref": extra.pop("head_ref", f"feature/{number}")},
            "base": {"sha": "0" * 40, "ref": "main"},
            "html_url": f"https://github.com/{self.repository}/pull/{number}",
            "merge_commit_sha": extra.pop("merge_commit_sha", None),
            **extra,
        }

    def add_commit(self, sha: str, author: str) -> None:
        self.commits[sha] = {
            "sha": sha,
            "author": user(author),
            "committer": user("web-flow"),
            "commit": {"author": {"name": author, "email": f"{author}@example.com"}},
        }

    def add_review(
        self, pr: int, login: str, state: str, commit_id: str, association: str = "MEMBER"
    ) -> None:
        number = next(self.ids)
        self.reviews.setdefault(pr, []).append(
            {
                "id": number,
                "user": user(login),
                "body": "",
                "state": state,
                "commit_id": commit_id,
                "submitted_at": _now(),
                "author_association": association,
                "html_url": f"https://github.com/{self.repository}/pull/{pr}"
                f"#pullrequestreview-{number}",
            }
        )

    def add_comment(
        self, pr: int, login: str, body: str, association: str = "MEMBER"
    ) -> dict[str, Any]:
        return self._new_comment(pr, body, login, association)

    def comments_on(self, pr: int) -> list[dict[str, Any]]:
        return [c for c in self.comments.values() if c["_issue"] == pr]

    def deployment_states(self, environment: str) -> list[str]:
        found = []
        for d in self.deployments:
            if d["environment"] == environment:
                found += [s["state"] for s in reversed(self.deployment_statuses[d["id"]])]
        return found

    def fault(self, method: str, path: str, status: int, **kwargs: Any) -> None:
        self.faults.append(Fault(method, path, status, **kwargs))

    def calls(self, method: str, pattern: str) -> list[Any]:
        return [b for m, p, b in self.requests if m == method and re.search(pattern, p)]

    # -- handlers -------------------------------------------------------------------------

    def _new_comment(self, issue: int, body: str, login: str, association: str) -> dict[str, Any]:
        number = next(self.ids)
        comment = {
            "id": number,
            "node_id": f"IC_{number}",
            "url": f"{self.url}/repos/{self.repository}/issues/comments/{number}",
            "html_url": f"https://github.com/{self.repository}/pull/{issue}#issuecomment-{number}",
            "issue_url": f"{self.url}/repos/{self.repository}/issues/{issue}",
            "body": body,
            "user": user(login),
            "author_association": association,
            "created_at": _now(),
            "updated_at": _now(),
            "_issue": issue,
        }
        self.comments[number] = comment
        return comment

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        repo = f"/repos/{self.repository}"
        if not path.lower().startswith(repo.lower() + "/") and path.lower() != repo.lower():
            return 404, {"message": "Not Found", "documentation_url": DOCS}
        rest = path[len(repo) :]
        routes: list[tuple[str, str, Callable[..., tuple[int, Any]]]] = [
            ("GET", r"", self._repo),
            ("GET", r"/issues/(\d+)/comments", self._list_comments),
            ("POST", r"/issues/(\d+)/comments", self._create_comment),
            ("PATCH", r"/issues/comments/(\d+)", self._edit_comment),
            ("POST", r"/statuses/([0-9a-f]+)", self._create_status),
            ("GET", r"/commits/([0-9a-f]+)/statuses", self._list_statuses),
            ("GET", r"/deployments", self._list_deployments),
            ("POST", r"/deployments", self._create_deployment),
            ("GET", r"/deployments/(\d+)/statuses", self._list_deployment_statuses),
            ("POST", r"/deployments/(\d+)/statuses", self._create_deployment_status),
            ("GET", r"/pulls/(\d+)", self._pull),
            ("GET", r"/pulls/(\d+)/reviews", self._list_reviews),
            ("GET", r"/commits/([0-9a-f]+)/pulls", self._commit_pulls),
            ("GET", r"/commits/([0-9a-f]+)/comments", self._commit_comments),
            ("GET", r"/commits/([0-9a-f]+)", self._commit),
            ("GET", r"/compare/([0-9a-f]+)\.\.\.([0-9a-f]+)", self._compare),
        ]
        for verb, pattern, func in routes:
            match = re.fullmatch(pattern, rest)
            if match and verb == method:
                return func(*match.groups(), query=query, body=body)
        return 404, {"message": "Not Found", "documentation_url": DOCS}

    def _repo(self, **_: Any) -> tuple[int, Any]:
        owner, name = self.repository.split("/")
        return 200, {
            "id": 1,
            "name": name,
            "full_name": self.repository,
            "owner": user(owner),
            "private": self.private,
            "default_branch": "main",
        }

    def _list_comments(self, issue: str, **_: Any) -> tuple[int, Any]:
        if int(issue) not in self.pulls:
            return 404, {"message": "Not Found", "documentation_url": DOCS}
        return 200, [_public(c) for c in self.comments_on(int(issue))]

    def _create_comment(self, issue: str, body: Any, **_: Any) -> tuple[int, Any]:
        if int(issue) not in self.pulls:
            return 404, {"message": "Not Found", "documentation_url": DOCS}
        if not isinstance(body, dict) or not isinstance(body.get("body"), str):
            return _invalid("IssueComment", "body", "missing_field")
        if len(body["body"]) > 65536:
            return _invalid("IssueComment", "body", "custom", "body is too long")
        return 201, _public(self._new_comment(int(issue), body["body"], BOT, "NONE"))

    def _edit_comment(self, number: str, body: Any, **_: Any) -> tuple[int, Any]:
        comment = self.comments.get(int(number))
        if comment is None:
            return 404, {"message": "Not Found", "documentation_url": DOCS}
        if not isinstance(body, dict) or not isinstance(body.get("body"), str):
            return _invalid("IssueComment", "body", "missing_field")
        comment["body"] = body["body"]
        comment["updated_at"] = _now()
        return 200, _public(comment)

    def _create_status(self, sha: str, body: Any, **_: Any) -> tuple[int, Any]:
        if len(sha) != 40:
            return _invalid("Status", "sha", "invalid", f"No commit found for SHA: {sha}")
        state = body.get("state") if isinstance(body, dict) else None
        if state not in ("error", "failure", "pending", "success"):
            return _invalid("Status", "state", "custom", "state is not included in the list")
        if len(str(body.get("description") or "")) > 140:
            return _invalid("Status", "description", "custom", "description is too long")
        status = {
            "id": next(self.ids),
            "state": state,
            "description": body.get("description"),
            "target_url": body.get("target_url"),
            "context": body.get("context") or "default",
            "created_at": _now(),
            "creator": user(BOT),
        }
        self.statuses.setdefault(sha, []).insert(0, status)
        return 201, status

    def _list_statuses(self, sha: str, **_: Any) -> tuple[int, Any]:
        return 200, self.statuses.get(sha, [])

    def _list_deployments(self, query: dict[str, str], **_: Any) -> tuple[int, Any]:
        found = [
            d
            for d in reversed(self.deployments)
            if all(d.get(k) == query[k] for k in ("sha", "environment", "ref") if k in query)
        ]
        return 200, found

    def _create_deployment(self, body: Any, **_: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not body.get("ref"):
            return _invalid("Deployment", "ref", "missing_field")
        ref = str(body["ref"])
        if not re.fullmatch(r"[0-9a-f]{40}", ref):
            return 422, {"message": f"No ref found for: {ref}", "documentation_url": DOCS}
        deployment = {
            "id": next(self.ids),
            "sha": ref,
            "ref": ref,
            "task": body.get("task", "deploy"),
            "environment": body.get("environment", "production"),
            "description": body.get("description"),
            "transient_environment": bool(body.get("transient_environment", False)),
            "production_environment": bool(body.get("production_environment", False)),
            "creator": user(BOT),
            "created_at": _now(),
        }
        self.deployments.append(deployment)
        self.deployment_statuses[deployment["id"]] = []
        return 201, deployment

    def _list_deployment_statuses(self, number: str, query: dict[str, str], **_: Any):  # type: ignore[no-untyped-def]
        if int(number) not in self.deployment_statuses:
            return 404, {"message": "Not Found", "documentation_url": DOCS}
        return 200, self.deployment_statuses[int(number)]

    def _create_deployment_status(self, number: str, body: Any, **_: Any) -> tuple[int, Any]:
        if int(number) not in self.deployment_statuses:
            return 404, {"message": "Not Found", "documentation_url": DOCS}
        states = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")
        if not isinstance(body, dict) or body.get("state") not in states:
            return _invalid("DeploymentStatus", "state", "custom", "state is not included")
        deployment = next(d for d in self.deployments if d["id"] == int(number))
        status = {
            "id": next(self.ids),
            "state": body["state"],
            "description": body.get("description", ""),
            "environment": deployment["environment"],
            "environment_url": body.get("environment_url", ""),
            "log_url": body.get("log_url", ""),
            "target_url": body.get("log_url", ""),
            "created_at": _now(),
            "creator": user(BOT),
        }
        self.deployment_statuses[int(number)].insert(0, status)
        return 201, status

    def _pull(self, number: str, **_: Any) -> tuple[int, Any]:
        pull = self.pulls.get(int(number))
        return (200, pull) if pull else (404, {"message": "Not Found", "documentation_url": DOCS})

    def _list_reviews(self, number: str, **_: Any) -> tuple[int, Any]:
        return 200, self.reviews.get(int(number), [])

    def _commit_pulls(self, sha: str, **_: Any) -> tuple[int, Any]:
        return 200, [
            p for p in self.pulls.values() if sha in (p["head"]["sha"], p.get("merge_commit_sha"))
        ]

    def _commit_comments(self, sha: str, **_: Any) -> tuple[int, Any]:
        return 200, self.commit_comments.get(sha, [])

    def _commit(self, sha: str, **_: Any) -> tuple[int, Any]:
        found = self.commits.get(sha)
        if found is None:
            return 422, {"message": f"No commit found for SHA: {sha}", "documentation_url": DOCS}
        return 200, found

    def _compare(self, base: str, head: str, **_: Any) -> tuple[int, Any]:
        if base not in self.commits or head not in self.commits:
            return 404, {"message": "Not Found", "documentation_url": DOCS}
        shas = list(self.commits)
        lo, hi = shas.index(base), shas.index(head)
        listed = [self.commits[s] for s in shas[lo + 1 : hi + 1]]
        return 200, {"status": "ahead", "total_commits": len(listed), "commits": listed}


def _public(comment: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in comment.items() if not k.startswith("_")}


def _invalid(resource: str, field_name: str, code: str, message: str | None = None):  # type: ignore[no-untyped-def]
    error: dict[str, Any] = {"resource": resource, "field": field_name, "code": code}
    if message:
        error["message"] = message
    return 422, {"message": "Validation Failed", "errors": [error], "documentation_url": DOCS}


PAGE = re.compile(r"page=(\d+)")


def _make_handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                self._send(400, {"message": "Problems parsing JSON"}, {})
                return
            with fake.lock:
                fake.requests.append((method, parts.path, body))
                for fault in fake.faults:
                    if fault.method == method and re.search(fault.path, parts.path):
                        fault.times -= 1
                        if fault.times <= 0:
                            fake.faults.remove(fault)
                        self._send(fault.status, fault.body or {}, fault.headers)
                        return
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    self._send(401, {"message": "Bad credentials", "documentation_url": DOCS}, {})
                    return
                if "vnd.github" not in (self.headers.get("Accept") or ""):
                    self._send(415, {"message": "Unsupported media type"}, {})
                    return
                status, payload = fake.handle(method, parts.path, query, body)
            headers = {
                "x-ratelimit-limit": "1000",
                "x-ratelimit-remaining": "999",
                "x-ratelimit-reset": "4102444800",
            }
            if method == "GET" and isinstance(payload, list):
                per_page = min(100, int(query.get("per_page", 30)))
                page = int(query.get("page", 1))
                chunk = payload[(page - 1) * per_page : page * per_page]
                if page * per_page < len(payload):
                    query_next = dict(query, page=str(page + 1), per_page=str(per_page))
                    link = f"{fake.url}{parts.path}?" + "&".join(
                        f"{k}={v}" for k, v in query_next.items()
                    )
                    headers["Link"] = f'<{link}>; rel="next"'
                payload = chunk
            elif method == "GET" and isinstance(payload, dict) and "commits" in payload:
                per_page = min(100, int(query.get("per_page", 250)))
                page = int(query.get("page", 1))
                commits = payload["commits"]
                payload = dict(payload, commits=commits[(page - 1) * per_page : page * per_page])
                if page * per_page < len(commits):
                    headers["Link"] = (
                        f'<{fake.url}{parts.path}?per_page={per_page}&page={page + 1}>; rel="next"'
                    )
            self._send(status, payload, headers)

        def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PATCH(self) -> None:
            self._serve("PATCH")

    return Handler


@contextlib.contextmanager
def serve(fake: FakeGitHub) -> Iterator[FakeGitHub]:
    """Serve ``fake`` on a free port of 127.0.0.1 (its ``url``) until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    """A local GitHub on 127.0.0.1; GITHUB_* variables point odooplane at it."""
    with serve(FakeGitHub()) as fake, pytest.MonkeyPatch.context() as patch:
        patch.setenv("GITHUB_API_URL", fake.url)
        patch.setenv("GITHUB_TOKEN", fake.token)
        patch.setenv("GITHUB_REPOSITORY", fake.repository)
        patch.setenv("GITHUB_SERVER_URL", "https://github.com")
        yield fake
