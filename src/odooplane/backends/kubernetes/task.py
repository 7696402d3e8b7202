"""``python -m odooplane.backends.kubernetes.task``: one Odoo command of an environment,
run in its cluster, as the lifecycle runs any command here.

The Kubernetes backend hands the lifecycle this command line for a one-off Odoo run
(database init, module update, shell, cron-run). It runs the command as a Job in the
environment's pod setup (image, secrets, filestore claim), prints the Job's output as
it comes and exits with the command's exit code, so the lifecycle's timeouts, logs and
journal work unchanged. Input piped in (a script for ``odoo-bin shell``) is handed to
the command; on a terminal, ``--interactive`` opens it there (through ``exec`` in a pod
of the Job). The Job is named by ``--handle``: a lifecycle that gives up deletes it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from odooplane.errors import OdooplaneError


def task_name(argv: list[str]) -> str:
    """What an Odoo command line does, for the Job's name and labels."""
    if "shell" in argv:
        return "shell"
    if "neutralize" in argv:
        return "neutralize"
    if "--test-enable" in argv:
        return "test"
    if "-u" in argv:
        return "update"
    if "-i" in argv:
        return "init"
    return "run"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m odooplane.backends.kubernetes.task")
    parser.add_argument("--project", required=True, type=Path)
    parser.add_argument("--environment", required=True)
    parser.add_argument("--build", required=True)
    parser.add_argument("--handle", required=True)
    parser.add_argument("--interactive", action="store_true")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command after --")
    from odooplane.backends.kubernetes.backend import KubernetesBackend
    from odooplane.config import load_config
    from odooplane.paths import CONFIG_FILENAME
    from odooplane.project import Project

    try:
        project = Project(root=args.project, config=load_config(args.project / CONFIG_FILENAME))
        backend = KubernetesBackend(project)
        terminal = args.interactive and sys.stdin.isatty()
        stdin_text = None if terminal or sys.stdin.isatty() else sys.stdin.read()
        return backend.run_task(
            args.environment,
            args.build,
            command,
            handle=args.handle,
            terminal=terminal,
            stdin_text=stdin_text or None,
            out=lambda line: print(line, flush=True),
        )
    except OdooplaneError as exc:
        print(f"error: {exc.message}", file=sys.stderr, flush=True)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
