"""What every backend offers: the one interface the lifecycle is written against.

A backend runs the long-lived process of an environment (Odoo serving) somewhere: on
this machine under a supervisord (:mod:`odooplane.backends.supervisor`, the reference),
later in containers or on Kubernetes. The lifecycle hands it a :class:`ProgramSpec`
(what to run, with which environment, where to log) and asks for
:class:`ProcessStatus`; it never reaches past this interface. Pick one with
:func:`odooplane.backends.backend_for`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from odooplane.environments.health import HealthResult, check_once, wait_healthy
from odooplane.results import Result

if TYPE_CHECKING:
    from odooplane.containers.images import BuildImage
    from odooplane.progress import Progress

# States in which a process is (or is about to be, or is still) running; the names are
# supervisord's, which every backend maps its own states onto.
RUNNING_STATES = ("STARTING", "RUNNING", "BACKOFF", "STOPPING")


def split_program(name: str) -> tuple[str, str | None]:
    """(environment, slot) of a program name: the lifecycle names an environment's
    programs ``<env>.<slot>`` (blue/green), or ``<env>`` for the one program of an
    environment from before slots; a dot never appears in an environment's name."""
    env, _, slot = name.partition(".")
    return env, slot or None


@dataclass(frozen=True)
class ProgramSpec:
    """How to run one environment's process."""

    name: str
    argv: list[str]
    cwd: Path
    env: Mapping[str, str]
    log_file: Path
    stop_wait_seconds: int = 30
    # The signal that asks the program to finish what it serves and exit (sent to its
    # whole process group on this machine).
    stop_signal: str = "TERM"
    start_seconds: int = 3
    log_max_bytes: str = "20MB"
    log_backups: int = 3
    # The build (its git SHA) the process runs: a backend running images needs it.
    build: str | None = None
    # An Odoo process: never run as root (the local backend switches to the
    # unprivileged Odoo user, odooplane.odoo.sysuser); the project's own services
    # (the front door, the keeper) are not.
    unprivileged: bool = False


@dataclass(frozen=True)
class OneOff:
    """A one-off command (database init, module update, shell) as a backend runs it;
    ``handle`` names what :meth:`ProcessBackend.discard` removes if it is cut short."""

    argv: list[str]
    env: dict[str, str]
    handle: str | None = None


@dataclass(frozen=True)
class ProcessStatus(Result):
    name: str
    # STARTING, RUNNING, BACKOFF, STOPPING, STOPPED, EXITED, FATAL, or ABSENT (no
    # process defined), NOT_RUNNING (the backend itself is down), NOT_LOADED.
    state: str
    pid: int | None
    since: float | None
    exit_status: int | None
    description: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.state in RUNNING_STATES


