"""The lifecycle of environments: what the CLI (and any script) calls.

Every command that changes an environment holds its lock, writes an operation journal
into its state before each phase (so a crash is known and undone by the next command),
and records itself in the evidence store, step by step. Odoo.sh's stage semantics are
the model: production is updated in place and falls back to its last good build when
an update fails; staging is a neutralized copy of production; development databases
are fresh, with demo data when configured so.

The verbs live in their own modules: :mod:`~odooplane.environments.create`,
:mod:`~odooplane.environments.deploy` (with rollback),
:mod:`~odooplane.environments.control` (start, stop, restart, destroy),
:mod:`~odooplane.environments.inspect` (status, list, shell, psql, cron-run, diff),
:mod:`~odooplane.environments.recovery`; what they share is in
:mod:`~odooplane.environments.steps`, :mod:`~odooplane.environments.launch`,
:mod:`~odooplane.environments.odoo_run` and :mod:`~odooplane.environments.neutralize_step`.
Processes run through :mod:`odooplane.backends`, never a backend named directly.
"""

from __future__ import annotations

from odooplane.environments.control import (
    DestroyResult,
    StartResult,
    StopResult,
    destroy,
    restart,
    start,
    stop,
)
from odooplane.environments.create import create
from odooplane.environments.deploy import deploy
from odooplane.environments.inspect import (
    Command,
    CronRun,
    EnvironmentRow,
    EnvironmentStatus,
    cron_run,
    environment_diff,
    for_branch,
    list_environments,
    log_file,
    log_stream,
    psql_command,
    shell_command,
    status,
)
from odooplane.environments.odoo_run import UPDATE_TIMEOUT
from odooplane.environments.recovery import Recovery, recover
from odooplane.environments.steps import (
    DEFAULT_HEALTH_TIMEOUT,
    DeploymentFailed,
    Outcome,
    StepTiming,
    explain,
    require_database,
)
from odooplane.progress import Progress

__all__ = [
    "DEFAULT_HEALTH_TIMEOUT",
    "UPDATE_TIMEOUT",
    "Command",
    "CronRun",
    "DeploymentFailed",
    "DestroyResult",
    "EnvironmentRow",
    "EnvironmentStatus",
    "Outcome",
    "Progress",
    "Recovery",
    "StartResult",
    "StepTiming",
    "StopResult",
    "create",
    "cron_run",
    "deploy",
    "destroy",
    "environment_diff",
    "explain",
    "for_branch",
    "list_environments",
    "log_file",
    "log_stream",
    "psql_command",
    "recover",
    "require_database",
    "restart",
    "shell_command",
    "start",
    "status",
    "stop",
]
