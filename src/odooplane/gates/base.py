"""What every gate is given and what it must provide.

A gate is a class with a ``name``, a ``title`` and ``run(ctx) -> GateOutcome``. It is
handed a :class:`GateContext`: the build being judged, the addons that changed, the
settings, a log that becomes the gate run's artifact, and a deadline. Programs it runs
through :meth:`GateContext.run` are killed when the deadline passes.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

from odooplane.errors import OdooplaneError
from odooplane.gates.model import ChangedAddons, GateOutcome
from odooplane.gates.settings import GateSettings
from odooplane.progress import Progress, report
from odooplane.project import Project
from odooplane.runner import RunResult, run_logged

if TYPE_CHECKING:
    from odooplane.environments.builds import Build
    from odooplane.postgres.server import DatabaseServer


class GateTimeout(OdooplaneError):
    """A gate ran past its ``gates.timeout_minutes``."""


class GateLog(Protocol):
    def write(self, text: str) -> None: ...

    def line(self, text: str = "") -> None: ...


@dataclass
class GateContext:
    project: Project
    build: Build
    changes: ChangedAddons
    settings: GateSettings
    environment: str | None
    log: GateLog
    deadline: float
    work_dir: Path
    progress: Progress | None = None
    _server: DatabaseServer | None = field(default=None, repr=False)
    _server_lock: ClassVar[threading.Lock] = threading.Lock()

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise GateTimeout(
                f"The gate ran out of time (gates.timeout_minutes is "
                f"{self.settings.timeout_minutes})."
            )
        return left

    def say(self, text: str) -> None:
        self.log.line(text)
        report(self.progress, text)

    def server(self) -> DatabaseServer:
        with self._server_lock:
            if self._server is None:
                from odooplane.postgres.project_server import server_for

                self._server = server_for(self.project)
            return self._server

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        log_name: str,
        cwd: Path | None = None,
    ) -> RunResult:
        """Run a program to its end (or the deadline); its output goes to the gate's log
        and is returned."""
        timeout = self.remaining()
        result = run_logged(
            argv,
            env=env,
            cwd=cwd or self.work_dir,
            log_path=self.work_dir / log_name,
            timeout=timeout,
            sink=self.log.write,
        )
        if result.timed_out:
            raise GateTimeout(
                f"`{Path(str(argv[0])).name}` was stopped: the gate ran out of time "
                f"(gates.timeout_minutes is {self.settings.timeout_minutes})."
            )
        return result

    def cleanup(self) -> None:
        shutil.rmtree(self.work_dir, ignore_errors=True)


class Gate(Protocol):
    name: ClassVar[str]
    title: ClassVar[str]

    def run(self, ctx: GateContext) -> GateOutcome: ...
