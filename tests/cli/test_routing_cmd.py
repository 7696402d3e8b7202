"""`odooplane routing status | list | start | stop` with a real Caddy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cli_run import run
from odooplane.backends.supervisor import SupervisorBackend
from odooplane.routing import Router, Upstream
from routing.conftest import free_port


def test_routing_commands(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    if not shutil.which("caddy"):
        pytest.skip("Caddy is not installed (apt-get install caddy)")
    root = tmp_path / "proj"
    root.mkdir()
    (root / "odooplane.yaml").write_text("project: routes\nodoo:\n  series: '17.0'\n  source: /x\n")
    router = Router(root / ".odooplane")
    try:
        port = free_port()
        router.route("staging", listen_port=port, upstream=Upstream(free_port()))
        code, out, err = run(capfd, "-C", str(root), "routing", "list", "--json")
        assert code == 0, err
        routes = json.loads(out)
        assert routes[0]["env"] == "staging" and routes[0]["mode"] == "serve"
        assert routes[0]["urls"] == [f"http://127.0.0.1:{port}"]
        code, out, err = run(capfd, "-C", str(root), "routing", "status", "--json")
        status = json.loads(out)
        assert code == 0 and status["running"] and status["routes"] == 1
        code, out, _ = run(capfd, "-C", str(root), "routing", "stop", "--json")
        assert code == 0 and json.loads(out)["running"] is False
        code, out, _ = run(capfd, "-C", str(root), "routing", "start")
        assert code == 0 and "running" in out
        code, out, _ = run(capfd, "-C", str(root), "routing", "--help")
        assert code == 0 and "status" in out and "list" in out
    finally:
        router.stop()
        SupervisorBackend(router.state_dir).shutdown()
