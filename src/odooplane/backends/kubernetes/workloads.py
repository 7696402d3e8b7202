"""What odooplane does with workloads in a namespace: apply, run a Job to its end, roll
a Deployment out and tell why it does not come up, scale, find and remove by labels.

Waits poll the API (a watch buys nothing at one-second resolution and survives no
better a restarted API server). A rollout fails early, with the reason Kubernetes gives,
when a pod cannot start at all (image missing, crash loop, configuration error) instead
of waiting for the progress deadline; its last log lines come with the reason.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from odooplane.backends.kubernetes.api import ApiError, KubeClient
from odooplane.errors import CheckFailedError, OdooplaneError

# Waiting reasons after which a container will not start by itself.
FATAL_WAITING = (
    "CrashLoopBackOff",
    "ErrImagePull",
    "ImagePullBackOff",
    "ErrImageNeverPull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
)
# Kinds removed when an environment goes, in this order (Jobs first: their pods hold the
# claim; the claim last).
REMOVABLE_KINDS = (
    "CronJob",
    "Job",
    "Ingress",
    "Service",
    "Deployment",
    "Secret",
    "PersistentVolumeClaim",
)
LOG_TAIL = 200
UNSCHEDULABLE_GRACE = 180.0


@dataclass
class JobResult:
    name: str
    succeeded: bool
    reason: str
    output: str
    seconds: float
    exit_code: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RolloutResult:
    ok: bool
    reason: str
    seconds: float
    pods: list[str] = field(default_factory=list)
    log_excerpt: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _age(obj: dict[str, Any]) -> float:
    """Seconds since ``obj`` was created (0 when unknown)."""
    from datetime import datetime, timezone

    stamp = (obj.get("metadata") or {}).get("creationTimestamp")
    try:
        created = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return (datetime.now(timezone.utc) - created).total_seconds()


class Workloads:
    """The objects of one namespace."""

    def __init__(self, client: KubeClient, namespace: str) -> None:
        self.client = client
        self.namespace = namespace

    # -- namespace and objects -------------------------------------------------------

    def ensure_namespace(self) -> None:
        if self.client.get("Namespace", self.namespace) is None:
            with contextlib.suppress(ApiError):
                self.client.apply(
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}}
                )
            if self.client.get("Namespace", self.namespace) is None:
                raise CheckFailedError(
                    f"The namespace '{self.namespace}' does not exist and could not be created.",
                    hint="Create it (`kubectl create namespace ...`) or set "
                    "kubernetes.namespace to one odooplane may use.",
                )

    def apply_all(self, objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self.client.apply(obj) for obj in objects]

    def find(self, kind: str, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        return self.client.list_objects(kind, self.namespace, labels=dict(labels))

    def remove(
        self, labels: Mapping[str, str], *, kinds: Iterable[str] = REMOVABLE_KINDS
    ) -> list[str]:
        """Delete every object of ``kinds`` carrying ``labels``; what was removed."""
        removed: list[str] = []
        for kind in kinds:
            for obj in self.find(kind, labels):
                name = obj["metadata"]["name"]
                if self.client.delete(
                    kind,
                    name,
                    self.namespace,
                    propagation="Foreground" if kind == "Job" else "Background",
                ):
                    removed.append(f"{kind}/{name}")
        return removed

    # -- pods ---------------------------------------------------------------------------

    def pods(self, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        pods = self.find("Pod", labels)
        return sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""))

    def pod_problem(self, pod: dict[str, Any]) -> str | None:
        """Why ``pod`` will not start by itself, or None."""
        status = pod.get("status") or {}
        for cs in status.get("containerStatuses") or []:
            waiting = (cs.get("state") or {}).get("waiting") or {}
            reason = waiting.get("reason")
            if reason in FATAL_WAITING:
                # A first crash is reported as CrashLoopBackOff only after a restart.
                return f"{reason}: {waiting.get('message') or 'see the pod logs'}".strip()
        for condition in status.get("conditions") or []:
            if (
                condition.get("type") == "PodScheduled"
                and condition.get("status") == "False"
                and condition.get("reason") == "Unschedulable"
                # A claim being provisioned, a node being added: give the scheduler time.
                and _age(pod) > UNSCHEDULABLE_GRACE
            ):
                return f"Unschedulable: {condition.get('message', '')}"
        return None

    def tail(self, pod: str, *, previous: bool = False, lines: int = LOG_TAIL) -> str:
        query_lines = (
            list(
                self.client.stream_lines(
                    self.client.path("Pod", pod, self.namespace, subresource="log"),
                    query={"tailLines": lines, "previous": previous or None},
                    timeout=30,
                )
            )
            if pod
            else []
        )
        return "\n".join(query_lines)

    def safe_tail(self, pod: str, *, previous: bool = False) -> str:
        try:
            return self.tail(pod, previous=previous)
        except OdooplaneError:
            return ""

    # -- jobs ---------------------------------------------------------------------------

    def run_job(
        self, job: dict[str, Any], *, timeout: float, on_line: Callable[[str], None] | None = None
    ) -> JobResult:
        """Create ``job`` and wait for its end, streaming its pod's output to ``on_line``.

        The Job never retries (``backoffLimit: 0``): its one pod's end is the result.
        """
        started = time.monotonic()
        name = job["metadata"]["name"]
        self.client.apply(job)
        selector = {"job-name": name}
        lines: list[str] = []
        streamer: threading.Thread | None = None

        def stream(pod: str) -> None:
            try:
                for line in self.client.logs(pod, self.namespace, follow=True, timeout=timeout):
                    lines.append(line)
                    if on_line is not None:
                        on_line(line)
            except OdooplaneError:
                return

        deadline = started + timeout
        while True:
            current = self.client.get("Job", name, self.namespace) or {}
            status = current.get("status") or {}
            pods = self.pods(selector)
            if pods and streamer is None:
                phase = (pods[-1].get("status") or {}).get("phase")
                if phase in ("Running", "Succeeded", "Failed"):
                    streamer = threading.Thread(
                        target=stream, args=(pods[-1]["metadata"]["name"],), daemon=True
                    )
                    streamer.start()
            problem = self.pod_problem(pods[-1]) if pods else None
            done = status.get("succeeded") or status.get("failed") or problem
            failed_condition = next(
                (
                    c
                    for c in status.get("conditions") or []
                    if c.get("type") == "Failed" and c.get("status") == "True"
                ),
                None,
            )
            if done or failed_condition:
                break
            if time.monotonic() > deadline:
                problem = f"did not finish within {timeout:.0f} s"
                break
            time.sleep(1)
        if streamer is not None:
            streamer.join(timeout=15)
        pods = self.pods(selector) or pods  # their final state, exit code included
        succeeded = bool(status.get("succeeded")) and not problem
        pod_name = pods[-1]["metadata"]["name"] if pods else ""
        output = "\n".join(lines) if lines else self.safe_tail(pod_name)
        if succeeded:
            reason = "succeeded"
        elif problem:
            reason = problem
        elif pods and self._exit_code(pods[-1]) is not None:
            reason = self._exit_reason(pods[-1])
        elif failed_condition is not None:
            reason = f"{failed_condition.get('reason')}: {failed_condition.get('message', '')}"
        else:
            reason = "failed"
        if not succeeded and problem:
            # Stop what is left of it: a Job that cannot run must not start later.
            self.client.delete("Job", name, self.namespace, propagation="Foreground")
        return JobResult(
            name=name,
            succeeded=succeeded,
            reason=reason,
            output=output,
            seconds=round(time.monotonic() - started, 2),
            exit_code=0 if succeeded else (self._exit_code(pods[-1]) if pods else None),
        )

    @staticmethod
    def _exit_code(pod: dict[str, Any]) -> int | None:
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            term = (cs.get("state") or {}).get("terminated") or {}
            if "exitCode" in term:
                return int(term["exitCode"])
        return None

    @staticmethod
    def _exit_reason(pod: dict[str, Any]) -> str:
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            term = (cs.get("state") or {}).get("terminated") or {}
            if term:
                return f"exited with code {term.get('exitCode')} ({term.get('reason', '')})"
        return "failed"

    # -- deployments ----------------------------------------------------------------------

    def scale(self, name: str, replicas: int) -> None:
        self.client.patch("Deployment", name, self.namespace, {"spec": {"replicas": replicas}})

    def wait_rollout(
        self, name: str, selector: Mapping[str, str], *, timeout: float, grace_restarts: int = 1
    ) -> RolloutResult:
        """Wait until Deployment ``name`` serves its current template with every replica
        ready (as ``kubectl rollout status``), or say why it will not."""
        started = time.monotonic()
        deadline = started + timeout
        while True:
            dep = self.client.get("Deployment", name, self.namespace)
            if dep is None:
                return RolloutResult(
                    False, f"the Deployment {name} does not exist", self._since(started)
                )
            spec = dep.get("spec") or {}
            status = dep.get("status") or {}
            wanted = int(spec.get("replicas", 1))
            current = dep["metadata"].get("generation", 0) <= status.get("observedGeneration", -1)
            for condition in status.get("conditions") or []:
                if condition.get("reason") == "ProgressDeadlineExceeded":
                    return self._failed(
                        f"ProgressDeadlineExceeded: {condition.get('message')}", selector, started
                    )
            if current and (
                int(status.get("updatedReplicas") or 0) == wanted
                and int(status.get("replicas") or 0) == wanted
                and int(status.get("availableReplicas") or 0) == wanted
                and int(status.get("readyReplicas") or 0) == wanted
            ):
                pods = [
                    p["metadata"]["name"]
                    for p in self.pods(selector)
                    if not p["metadata"].get("deletionTimestamp")
                ]
                # Scaled to zero, it is rolled out once its last pods are gone.
                if wanted != 0 or not pods:
                    return RolloutResult(True, "rolled out", self._since(started), pods=pods)
            pods_now = [
                p for p in self.pods(selector) if not p["metadata"].get("deletionTimestamp")
            ]
            for pod in pods_now if wanted else []:  # scaled to 0: the pods are going
                problem = self.pod_problem(pod)
                restarts = max(
                    (
                        int(cs.get("restartCount") or 0)
                        for cs in (pod.get("status") or {}).get("containerStatuses") or []
                    ),
                    default=0,
                )
                if problem and (
                    not problem.startswith("CrashLoopBackOff") or restarts >= grace_restarts
                ):
                    return self._failed(problem, selector, started, pod=pod)
            if time.monotonic() > deadline:
                return self._failed(f"not ready within {timeout:.0f} s", selector, started)
            time.sleep(1)

    def _failed(
        self,
        reason: str,
        selector: Mapping[str, str],
        started: float,
        *,
        pod: dict[str, Any] | None = None,
    ) -> RolloutResult:
        pods = self.pods(selector)
        if pod is None and pods:
            pod = pods[-1]
        excerpt = ""
        if pod is not None:
            name = pod["metadata"]["name"]
            excerpt = self.safe_tail(name, previous=True) or self.safe_tail(name)
        return RolloutResult(
            False,
            reason,
            self._since(started),
            pods=[p["metadata"]["name"] for p in pods],
            log_excerpt=excerpt,
        )

    @staticmethod
    def _since(started: float) -> float:
        return round(time.monotonic() - started, 2)
