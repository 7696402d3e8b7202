"""The pages the router answers with when an environment cannot: never a bare error.

Each page is complete HTML (no external resource, so it renders whatever is down),
tells a person what is happening in one sentence, and reloads itself where waiting
helps. Caddy serves the static ones from its configuration; the wake handler serves
the starting page.
"""

from __future__ import annotations

import html

_STYLE = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#f6f7f9;"
    "color:#1f2933;margin:0;display:flex;min-height:100vh;align-items:center;"
    "justify-content:center}main{background:#fff;border-radius:12px;padding:2rem 2.5rem;"
    "max-width:34rem;box-shadow:0 2px 12px rgba(0,0,0,.08)}h1{font-size:1.35rem;"
    "margin:0 0 .75rem}p{line-height:1.5;margin:.5rem 0}small{color:#66727f}"
    "pre{white-space:pre-wrap;background:#f1f3f5;padding:.75rem;border-radius:6px;"
    "font-size:.8rem;max-height:16rem;overflow:auto}"
)


def _page(title: str, body: str, *, refresh_seconds: int | None = None) -> str:
    refresh = f'<meta http-equiv="refresh" content="{refresh_seconds}">' if refresh_seconds else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"{refresh}<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def unavailable_page(env: str, *, retry_seconds: int = 5) -> str:
    """The environment's Odoo does not answer (stopped, restarting or crashed)."""
    name = html.escape(env)
    return _page(
        f"{env} is not answering",
        f"<h1>{name} is not answering right now</h1>"
        "<p>It may be restarting or being deployed. This page tries again every "
        f"{retry_seconds} seconds.</p><small>odooplane</small>",
        refresh_seconds=retry_seconds,
    )


def maintenance_page(env: str, *, retry_after: int, message: str | None = None) -> str:
    """A deployment updates the environment's modules."""
    name = html.escape(env)
    text = html.escape(message) if message else "A new version is being installed."
    return _page(
        f"{env}: maintenance",
        f"<h1>{name} is being updated</h1><p>{text}</p>"
        f"<p>This page reloads itself in {retry_after} seconds.</p><small>odooplane</small>",
        refresh_seconds=max(1, retry_after),
    )


def starting_page(env: str, *, seconds: float, refresh_seconds: int = 1) -> str:
    """A stopped environment was asked for and is starting."""
    name = html.escape(env)
    return _page(
        f"Starting {env}",
        f"<h1>Starting {name}</h1>"
        "<p>Nobody had used this environment for a while, so it was stopped to save "
        "memory. It is starting now and this page will show it as soon as it "
        f"answers.</p><p><small>{seconds:.0f} s so far. odooplane</small></p>",
        refresh_seconds=refresh_seconds,
    )


def failed_page(env: str, *, reason: str, log_tail: str, retry_seconds: int) -> str:
    """Starting the environment failed; the next try comes after ``retry_seconds``."""
    name = html.escape(env)
    return _page(
        f"{env} could not start",
        f"<h1>{name} could not start</h1><p>{html.escape(reason)}</p>"
        f"<pre>{html.escape(log_tail)}</pre>"
        f"<p>It will be tried again in {retry_seconds} seconds.</p><small>odooplane</small>",
        refresh_seconds=retry_seconds,
    )


def unknown_host_page() -> str:
    """No environment is served at the hostname asked for."""
    return _page(
        "No environment here",
        "<h1>No environment at this address</h1><p>Nothing is served under this name "
        "(any more). A preview is removed when its pull request closes.</p>"
        "<small>odooplane</small>",
    )
