"""Is an environment's Odoo serving? ``/web/health`` and ``/web/login`` must answer 200.

``/web/health`` proves the HTTP server and the registry are up; ``/web/login`` proves a
page renders from the environment's database (assets, views, the database filter).
While waiting, a process that leaves the running state ends the wait at once, so a
start-up crash is reported in seconds with the log lines that explain it.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from odooplane.errors import CheckFailedError
from odooplane.results import Result

HEALTH_PATHS = ("/web/health", "/web/login")


@dataclass
class HealthResult(Result):
    ok: bool
    url: str
    checks: dict[str, int | str] = field(default_factory=dict)
    seconds: float = 0.0
    reason: str = ""


def probe(base_url: str, path: str, timeout: float = 10.0) -> int | str:
    """The HTTP status of ``GET base_url+path``, or a short text when nothing answered."""
    request = urllib.request.Request(base_url + path, headers={"User-Agent": "odooplane"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(65536)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"no answer ({reason})"


def check_once(base_url: str, timeout: float = 10.0) -> HealthResult:
    checks = {path: probe(base_url, path, timeout) for path in HEALTH_PATHS}
    ok = all(code == 200 for code in checks.values())
    return HealthResult(ok=ok, url=base_url, checks=checks)


def wait_healthy(
    base_url: str,
    *,
    timeout: float,
    still_running: Callable[[], str | None] | None = None,
    interval: float = 0.1,
) -> HealthResult:
    """Poll until both paths answer 200, ``timeout`` passes, or the process gives up.

    ``still_running`` returns None while the process may still come up, or a sentence
    saying why it will not (it exited, supervisord gave up). A probe before Odoo listens
    is a refused connection (no cost to Odoo), so polling often only shortens the wait:
    every start waited half an ``interval`` on average after Odoo could answer.
    """
    started = time.monotonic()
    last = HealthResult(ok=False, url=base_url)
    while True:
        # /web/health first: it is cheap, /web/login renders a page.
        code = probe(base_url, HEALTH_PATHS[0], timeout=5.0)
        if code == 200:
            last = check_once(base_url, timeout=max(5.0, timeout / 4))
            if last.ok:
                last.seconds = round(time.monotonic() - started, 2)
                return last
        else:
            last = HealthResult(ok=False, url=base_url, checks={HEALTH_PATHS[0]: code})
        if still_running is not None:
            why = still_running()
            if why:
                last.reason = why
                break
        if time.monotonic() - started > timeout:
            last.reason = f"no 200 from {' and '.join(HEALTH_PATHS)} within {timeout:g} s"
            break
        time.sleep(interval)
    last.seconds = round(time.monotonic() - started, 2)
    return last


def require_healthy(result: HealthResult, log_excerpt: str) -> None:
    if result.ok:
        return
    answers = ", ".join(f"{path}: {code}" for path, code in result.checks.items())
    raise CheckFailedError(
        f"Odoo at {result.url} is not healthy: {result.reason} ({answers}).\n"
        f"Last log lines:\n{log_excerpt}"
    )