class ProcessBackend(abc.ABC):
    """Where the processes of one project's environments run."""

    #: The value of an environment's ``backend:`` key this implementation serves.
    kind: ClassVar[str]
    #: Whether Odoo answers on this machine (its ports): the front door (Caddy) routes
    #: to it. A cluster serves its environments through its own Ingress.
    serves_here: ClassVar[bool] = True

    @abc.abstractmethod
    def define(self, spec: ProgramSpec) -> None:
        """Create or replace program ``spec.name``; a running one keeps running until
        its definition changes, then it is stopped and must be started again."""

    @abc.abstractmethod
    def defined(self, name: str) -> bool:
        """Whether a program ``name`` is defined."""

    @abc.abstractmethod
    def start(self, name: str) -> None:
        """Start ``name`` (without waiting for it to be healthy); idempotent."""

    @abc.abstractmethod
    def stop(self, name: str) -> None:
        """Stop ``name`` and wait until it has exited; idempotent."""

    def restart(self, name: str) -> None:
        self.stop(name)
        self.start(name)

    @abc.abstractmethod
    def status(self, name: str) -> ProcessStatus:
        """The live state of ``name``; never starts anything."""

    @abc.abstractmethod
    def remove(self, name: str) -> None:
        """Stop and forget program ``name``; its log stays where it is."""

    @abc.abstractmethod
    def programs(self) -> list[str]:
        """The names of the programs defined, sorted."""

    @abc.abstractmethod
    def shutdown(self) -> None:
        """Stop every program and whatever the backend itself runs (its daemon)."""

    def prepare_build(self, build: str, progress: Progress | None = None) -> BuildImage | None:
        """Make ready what running build ``build`` (its git SHA) takes on this backend,
        before anything of an environment changes; returns the image made or found, to
        be recorded with the build (None: the backend runs builds as they are)."""
        del build, progress  # a local process runs the build's own folder and runtime
        return None

    def one_off(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        build: str,
        interactive: bool = False,
    ) -> OneOff:
        """How a one-off Odoo command of environment ``name`` (given for this machine:
        its paths, its runtime) runs on this backend; here, as given."""
        return OneOff(list(argv), dict(env))

    def reach_mail(self, state_dir: Path, host: str, port: int) -> tuple[str, int]:
        """The address at which this backend's processes reach the project's mail catcher
        listening at ``host:port`` on this machine; here, the same."""
        del state_dir
        return host, port

    def discard(self, handle: str | None) -> bool:
        """Clean up after a one-off command that was cut short (a timeout, or its client
        killed); whether something was still there to end."""
        del handle  # a local process ends with its client: nothing is left behind
        return False

    def forget_environment(self, env: str) -> None:
        """Remove what the backend keeps for environment ``env`` besides its programs
        (called once they are removed, when the environment is destroyed)."""
        del env  # a local environment's files are in its state folder

    @abc.abstractmethod
    def log_location(self, name: str) -> Path | None:
        """Where the output of program ``name`` goes (None when it is not defined)."""

    def log_stream(self, name: str, *, lines: int, follow: bool) -> Iterator[str] | None:
        """The output of ``name`` when it is not a file here (pods: through their API);
        None: read :meth:`log_location`."""
        del name, lines, follow
        return None

    def wait_healthy(
        self,
        name: str,
        url: str,
        *,
        timeout: float,
        still_running: Callable[[], str | None] | None = None,
    ) -> HealthResult:
        """Wait until ``name`` serves ``/web/health`` and ``/web/login`` with 200; here,
        asked from this machine at ``url``."""
        del name
        return wait_healthy(url, timeout=timeout, still_running=still_running)

    def check_health(self, name: str, url: str, *, timeout: float = 10.0) -> HealthResult:
        """One look at the health of ``name`` (see :meth:`wait_healthy`)."""
        del name
        return check_once(url, timeout=timeout)

    def serve(self, env: str, program: str) -> None:
        """Send environment ``env``'s users to ``program`` (one of its slots), for a
        backend that serves elsewhere (:attr:`serves_here` false); here Caddy does."""
        del env, program

    def maintenance(self, env: str, message: str) -> None:
        """Stop sending environment ``env``'s users to any of its programs while a deploy
        changes its database, for a backend that serves elsewhere."""
        del env, message

    def recorded_state(self, name: str) -> dict[str, Any] | None:
        """The environment's record as kept where it runs (a cluster's annotations), to
        rebuild the local state after it was lost; None when the backend keeps none."""
        del name
        return None

    def recorded_password(self, name: str, role: str) -> str | None:
        """The password environment ``name``'s Odoo logs in with as ``role``, as kept
        where it runs (a cluster's Secret): what the local state lost is carried over
        instead of a new password its running Odoo does not have. None when the backend
        keeps none."""
        del name, role
        return None

    def recorded_environments(self) -> list[str]:
        """The environments of the project the backend knows of, by name."""
        return []

    def keep_record(self, name: str, key: str, data: dict[str, Any]) -> None:
        """Keep ``data`` (a preview's record...) with environment ``name`` where it runs,
        when the backend can; see :meth:`kept_records`."""
        del name, key, data

    def kept_records(self, key: str) -> dict[str, dict[str, Any]]:
        """The records kept under ``key``, by environment name."""
        del key
        return {}
