"""The detached worker: ``python -m odooplane.environments.worker REQUEST EVENTS``.

Started by :func:`odooplane.environments.detach.start` in a session of its own; runs one
lifecycle verb and writes its events (see :mod:`~odooplane.environments.detach`).
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

from odooplane.environments.detach import EventWriter


def _run(request: dict[str, Any], writer: EventWriter) -> dict[str, Any]:
    from odooplane.environments import api as envs
    from odooplane.project import load_project

    project = load_project(Path(request["root"]))
    name = str(request["environment"])
    kwargs = dict(request.get("kwargs") or {})
    verb = request["verb"]
    if verb == "deploy":
        outcome = envs.deploy(project, name, progress=writer.progress, **kwargs)
        return outcome.to_dict()
    if verb == "start":
        return envs.start(project, name, progress=writer.progress, **kwargs).to_dict()
    if verb == "restart":
        return envs.restart(project, name, progress=writer.progress, **kwargs).to_dict()
    raise ValueError(f"unknown verb {verb!r}")


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    request_path, events_path = Path(args[0]), Path(args[1])
    writer = EventWriter(events_path)
    # No terminal belongs to this session; a stray SIGHUP or SIGINT must not end it.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    log = events_path.with_suffix(".log")
    try:
        request = json.loads(request_path.read_text())
        result = _run(request, writer)
    except BaseException as exc:
        return writer.error(exc, log)
    writer.write(type="result", data=result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
