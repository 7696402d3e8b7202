"""Odoo's API per series, as odooplane calls it from inside the runtime's interpreter:
run there, by path, against each real Odoo tree (the warm server and cron-run load it
the same way); and the reading of a cron's outcome, which needs no Odoo."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from odooplane.odoo import in_runtime
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.source import OdooSource

PROBE = """
import importlib.util, json, sys
sys.path.insert(0, {source!r})
spec = importlib.util.spec_from_file_location("_odooplane_in_runtime", {path!r})
inside = importlib.util.module_from_spec(spec)
spec.loader.exec_module(inside)
odoo = inside.import_odoo()
print(json.dumps({{
    "major": inside.major(),
    "superuser": inside.superuser_id(),
    "registry": inside.registry_class().__module__,
    "submodules": all(hasattr(odoo, n) for n in ("api", "tools", "http", "modules")),
    "config": callable(getattr(inside.config(), "get", None)),
    "odooplane": any(m.startswith("odooplane") for m in sys.modules),
}}))
"""


def test_the_api_of_each_series_from_inside_its_runtime(
    series_source: OdooSource, series_runtime: Runtime
) -> None:
    script = PROBE.format(source=str(series_source.path), path=in_runtime.__file__)
    result = subprocess.run(
        [str(series_runtime.python), "-c", script],
        capture_output=True,
        text=True,
        env=series_runtime.env(),
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    major = int(series_source.series.split(".")[0])
    assert found["major"] == major
    assert found["superuser"] == 1
    assert found["registry"] == ("odoo.orm.registry" if major >= 19 else "odoo.modules.registry")
    assert found["submodules"] is True and found["config"] is True
    assert found["odooplane"] is False  # it imports nothing from odooplane


class _Cron:
    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def method_direct_trigger(self) -> Any:
        return self.answer


def test_a_cron_outcome_is_read_from_what_run_manually_returns() -> None:
    assert in_runtime.trigger_cron(_Cron(True)) is None  # up to 18.0, and a 19.0 success
    debug = (
        "Traceback (most recent call last):\n  ...\nValueError: no stock left\n\n"
        "The above exception was the direct cause of the following exception:\n\n"
        "RuntimeError"
    )
    failed = {"tag": "display_exception", "params": {"data": {"debug": debug}}}
    assert in_runtime.trigger_cron(_Cron(failed)) == ("ValueError: no stock left", debug)
    named = {"tag": "display_exception", "params": {"data": {"message": "boom", "debug": ""}}}
    assert in_runtime.trigger_cron(_Cron(named)) == ("boom", "")
    empty = {"tag": "display_exception", "params": {}}
    assert in_runtime.trigger_cron(_Cron(empty)) == ("the job failed", "")
