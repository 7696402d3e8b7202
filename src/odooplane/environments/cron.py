"""``env cron-run``: run one scheduled action now, by XML id or name, even if disabled.

QA triggers crons by hand on neutralized environments (whose cron threads are off).
The action runs inside ``odoo-bin shell`` of the environment's build, against its
database, through Odoo's own ``ir.cron.method_direct_trigger`` (the "Run Manually"
button): it takes the cron's row lock, runs as the cron's user, updates ``lastcall``
and commits (:func:`odooplane.odoo.in_runtime.trigger_cron` reads its outcome, which
19.0 returns instead of raising). The script reports back on one marked JSON line of its output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from odooplane.odoo import in_runtime
from odooplane.results import Result

MARKER = "ODOOPLANE-CRON-RESULT "
IN_RUNTIME = Path(in_runtime.__file__)

# Runs inside `odoo-bin shell` (``env`` is bound, superuser); `_target` and
# `_in_runtime` (the source of odooplane/odoo/in_runtime.py, which knows how each series
# runs a cron by hand) are prepended. The source travels in the script, not as a path:
# the shell may run in a container or as a user that cannot read odooplane's files.
_SCRIPT = r"""
import json as _json, time as _time, traceback as _traceback, types as _types
_inside = _types.ModuleType("_odooplane_in_runtime")
exec(compile(_in_runtime, "odooplane/odoo/in_runtime.py", "exec"), _inside.__dict__)
def _report(**values):
    print("ODOOPLANE-CRON-RESULT " + _json.dumps(values), flush=True)
_Cron = env["ir.cron"].with_context(active_test=False)
_found = _Cron.browse()
if "." in _target:
    _rec = env.ref(_target, raise_if_not_found=False)
    if _rec is not None and _rec._name == "ir.cron":
        _found = _rec.with_context(active_test=False)
if not _found:
    _found = _Cron.search([("cron_name", "=", _target)])
if not _found:
    _found = _Cron.search([("cron_name", "=ilike", _target)])
if not _found:
    _found = _Cron.search([("cron_name", "ilike", _target)])
def _describe(c):
    xmlid = c.get_external_id().get(c.id) or ""
    return {"id": c.id, "name": c.cron_name, "xmlid": xmlid, "active": c.active}
if len(_found) != 1:
    _report(status="not_found" if not _found else "ambiguous",
            candidates=[_describe(c) for c in _found[:20]])
else:
    _info = _describe(_found)
    _lastcall = _found.lastcall
    _start = _time.monotonic()
    try:
        _failure = _inside.trigger_cron(_found)
        if _failure is not None:
            env.cr.rollback()
            _report(status="error", cron=_info, seconds=round(_time.monotonic() - _start, 3),
                    error=_failure[0], traceback=_failure[1])
        else:
            env.cr.commit()
            _found.invalidate_recordset()
            _report(status="ok", cron=_info, seconds=round(_time.monotonic() - _start, 3),
                    lastcall_before=str(_lastcall or ""),
                    lastcall_after=str(_found.lastcall or ""))
    except Exception as _exc:
        env.cr.rollback()
        _report(status="error", cron=_info, seconds=round(_time.monotonic() - _start, 3),
                error=f"{type(_exc).__name__}: {_exc}", traceback=_traceback.format_exc())
"""


def cron_script(target: str) -> str:
    source = IN_RUNTIME.read_text(encoding="utf-8")
    return f"_target = {target!r}\n_in_runtime = {source!r}\n{_SCRIPT}"


@dataclass(frozen=True)
class CronResult(Result):
    status: str  # ok | error | not_found | ambiguous
    cron: dict[str, Any] | None
    seconds: float | None
    error: str | None
    traceback: str | None
    candidates: list[dict[str, Any]]
    lastcall_before: str | None = None
    lastcall_after: str | None = None


def parse_result(output: str) -> CronResult | None:
    for line in reversed(output.splitlines()):
        index = line.find(MARKER)
        if index < 0:
            continue
        data = json.loads(line[index + len(MARKER) :])
        return CronResult(
            status=str(data.get("status")),
            cron=data.get("cron"),
            seconds=data.get("seconds"),
            error=data.get("error"),
            traceback=data.get("traceback"),
            candidates=list(data.get("candidates") or []),
            lastcall_before=data.get("lastcall_before"),
            lastcall_after=data.get("lastcall_after"),
        )
    return None
