"""The Kubernetes backend: each environment is a Deployment of its build's image.

The lifecycle is the local one, unchanged (build, stop, snapshot, update, start, health,
rollback); this backend maps its verbs onto the cluster:

- ``define`` applies the environment's objects (:mod:`.manifests`): Secrets, filestore
  claim, Service, Deployment (keeping its replica count), Ingress; ``start`` and
  ``stop`` scale the Deployment to 1 and 0 and wait for it;
- one-off Odoo commands (database init, module update, shell, cron-run) run as Jobs in
  the same pod setup, through ``python -m odooplane.backends.kubernetes.task``, a local
  process the lifecycle runs as it runs any command: it streams the Job's output and
  exits with its code; cut short, the Job is deleted;
- health is the rollout (readiness on ``/web/health``, checked by the kubelet), then
  ``/web/health`` and ``/web/login`` asked from inside the pod through ``exec``: the
  cluster may be anywhere, the API server is what odooplane reaches;
- logs come through the API; the start-up lines of a new pod are also appended to the
  environment's log file, where the lifecycle reads what explains a failure;
- the environment's record (build, previous build, status, database...) is kept in the
  Deployment's annotation ``odooplane/state`` and its labels, so ``env list`` rebuilds
  its view from the cluster when the local state folder is gone.

The database server must be reachable from the pods: an external ``database.server``
URL, or, for a cluster on this machine, the embedded server opened to the pods at
``kubernetes.host_address`` (the mail catcher listens there too). Otherwise a
neutralized environment's mail goes to the pod's own loopback, where nothing listens.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from odooplane.backends.base import OneOff, ProcessBackend, ProcessStatus, ProgramSpec
from odooplane.backends.kubernetes import manifests as m
from odooplane.backends.kubernetes import objects
from odooplane.backends.kubernetes.api import KubeClient
from odooplane.backends.kubernetes.kubeconfig import load_kubeconfig
from odooplane.backends.kubernetes.workloads import Workloads
from odooplane.containers.images import VENV
from odooplane.environments.health import HEALTH_PATHS, HealthResult
from odooplane.errors import ConfigError, NotFoundError, OdooplaneError

if TYPE_CHECKING:
    from odooplane.environments.builds import Build
    from odooplane.environments.context import EnvContext
    from odooplane.postgres.server import DatabaseServer
    from odooplane.project import Project

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
IMAGE_PYTHON = str(VENV / "bin" / "python")
STOP_TIMEOUT = 180.0
# The state fields kept in the cluster: what `env list` and later commands need.
RECORDED = (
    "kind",
    "slot",
    "slots",
    "database",
    "created_at",
    "status",
    "desired",
    "build",
    "build_info",
    "previous_build",
    "deployed_at",
    "neutralization",
    "last_deployment",
)
HEALTH_SCRIPT = (
    "import json, sys, urllib.error, urllib.request\n"
    "codes = {}\n"
    "for path in sys.argv[2:]:\n"
    "    try:\n"
    "        with urllib.request.urlopen(sys.argv[1] + path, timeout=20) as r:\n"
    "            r.read(65536); codes[path] = r.status\n"
    "    except urllib.error.HTTPError as e:\n"
    "        codes[path] = e.code\n"
    "    except OSError as e:\n"
    "        codes[path] = 'no answer (' + str(e) + ')'\n"
    "print(json.dumps(codes))\n"
)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class KubernetesBackend(ProcessBackend):
    kind: ClassVar[str] = "kubernetes"
    serves_here: ClassVar[bool] = False

    def __init__(self, project: Project, client: KubeClient | None = None) -> None:
        self.project = project
        self._client = client

    # -- the cluster ------------------------------------------------------------------

    @property
    def client(self) -> KubeClient:
        if self._client is None:
            config = self.project.config.kubernetes
            path = Path(config.kubeconfig).expanduser() if config.kubeconfig else None
            if path is not None and not path.is_absolute():
                path = self.project.root / path
            self._client = KubeClient(load_kubeconfig(path, config.context))
        return self._client

    @property
    def namespace(self) -> str:
        return objects.namespace_of(self.project)

    @property
    def work(self) -> Workloads:
        return Workloads(self.client, self.namespace)

    def instance(self, name: str) -> str:
        return m.instance_name(self.project.config.project, split_program(name)[0])

    def deployment_name(self, program: str) -> str:
        env, slot = split_program(program)
        return f"{self.instance(env)}-{slot}" if slot else self.instance(env)

    def server_selector(self, name: str) -> dict[str, str]:
        """The pods of program ``name``: an environment's slot (``env.blue``), or every
        server pod of the environment when ``name`` is the environment itself."""
        env, slot = split_program(name)
        selector = {m.INSTANCE: self.instance(env), m.COMPONENT: "server"}
        if slot:
            selector[m.SLOT_LABEL] = slot
        return selector

    def labels_of(self, name: str) -> dict[str, str]:
        return m.environment_selector(self.project.config.project, split_program(name)[0])

    def _deployment(self, program: str) -> dict[str, Any] | None:
        return self.client.get("Deployment", self.deployment_name(program), self.namespace)

    def _service(self, env: str) -> dict[str, Any] | None:
        return self.client.get("Service", self.instance(env), self.namespace)

    def _slot_deployments(self, env: str) -> list[dict[str, Any]]:
        found = self.work.find("Deployment", {**self.labels_of(env), m.COMPONENT: "server"})
        return [d for d in found if not d["metadata"].get("deletionTimestamp")]

    def serving_slot(self, env: str) -> str | None:
        """The slot the environment's Service sends users to."""
        service = self._service(env)
        slot = ((service or {}).get("spec", {}).get("selector") or {}).get(m.SLOT_LABEL)
        return None if slot in (None, m.MAINTENANCE_SLOT) else str(slot)

    # -- from the lifecycle's view to the cluster's --------------------------------------

    def _ctx(self, name: str) -> EnvContext:
        from odooplane.environments.context import EnvContext

        return EnvContext(self.project, name)

    def _build(self, sha: str | None) -> Build:
        from odooplane.environments.builds import require_build

        if not sha:
            raise ConfigError(
                "The Kubernetes backend was given a program without its build.",
                hint="Deploy the environment: `odooplane env deploy NAME REF`.",
            )
        return require_build(self.project, sha)

    def image_of(self, b: Build, on_line: Callable[[str], None] | None = None) -> str:
        """The build's image as the nodes pull it: built into this machine's engine (a
        cache hit when unchanged), pushed to ``kubernetes.image_registry`` when set."""
        from odooplane.containers import images
        from odooplane.containers.engine import Docker

        docker = Docker()
        config = self.project.config.docker
        built = images.build_image(
            self.project,
            b,
            docker=docker,
            base_image=config.base_image,
            extra_packages=config.extra_packages,
            on_line=on_line,
        )
        reference = objects.image_reference(self.project, b)
        if reference != built.tag:
            docker.run(["tag", built.tag, reference])
            docker.run(["push", reference], timeout=3600)
        return reference

    def _reach_from_pods(self, host: str, what: str, *, ours: bool) -> str:
        """``host`` as pods reach it: a loopback address of a service odooplane runs
        (``ours``) becomes ``host_address``."""
        if host not in LOOPBACK_NAMES:
            return host
        address = self.project.config.kubernetes.host_address
        if not address or not ours:
            raise ConfigError(
                f"The {what} listens on {host}, which pods cannot reach (it is their own "
                "loopback).",
                hint="Set database.server to a postgresql:// URL the cluster reaches, or, "
                "for a cluster on this machine, kubernetes.host_address and pod_network.",
            )
        return address

    def project_server(self) -> DatabaseServer:
        from odooplane.postgres.project_server import server_for

        return server_for(self.project)

    def pod_db_env(self, ctx: EnvContext) -> dict[str, str]:
        """The libpq variables of the environment's pods: its own role, never
        odooplane's login (docs/security.md), its database ready for an init Job."""
        from odooplane.environments.credentials import provision

        return self.pod_server_env(provision(ctx, ctx.server()))

    def pod_server_env(self, server: DatabaseServer) -> dict[str, str]:
        """The libpq variables of ``server`` as pods reach it."""
        env = objects.db_env(server)
        host = env.get("PGHOST", "")
        embedded = self.project.config.database.server == "embedded"
        reached = self._reach_from_pods(host, "database server", ours=embedded)
        if reached != host:
            from odooplane.containers.hostnet import open_cluster_to

            config = self.project.config.kubernetes
            assert config.pod_network is not None  # checked with host_address
            open_cluster_to(self.project, reached, config.pod_network)
            env["PGHOST"] = reached
        return env

    def pod_catcher(self, ctx: EnvContext) -> tuple[str, int] | None:
        """Where a neutralized environment's pods send mail: the catcher when pods reach
        this machine, else their own loopback (nowhere)."""
        if not ctx.config.neutralized:
            return None
        address = self.project.config.kubernetes.host_address
        if not address:
            return objects.NOWHERE_SMTP
        from odooplane.mailcatcher import ensure_catcher, listen_also_on

        _host, port = ensure_catcher(ctx.project.state_dir, ctx.name)
        listen_also_on(ctx.project.state_dir, address)
        return address, port

    def environment_spec(
        self, ctx: EnvContext, b: Build, *, replicas: int, state: Mapping[str, Any]
    ) -> m.EnvironmentSpec:
        spec = objects.environment_spec(
            ctx, b, server=None, replicas=replicas, state=state, pull_request=_pull_request(state)
        )
        conf = objects.container_conf(ctx, b, catcher=self.pod_catcher(ctx))
        return m.EnvironmentSpec(
            **{**spec.__dict__, "odoo_conf": conf, "db_env": self.pod_db_env(ctx)}
        )

    def _record(self, name: str, **changes: Any) -> dict[str, Any]:
        """The environment's record for the cluster: the local state, then ``changes``."""
        from odooplane.environments.state import StateStore

        state = StateStore(self.project.state_dir).load(name)
        local = {k: v for k, v in (state.to_dict() if state else {}).items() if k in RECORDED}
        # The cluster's record first: the local state learns some facts (the previous
        # build) only after this backend has recorded them.
        record = {k: v for k, v in (self.recorded_state(name) or {}).items() if k in RECORDED}
        record.update({k: v for k, v in local.items() if v is not None})
        record.update(changes)
        return record

    def _records_of(self, name: str) -> dict[str, dict[str, Any]]:
        """Records kept with the environment: its preview's, when it is one."""
        from odooplane.previews.records import PreviewStore

        record = PreviewStore(self.project.state_dir).load(name)
        return {"preview": record.to_dict()} if record is not None else {}

    def _annotate(self, env: str, **changes: Any) -> None:
        record = self._record(env, **changes)
        annotations = {m.ANNOTATION_STATE: json.dumps(record, sort_keys=True)}
        with contextlib.suppress(OdooplaneError):
            self.client.patch(
                "Service",
                self.instance(env),
                self.namespace,
                {"metadata": {"annotations": annotations}},
            )

    # -- ProcessBackend ------------------------------------------------------------------

    def ensure_objects(
        self,
        ctx: EnvContext,
        b: Build,
        *,
        slot: str | None = None,
        argv: Sequence[str] | None = None,
    ) -> m.EnvironmentSpec:
        """Apply the environment's objects for build ``b``: its secrets and claim, and
        with ``slot`` its Service (still sending users where it did) and the slot's
        Deployment (keeping its replica count). A one-off command needs no more than the
        secrets and the claim."""
        self.work.ensure_namespace()
        changes: dict[str, Any] = {}
        replicas = 0
        if slot:
            program = f"{ctx.name}.{slot}"
            current = self._deployment(program)
            replicas = int((current or {}).get("spec", {}).get("replicas", 0))
            slots = dict(self._record(ctx.name).get("slots") or {})
            slots[slot] = {**(slots.get(slot) or {}), "build": b.sha}
            changes = {"slots": slots}
        state = self._record(ctx.name, **changes)
        spec = self.environment_spec(ctx, b, replicas=replicas, state=state)
        records = self._records_of(ctx.name)
        pr = (records.get("preview") or {}).get("pr")
        spec = m.EnvironmentSpec(
            **{
                **spec.__dict__,
                "records": records,
                "pull_request": int(pr) if isinstance(pr, int) else spec.pull_request,
            }
        )
        settings = objects.cluster_settings(self.project, ctx.name)
        image = objects.image_layout(self.project, b)
        self.work.apply_all([*m.secrets(spec, settings), m.filestore_claim(spec, settings)])
        if slot:
            serving = (self._service(ctx.name) or {}).get("spec", {}).get("selector", {})
            docs = [
                m.service(spec, settings, serving_slot=serving.get(m.SLOT_LABEL) or slot),
                m.deployment(spec, settings, image, argv=argv, slot=slot),
            ]
            route = m.ingress(spec, settings)
            if route is not None:
                docs.append(route)
            self.work.apply_all(docs)
        return spec

    def define(self, spec: ProgramSpec) -> None:
        from odooplane.containers.images import inner_argv

        env, slot = split_program(spec.name)
        b = self._build(spec.build)
        self.image_of(b)
        ctx = self._ctx(env)
        self.ensure_objects(ctx, b, slot=slot or "blue", argv=inner_argv(spec.argv, b))
        if ctx.kind.value == "preview":
            from odooplane.backends.kubernetes.gc import ensure_gc

            ensure_gc(self)

    def defined(self, name: str) -> bool:
        """A slot is defined when its Deployment exists, or (what a failed creation
        leaves) when the environment has objects but no Deployment at all: removing it
        then removes them. The environment's own name is never a program here."""
        env, slot = split_program(name)
        if not slot:
            return False
        if self._deployment(name) is not None:
            return True
        return not self._slot_deployments(env) and bool(
            self.work.find("Secret", self.labels_of(env))
        )

    def start(self, name: str) -> None:
        if self._deployment(name) is None:
            raise NotFoundError(f"Program '{name}' has no Deployment to start.")
        self.work.scale(self.deployment_name(name), 1)
        env = split_program(name)[0]
        self._annotate(env, desired="running")

    def stop(self, name: str) -> None:
        if self._deployment(name) is None:
            return
        self.work.scale(self.deployment_name(name), 0)
        result = self.work.wait_rollout(
            self.deployment_name(name), self.server_selector(name), timeout=STOP_TIMEOUT
        )
        if not result.ok:
            raise OdooplaneError(
                f"The pods of '{name}' did not stop within {STOP_TIMEOUT:.0f} s: {result.reason}."
            )

    def status(self, name: str) -> ProcessStatus:
        try:
            dep = self._deployment(name)
        except OdooplaneError as exc:
            return ProcessStatus(name, "NOT_RUNNING", None, None, None, exc.message)
        if dep is None:
            return ProcessStatus(name, "ABSENT", None, None, None, "no Deployment")
        spec = dep.get("spec") or {}
        st = dep.get("status") or {}
        wanted = int(spec.get("replicas", 0))
        ready = int(st.get("readyReplicas") or 0)
        pods = self.work.pods(self.server_selector(name))
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        problem = next((self.work.pod_problem(p) for p in live if self.work.pod_problem(p)), None)
        current = dep["metadata"].get("generation", 0) <= st.get("observedGeneration", -1)
        if wanted == 0:
            state = "STOPPING" if pods else "STOPPED"
        elif problem:
            state = "FATAL" if not problem.startswith("CrashLoopBackOff") else "BACKOFF"
        elif current and ready >= wanted and int(st.get("updatedReplicas") or 0) >= wanted:
            state = "RUNNING"
        else:
            state = "STARTING"
        started = None
        if live:
            with contextlib.suppress(ValueError, TypeError):
                started = datetime.fromisoformat(
                    str((live[-1].get("status") or {}).get("startTime")).replace("Z", "+00:00")
                ).timestamp()
        description = (
            f"Deployment {self.namespace}/{self.deployment_name(name)}: {ready}/{wanted} "
            "ready" + (f", {problem}" if problem else "")
        )
        image = (spec.get("template", {}).get("spec", {}).get("containers") or [{}])[0].get("image")
        return ProcessStatus(
            name,
            state,
            None,
            started,
            None,
            description,
            details={
                "namespace": self.namespace,
                "deployment": self.deployment_name(name),
                "pods": [p["metadata"]["name"] for p in live],
                "image": image,
            },
        )

    def remove(self, name: str) -> None:
        """Delete slot ``name``'s Deployment and wait for its pods to end; with the last
        slot go every object of the environment, its filestore claim included (its
        database is dropped next)."""
        env, slot = split_program(name)
        if slot and self._deployment(name) is not None:
            self.client.delete("Deployment", self.deployment_name(name), self.namespace)
        if not slot or not self._slot_deployments(env):
            self.work.remove(self.labels_of(env))
        self.client.wait_for(
            f"the pods of '{name}' to end",
            lambda: not self.work.pods(self.server_selector(name)),
            timeout=STOP_TIMEOUT,
        )

    def programs(self) -> list[str]:
        """The slots defined in the cluster, as ``env.slot``."""
        found = self.work.find(
            "Deployment",
            {**m.environment_selector(self.project.config.project), m.COMPONENT: "server"},
        )
        names = []
        for dep in found:
            labels = dep["metadata"].get("labels") or {}
            env, slot = labels.get(m.ENVIRONMENT_LABEL), labels.get(m.SLOT_LABEL)
            if env:
                names.append(f"{env}.{slot}" if slot else env)
        return sorted(names)

    def shutdown(self) -> None:
        for name in self.programs():
            self.stop(name)

    def log_location(self, name: str) -> Path | None:
        del name
        return None

    def log_stream(self, name: str, *, lines: int, follow: bool) -> Iterator[str] | None:
        env, slot = split_program(name)
        program = name if slot else f"{env}.{self.serving_slot(env) or 'blue'}"
        pods = [
            p
            for p in self.work.pods(self.server_selector(program))
            if not p["metadata"].get("deletionTimestamp")
        ]
        if not pods:
            raise NotFoundError(
                f"Environment '{env}' has no pod (it is stopped).",
                hint=f"Start it: `odooplane env start {env}`.",
            )
        return self.client.logs(
            pods[-1]["metadata"]["name"],
            self.namespace,
            container="odoo",
            follow=follow,
            tail=lines,
        )

    def one_off(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        build: str,
        interactive: bool = False,
    ) -> OneOff:
        """A local process that runs ``argv`` as a Job (see :mod:`.task`)."""
        from odooplane.backends.kubernetes.task import task_name
        from odooplane.containers.images import inner_argv

        b = self._build(build)
        inner = inner_argv(argv, b)
        handle = m.job_name(
            self.project.config.project, name, task_name(inner), uuid.uuid4().hex[:8]
        )
        helper = [
            sys.executable,
            "-m",
            "odooplane.backends.kubernetes.task",
            "--project",
            str(self.project.root),
            "--environment",
            name,
            "--build",
            b.sha,
            "--handle",
            handle,
        ]
        if interactive:
            helper.append("--interactive")
        del env  # the pods read the environment's variables from its secret
        return OneOff(
            argv=[*helper, "--", *inner_argv(argv, b)], env=dict(os.environ), handle=handle
        )

    def discard(self, handle: str | None) -> bool:
        """Delete one-off Job ``handle`` with its pod: its client being killed does not
        end it, and it would go on changing a database recovery puts back."""
        if not handle:
            return False
        with contextlib.suppress(OdooplaneError):
            return self.client.delete("Job", handle, self.namespace, propagation="Foreground")
        return False

    def run_task(
        self,
        name: str,
        sha: str,
        argv: Sequence[str],
        *,
        handle: str,
        terminal: bool = False,
        stdin_text: str | None = None,
        out: Callable[[str], None] = print,
        timeout: float = 24 * 3600.0,
    ) -> int:
        """Run ``argv`` (the image's paths) as Job ``handle``; its exit code."""
        from odooplane.backends.kubernetes.task import task_name

        ctx = self._ctx(name)
        b = self._build(sha)
        self.image_of(b)
        spec = self.ensure_objects(ctx, b)
        settings = objects.cluster_settings(self.project, name)
        image = objects.image_layout(self.project, b)
        task = task_name(list(argv))
        run_id = handle.rsplit("-", 1)[-1]
        if terminal:
            return self._run_on_terminal(spec, settings, image, task, run_id, argv)
        command = list(argv)
        if stdin_text is not None:
            # The exec/attach protocol of older clusters cannot close stdin: the input
            # travels as an argument and is piped in inside the pod.
            command = ["sh", "-c", 'printf "%s" "$0" | exec "$@"', stdin_text, *command]
        job = m.task_job(
            spec,
            settings,
            image,
            task=task,
            argv=command,
            run_id=run_id,
            deadline_seconds=int(timeout),
        )
        result = self.work.run_job(job, timeout=timeout, on_line=out)
        if result.succeeded:
            return 0
        if not result.exit_code:
            # Never 0 for a Job that did not succeed (it did not run, or was stopped
            # after its command ended well): the caller must not take it for done.
            out(f"odooplane: the Job {result.name} did not succeed: {result.reason}")
            return 125
        return result.exit_code

    def _run_on_terminal(
        self,
        spec: m.EnvironmentSpec,
        settings: m.ClusterSettings,
        image: m.ImageLayout,
        task: str,
        run_id: str,
        argv: Sequence[str],
    ) -> int:
        from odooplane.backends.kubernetes.api import exec_terminal

        job = m.task_job(
            spec,
            settings,
            image,
            task=task,
            run_id=run_id,
            argv=["sleep", "86400"],
            deadline_seconds=86400,
        )
        name = job["metadata"]["name"]
        self.client.apply(job)
        try:

            def running() -> str | None:
                for pod in self.work.pods({"job-name": name}):
                    problem = self.work.pod_problem(pod)
                    if problem:
                        raise OdooplaneError(f"The pod of Job {name} does not start: {problem}.")
                    if (pod.get("status") or {}).get("phase") == "Running":
                        return str(pod["metadata"]["name"])
                return None

            pod = self.client.wait_for(f"a pod of Job {name}", running, timeout=300)
            return exec_terminal(self.client, pod, self.namespace, list(argv), container="odoo")
        finally:
            self.client.delete("Job", name, self.namespace, propagation="Background")

    # -- health ---------------------------------------------------------------------------

    def _service_url(self, name: str) -> str:
        return f"http://{self.instance(name)}.{self.namespace}.svc:{m.HTTP_PORT}"

    def check_health(self, name: str, url: str, *, timeout: float = 10.0) -> HealthResult:
        del url
        started = time.monotonic()
        target = self._service_url(name)
        env, slot = split_program(name)
        program = name if slot else f"{env}.{self.serving_slot(env) or 'blue'}"
        pods = [
            p
            for p in self.work.pods(self.server_selector(program))
            if not p["metadata"].get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") == "Running"
        ]
        if not pods:
            return HealthResult(ok=False, url=target, reason="no running pod")
        result = self.client.exec(
            pods[-1]["metadata"]["name"],
            self.namespace,
            [IMAGE_PYTHON, "-c", HEALTH_SCRIPT, f"http://127.0.0.1:{m.HTTP_PORT}", *HEALTH_PATHS],
            container="odoo",
            timeout=max(30.0, timeout * 3),
        )
        try:
            checks = {str(k): v for k, v in json.loads(result.stdout.strip() or "{}").items()}
        except json.JSONDecodeError:
            checks = {}
        ok = result.exit_code == 0 and bool(checks) and all(c == 200 for c in checks.values())
        return HealthResult(
            ok=ok,
            url=target,
            checks=checks,
            seconds=round(time.monotonic() - started, 2),
            reason="" if ok else (result.stderr.strip()[-300:] or "not 200"),
        )

    def wait_healthy(
        self,
        name: str,
        url: str,
        *,
        timeout: float,
        still_running: Callable[[], str | None] | None = None,
    ) -> HealthResult:
        """The rollout of slot ``name`` (readiness on /web/health), then /web/health and
        /web/login from inside its pod. The new pod's output goes to the environment's
        log file."""
        del still_running  # the rollout watches the pods itself
        started = time.monotonic()
        rollout = self.work.wait_rollout(
            self.deployment_name(name), self.server_selector(name), timeout=timeout
        )
        self._mirror_logs(name, rollout.pods, rollout.log_excerpt)
        if not rollout.ok:
            return HealthResult(
                ok=False,
                url=self._service_url(name),
                seconds=round(time.monotonic() - started, 2),
                reason=f"the rollout failed: {rollout.reason}",
            )
        deadline = time.monotonic() + max(30.0, timeout - (time.monotonic() - started))
        while True:
            result = self.check_health(name, url)
            if result.ok or time.monotonic() > deadline:
                result.seconds = round(time.monotonic() - started, 2)
                return result
            time.sleep(1)

    def _mirror_logs(self, name: str, pods: Sequence[str], excerpt: str) -> None:
        """Append the start-up output of ``pods`` (or ``excerpt``) to the log file the
        lifecycle reads to explain a failure (the slot's, ``odoo-<slot>.log``)."""
        env, slot = split_program(name)
        ctx = self._ctx(env)
        path = ctx.dir / f"odoo-{slot}.log" if slot else ctx.log_path
        text = excerpt
        for pod in pods[-1:]:
            text = self.work.safe_tail(pod) or excerpt
        if not text:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(text.rstrip("\n") + "\n")

    # -- the record in the cluster ---------------------------------------------------------

    def recorded_state(self, name: str) -> dict[str, Any] | None:
        env = split_program(name)[0]
        try:
            service = self._service(env)
            if service is None:
                return None
            deployments = self._slot_deployments(env)
        except OdooplaneError:
            return None
        return state_of(service, deployments)

    def recorded_password(self, name: str, role: str) -> str | None:
        try:
            secret = self.client.get(
                "Secret",
                m.secret_names_of(self.project.config.project, name)["db"],
                self.namespace,
            )
        except OdooplaneError:
            return None
        data = (secret or {}).get("data") or {}

        def value(key: str) -> str | None:
            raw = data.get(key)
            if not isinstance(raw, str):
                return None
            try:
                return base64.b64decode(raw).decode()
            except ValueError:
                return None

        if value("PGUSER") != role:
            return None
        return value("PGPASSWORD") or None

    def keep_record(self, name: str, key: str, data: dict[str, Any]) -> None:
        patch = {
            "metadata": {
                "annotations": {m.record_annotation(key): json.dumps(data, sort_keys=True)}
            }
        }
        with contextlib.suppress(OdooplaneError):
            self.client.patch("Service", self.instance(name), self.namespace, patch)

    def kept_records(self, key: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        selector = {**m.environment_selector(self.project.config.project), m.COMPONENT: "server"}
        for service in self.work.find("Service", selector):
            meta = service.get("metadata") or {}
            name = (meta.get("labels") or {}).get(m.ENVIRONMENT_LABEL)
            text = (meta.get("annotations") or {}).get(m.record_annotation(key))
            if name and text:
                with contextlib.suppress(json.JSONDecodeError):
                    record = json.loads(text)
                    if isinstance(record, dict):
                        found[name] = record
        return found

    def recorded_environments(self) -> list[str]:
        selector = {**m.environment_selector(self.project.config.project), m.COMPONENT: "server"}
        found = self.work.find("Service", selector)
        return sorted(
            {
                d["metadata"]["labels"][m.ENVIRONMENT_LABEL]
                for d in found
                if m.ENVIRONMENT_LABEL in d["metadata"].get("labels", {})
            }
        )

    # -- the front door: the environment's Service ------------------------------------------

    def serve(self, env: str, program: str) -> None:
        """Point the environment's Service at slot ``program``'s pods (atomic for new
        connections: the endpoints change, the old pods finish what they serve)."""
        slot = split_program(program)[1] or "blue"
        before = self.recorded_state(env) or {}
        self.client.patch(
            "Service",
            self.instance(env),
            self.namespace,
            {"spec": {"selector": {m.SLOT_LABEL: slot}}},
        )
        changes: dict[str, Any] = {"slot": slot, "status": "running", "desired": "running"}
        serving_now = ((before.get("slots") or {}).get(slot) or {}).get("build")
        if serving_now and before.get("build") and serving_now != before["build"]:
            # Users move to another build: the one they leave is the previous build.
            changes.update(build=serving_now, previous_build=before["build"], deployed_at=_now())
        self._annotate(env, **changes)

    def maintenance(self, env: str, message: str) -> None:
        """While a deploy changes the database, the Service has no pod: the Ingress
        answers 503 (``message`` is for a front door that shows pages)."""
        del message
        with contextlib.suppress(OdooplaneError):
            self.client.patch(
                "Service",
                self.instance(env),
                self.namespace,
                {"spec": {"selector": {m.SLOT_LABEL: m.MAINTENANCE_SLOT}}},
            )

    def reach_mail(self, state_dir: Path, host: str, port: int) -> tuple[str, int]:
        """Pods reach the catcher at ``host_address`` when set; else mail goes to their
        own loopback, where nothing listens."""
        address = self.project.config.kubernetes.host_address
        if not address:
            return objects.NOWHERE_SMTP
        from odooplane.mailcatcher import listen_also_on

        listen_also_on(state_dir, address)
        del host
        return address, port


def split_program(name: str) -> tuple[str, str | None]:
    """``env.slot`` -> (env, slot); an environment's own name -> (env, None)."""
    env, _, slot = name.partition(".")
    return env, slot or None


def state_of(service: dict[str, Any], deployments: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """An environment's record from its Service and its slots' Deployments: the
    annotation, then what the selector, labels and replicas say for sure."""
    meta = service.get("metadata") or {}
    labels = meta.get("labels") or {}
    try:
        record = json.loads((meta.get("annotations") or {}).get(m.ANNOTATION_STATE) or "{}")
    except json.JSONDecodeError:
        record = {}
    if not isinstance(record, dict):
        record = {}
    record["kind"] = labels.get(m.KIND_LABEL) or record.get("kind")
    slots = dict(record.get("slots") or {})
    replicas: dict[str, int] = {}
    for dep in deployments:
        dep_labels = (dep.get("metadata") or {}).get("labels") or {}
        slot = dep_labels.get(m.SLOT_LABEL)
        if slot:
            slots[slot] = {**(slots.get(slot) or {}), "build": dep_labels.get(m.BUILD_LABEL)}
            replicas[slot] = int((dep.get("spec") or {}).get("replicas", 0))
    record["slots"] = slots
    serving = ((service.get("spec") or {}).get("selector") or {}).get(m.SLOT_LABEL)
    if serving and serving != m.MAINTENANCE_SLOT:
        record["slot"] = serving
        record["build"] = (slots.get(serving) or {}).get("build") or record.get("build")
    running = bool(replicas.get(str(record.get("slot")), 0))
    record["desired"] = "running" if running else "stopped"
    if record.get("status") in (None, "running", "stopped", "new", "ready"):
        record["status"] = "running" if running else "stopped"
    if labels.get(m.PULL_REQUEST_LABEL):
        record["pull_request"] = int(labels[m.PULL_REQUEST_LABEL])
    return record


def _pull_request(state: Mapping[str, Any]) -> int | None:
    value = state.get("pull_request")
    return int(value) if isinstance(value, (int, str)) and str(value).isdigit() else None
