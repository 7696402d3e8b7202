"""The Markdown odooplane writes on GitHub: the pull-request comment's sections and the
step summary (``$GITHUB_STEP_SUMMARY``). The gates part is
:func:`odooplane.gates.render.markdown`, the one renderer of gate results."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from odooplane.gates import render
from odooplane.gates.model import GatesReport

DATA = {
    "staging": "a neutralized copy of staging (no mail leaves it, crons off)",
    "demo": "a fresh database with demo data",
    "fresh": "a fresh database",
}


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def preview_section(
    preview: dict[str, Any] | None, *, show_password: bool, pr: int, run_url: str | None
) -> str | None:
    """What the comment says about the preview (None: nothing to say)."""
    if not preview:
        return None
    status = preview.get("status")
    name = preview.get("environment") or f"pr-{pr}"
    log = f" ([log]({run_url}))" if run_url else ""
    if status == "removed":
        return (
            f"### 🧹 Preview removed\n\n`{name}` and its database were removed when the "
            f"pull request was {preview.get('closed_as') or 'closed'}."
        )
    if status == "absent":
        return f"### Preview\n\nNo preview ran for this pull request.{log}"
    if status in ("failed", "refused") or preview.get("error"):
        error = preview.get("error") or f"the preview is {status}"
        return (
            f"### ❌ Preview failed on `{str(preview.get('build') or '')[:12]}`\n\n"
            f"{_cell(error)}{log}"
        )
    url = str(preview.get("url") or "")
    password = preview.get("password")
    if password and show_password:
        secret = f"`{password}`"
    else:
        secret = f"on the server: `odooplane preview show --pr {pr}`"
    rows = [
        ("link", f"[{url}]({url})"),
        ("login", f"`{preview.get('login') or 'admin'}`"),
        ("password", secret),
        ("commit", f"`{str(preview.get('build') or '')[:12]}`"),
        ("data", DATA.get(str(preview.get("data")), str(preview.get("data")))),
    ]
    if preview.get("evidence_id"):
        rows.append(("evidence", f"`{str(preview['evidence_id'])[:8]}`"))
    table = "\n".join(f"| {k} | {_cell(v)} |" for k, v in rows)
    return f"### 🚀 Preview: [{name}]({url})\n\n| | |\n|---|---|\n{table}"


def gates_section(report: dict[str, Any] | None, *, run_url: str | None) -> str:
    if not report or not report.get("results"):
        error = (report or {}).get("error") or "they did not run"
        log = f" ([log]({run_url}))" if run_url else ""
        return f"### 💥 odooplane gates: {_cell(error)}{log}"
    parsed = GatesReport.from_dict(report)
    return render.markdown(parsed, heading="###", link=(lambda _r: run_url) if run_url else None)


def footer(sha: str | None, run_url: str | None) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = ["odooplane"]
    if sha:
        parts.append(f"commit `{sha[:12]}`")
    if run_url:
        parts.append(f"[workflow run]({run_url})")
    parts.append(f"updated {when}")
    return "<sub>" + " · ".join(parts) + "</sub>"
