"""Runs a generated workflow's jobs on this machine the way a self-hosted GitHub runner
does, for the end-to-end tests.

Faithful to what the generated workflows use (and refusing anything else):

- the trigger: the event name and, for ``pull_request``, the action in ``types``;
- ``${{ }}`` expressions with GitHub's grammar and semantics: contexts (``github``,
  ``env``, ``vars``, ``secrets``, ``inputs``, ``steps``, ``runner``, ``job``), literals,
  ``!``, ``==``/``!=`` (case-insensitive on strings), ``&&``/``||`` (returning an
  operand), ``< <= > >=``, parentheses, ``success()``, ``failure()``, ``cancelled()``,
  ``always()``, ``contains``, ``startsWith``, ``endsWith``, ``format``, ``toJSON``,
  ``fromJSON``; a job's and a step's ``if`` without ``${{ }}`` is an expression too,
  and implies ``success() &&`` unless it calls a status function;
- the environment of a step: the runner's default variables (``GITHUB_*``,
  ``RUNNER_TEMP``, ``CI``), then workflow, job and step ``env`` (later wins), each value
  an evaluated template; ``defaults.run.shell: bash`` runs
  ``bash --noprofile --norc -eo pipefail {file}`` as the runner does, in the workspace;
- ``continue-on-error`` (outcome vs conclusion), ``$GITHUB_OUTPUT`` and ``$GITHUB_ENV``
  files, ``$GITHUB_STEP_SUMMARY`` (kept per job), ``runs-on`` labels matched against the
  runner's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

STATUS_FUNCS = ("success", "failure", "cancelled", "always")


class Unsupported(Exception):
    """The workflow uses something this runner does not implement: the test must say so."""


# -- expressions ---------------------------------------------------------------------------

TOKEN_RE = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|<=|>=|&&|\|\||[!<>()\[\].,*])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    found, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = TOKEN_RE.match(text, pos)
        if not match:
            raise Unsupported(f"cannot read expression at {text[pos:]!r}")
        kind = match.lastgroup or ""
        found.append((kind, match.group(kind)))
        pos = match.end()
    return found


def _loose_eq(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    if type(a) is not type(b) and not (isinstance(a, (int, float)) and isinstance(b, (int, float))):

        def num(x: Any) -> float:
            if x is None:
                return 0.0
            if isinstance(x, bool):
                return float(x)
            if isinstance(x, (int, float)):
                return float(x)
            if isinstance(x, str):
                try:
                    return float(x) if x.strip() else 0.0
                except ValueError:
                    return float("nan")
            return float("nan")

        return num(a) == num(b)
    return bool(a == b)


def truthy(value: Any) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, (int, float)) and value == 0:
        return False
    return not (isinstance(value, str) and value == "")


def to_text(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Expression:
    def __init__(self, text: str, contexts: dict[str, Any], status: Callable[[str], bool]):
        self.tokens = _tokens(text)
        self.pos = 0
        self.contexts = contexts
        self.status = status

    def evaluate(self) -> Any:
        value = self._or()
        if self.pos != len(self.tokens):
            raise Unsupported(f"trailing tokens {self.tokens[self.pos :]}")
        return value

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self, value: str | None = None) -> tuple[str, str]:
        token = self._peek()
        if token is None or (value is not None and token[1] != value):
            raise Unsupported(f"expected {value!r}, found {token}")
        self.pos += 1
        return token

    def _or(self) -> Any:
        left = self._and()
        while self._peek() == ("op", "||"):
            self._take()
            right = self._and()
            left = left if truthy(left) else right
        return left

    def _and(self) -> Any:
        left = self._cmp()
        while self._peek() == ("op", "&&"):
            self._take()
            right = self._cmp()
            left = right if truthy(left) else left
        return left

    def _cmp(self) -> Any:
        left = self._unary()
        token = self._peek()
        if token and token[0] == "op" and token[1] in ("==", "!=", "<", "<=", ">", ">="):
            op = self._take()[1]
            right = self._unary()
            if op == "==":
                return _loose_eq(left, right)
            if op == "!=":
                return not _loose_eq(left, right)
            a, b = float(left or 0), float(right or 0)
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        return left

    def _unary(self) -> Any:
        if self._peek() == ("op", "!"):
            self._take()
            return not truthy(self._unary())
        return self._postfix()

    def _postfix(self) -> Any:
        value = self._primary()
        while True:
            token = self._peek()
            if token == ("op", "."):
                self._take()
                name = self._take()[1]
                value = value.get(name) if isinstance(value, dict) else None
            elif token == ("op", "["):
                self._take()
                key = self._or()
                self._take("]")
                if isinstance(value, dict):
                    value = value.get(key)
                elif isinstance(value, list) and isinstance(key, (int, float)):
                    value = value[int(key)] if 0 <= int(key) < len(value) else None
                else:
                    value = None
            else:
                return value

    def _primary(self) -> Any:
        kind, text = self._take()
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "op" and text == "(":
            value = self._or()
            self._take(")")
            return value
        if kind == "name":
            lowered = text.lower()
            if lowered in ("true", "false"):
                return lowered == "true"
            if lowered == "null":
                return None
            if self._peek() == ("op", "("):
                return self._call(lowered)
            if lowered not in self.contexts:
                raise Unsupported(f"unknown context {text!r}")
            return self.contexts[lowered]
        raise Unsupported(f"unexpected {text!r}")

    def _call(self, name: str) -> Any:
        self._take("(")
        args: list[Any] = []
        while self._peek() != ("op", ")"):
            args.append(self._or())
            if self._peek() == ("op", ","):
                self._take()
        self._take(")")
        if name in STATUS_FUNCS:
            return self.status(name)
        if name == "contains":
            hay, needle = args
            if isinstance(hay, list):
                return any(_loose_eq(x, needle) for x in hay)
            return to_text(needle).lower() in to_text(hay).lower()
        if name == "startswith":
            return to_text(args[0]).lower().startswith(to_text(args[1]).lower())
        if name == "endswith":
            return to_text(args[0]).lower().endswith(to_text(args[1]).lower())
        if name == "format":
            text = to_text(args[0])
            return re.sub(r"\{(\d+)\}", lambda m: to_text(args[int(m.group(1)) + 1]), text)
        if name == "tojson":
            return json.dumps(args[0], indent=2)
        if name == "fromjson":
            return json.loads(to_text(args[0]))
        raise Unsupported(f"function {name}()")


TEMPLATE_RE = re.compile(r"\$\{\{(.*?)\}\}", re.S)


def evaluate(text: str, contexts: dict[str, Any], status: Callable[[str], bool]) -> Any:
    return Expression(text, contexts, status).evaluate()


def render_template(value: Any, contexts: dict[str, Any], status: Callable[[str], bool]) -> str:
    text = to_text(value)
    whole = TEMPLATE_RE.fullmatch(text.strip())
    if whole:
        return to_text(evaluate(whole.group(1), contexts, status))
    return TEMPLATE_RE.sub(lambda m: to_text(evaluate(m.group(1), contexts, status)), text)


def condition(text: Any, contexts: dict[str, Any], status: Callable[[str], bool]) -> bool:
    if text is None:
        return status("success")
    if isinstance(text, bool):
        return text
    source = str(text).strip()
    whole = TEMPLATE_RE.fullmatch(source)
    if whole:
        source = whole.group(1).strip()
    if not any(re.search(rf"\b{f}\s*\(", source) for f in STATUS_FUNCS):
        source = f"success() && ({source})"
    return truthy(evaluate(source, contexts, status))


# -- running -------------------------------------------------------------------------------


@dataclass
class StepResult:
    name: str
    skipped: bool
    outcome: str  # success, failure, skipped
    conclusion: str
    returncode: int | None
    output: str


@dataclass
class JobResult:
    name: str
    skipped: bool
    steps: list[StepResult] = field(default_factory=list)
    summary: str = ""
    conclusion: str = "success"


@dataclass
class LocalRunner:
    """A self-hosted runner with ``labels``, its work folder ``root``."""

    root: Path
    labels: list[str]
    api_url: str
    server_url: str
    repository: str
    token: str
    variables: dict[str, str] = field(default_factory=dict)
    base_env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    run_ids: Any = field(default_factory=lambda: iter(range(1000, 100000)))
    log: list[str] = field(default_factory=list)

    def run(
        self,
        workflow_file: Path,
        event_name: str,
        payload: dict[str, Any],
        *,
        inputs: dict[str, Any] | None = None,
        sha: str | None = None,
    ) -> list[JobResult] | None:
        """Run the workflow for this event; None when its ``on`` does not match."""
        workflow = YAML(typ="safe", pure=True).load(workflow_file.read_text())
        triggers = workflow.get("on") or {}
        if isinstance(triggers, (str, list)):
            raise Unsupported("`on:` as a name or list")
        if event_name not in triggers:
            return None
        config = triggers.get(event_name) or {}
        types = config.get("types") if isinstance(config, dict) else None
        if types and payload.get("action") not in types:
            return None
        if event_name == "push" and isinstance(config, dict) and config.get("branches"):
            branch = str(payload.get("ref", "")).removeprefix("refs/heads/")
            if branch not in config["branches"]:
                return None
        run_id = str(next(self.run_ids))
        work = self.root / f"run-{run_id}"
        workspace = work / "workspace"
        workspace.mkdir(parents=True)
        event_path = work / "event.json"
        event_path.write_text(json.dumps(payload))
        github = {
            "event_name": event_name,
            "event": payload,
            "repository": self.repository,
            "repository_owner": self.repository.split("/")[0],
            "run_id": run_id,
            "run_number": run_id,
            "run_attempt": "1",
            "sha": sha
            or payload.get("after")
            or payload.get("pull_request", {}).get("head", {}).get("sha", ""),
            "ref": payload.get("ref", ""),
            "token": self.token,
            "workspace": str(workspace),
            "server_url": self.server_url,
            "api_url": self.api_url,
            "event_path": str(event_path),
            "workflow": workflow.get("name", ""),
            "actor": "dev",
        }
        defaults = {
            **self.base_env,
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": event_name,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_REPOSITORY": self.repository,
            "GITHUB_REPOSITORY_OWNER": github["repository_owner"],
            "GITHUB_RUN_ID": run_id,
            "GITHUB_RUN_NUMBER": run_id,
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_SHA": str(github["sha"]),
            "GITHUB_REF": str(github["ref"]),
            "GITHUB_API_URL": self.api_url,
            "GITHUB_SERVER_URL": self.server_url,
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_WORKFLOW": str(github["workflow"]),
            "GITHUB_ACTOR": "dev",
            "RUNNER_OS": "Linux",
        }
        # The runner never hands its own token to a step: only what `env` passes.
        defaults.pop("GITHUB_TOKEN", None)
        results = []
        for job_id, job in (workflow.get("jobs") or {}).items():
            results.append(self._job(workflow, job_id, job, github, defaults, inputs or {}, work))
        return results

    def _job(
        self,
        workflow: dict[str, Any],
        job_id: str,
        job: dict[str, Any],
        github: dict[str, Any],
        defaults: dict[str, str],
        inputs: dict[str, Any],
        work: Path,
    ) -> JobResult:
        for key in job:
            if key not in (
                "name",
                "if",
                "runs-on",
                "timeout-minutes",
                "permissions",
                "env",
                "steps",
                "environment",
            ):
                raise Unsupported(f"job key {key!r}")
        contexts: dict[str, Any] = {
            "github": github,
            "vars": self.variables,
            "secrets": {"GITHUB_TOKEN": self.token},
            "inputs": inputs,
            "env": {},
            "steps": {},
            "runner": {"os": "Linux", "temp": ""},
            "job": {"status": "success"},
        }
        state = {"failed": False}

        def status(name: str) -> bool:
            return {
                "success": not state["failed"],
                "failure": state["failed"],
                "cancelled": False,
                "always": True,
            }[name]

        result = JobResult(name=job.get("name", job_id), skipped=False)
        if not condition(job.get("if"), contexts, status):
            result.skipped = True
            result.conclusion = "skipped"
            return result
        labels = job["runs-on"] if isinstance(job["runs-on"], list) else [job["runs-on"]]
        missing = set(labels) - set(self.labels)
        if missing:
            raise Unsupported(f"no runner has the labels {sorted(missing)}")
        shell = ((workflow.get("defaults") or {}).get("run") or {}).get("shell")
        temp = work / f"temp-{job_id}"
        temp.mkdir()
        contexts["runner"]["temp"] = str(temp)
        summary_all: list[str] = []
        env = dict(defaults, RUNNER_TEMP=str(temp))
        for layer in (workflow.get("env") or {}, job.get("env") or {}):
            for key, value in layer.items():
                env[key] = render_template(value, {**contexts, "env": env}, status)
        for index, step in enumerate(job.get("steps") or []):
            for key in step:
                if key not in ("name", "id", "if", "run", "env", "continue-on-error", "shell"):
                    raise Unsupported(f"step key {key!r}")
            name = step.get("name") or step["run"].splitlines()[0]
            step_id = step.get("id") or f"__{index}"
            contexts["env"] = env
            if not condition(step.get("if"), contexts, status):
                result.steps.append(StepResult(name, True, "skipped", "skipped", None, ""))
                contexts["steps"][step_id] = {
                    "outcome": "skipped",
                    "conclusion": "skipped",
                    "outputs": {},
                }
                continue
            step_env = dict(env)
            for key, value in (step.get("env") or {}).items():
                step_env[key] = render_template(value, {**contexts, "env": step_env}, status)
            files = {n: work / f"{job_id}-{index}-{n}" for n in ("output", "env", "summary")}
            for path in files.values():
                path.write_text("")
            step_env.update(
                GITHUB_OUTPUT=str(files["output"]),
                GITHUB_ENV=str(files["env"]),
                GITHUB_STEP_SUMMARY=str(files["summary"]),
            )
            script = work / f"{job_id}-{index}-{uuid.uuid4().hex[:6]}.sh"
            script.write_text(render_template(step["run"], {**contexts, "env": step_env}, status))
            step_shell = step.get("shell") or shell
            if step_shell == "bash":
                argv = ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)]
            elif step_shell is None:
                argv = ["bash", "-e", str(script)]
            else:
                raise Unsupported(f"shell {step_shell!r}")
            done = subprocess.run(
                argv,
                cwd=github["workspace"],
                env=step_env,
                capture_output=True,
                text=True,
                timeout=float(job.get("timeout-minutes", 360)) * 60,
            )
            output = done.stdout + done.stderr
            self.log.append(f"--- {job_id} / {name} (exit {done.returncode})\n{output}")
            outcome = "success" if done.returncode == 0 else "failure"
            allowed = bool(step.get("continue-on-error"))
            conclusion = "success" if allowed else outcome
            if conclusion == "failure":
                state["failed"] = True
            contexts["steps"][step_id] = {
                "outcome": outcome,
                "conclusion": conclusion,
                "outputs": _key_values(files["output"]),
            }
            env.update(_key_values(files["env"]))
            summary_all.append(files["summary"].read_text())
            result.steps.append(
                StepResult(name, False, outcome, conclusion, done.returncode, output)
            )
        result.summary = "".join(summary_all)
        result.conclusion = "failure" if state["failed"] else "success"
        return result


def _head(payload: dict[str, Any]) -> str:
    return str(((payload.get("pull_request") or {}).get("head") or {}).get("sha") or "")


def _key_values(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and "=" not in line.split("<<")[0]:
            key, marker = line.split("<<", 1)
            body = []
            i += 1
            while i < len(lines) and lines[i] != marker:
                body.append(lines[i])
                i += 1
            found[key] = "\n".join(body)
        elif "=" in line:
            key, value = line.split("=", 1)
            found[key] = value
        i += 1
    return found
