"""``backup schedule``: a timer that runs ``backup create`` then ``backup prune`` without
a person, with whatever the machine has: a systemd timer when systemd runs, else a
cron entry (in the invoking user's crontab, marked so it can be found and replaced).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from odooplane.errors import ExternalToolError, RefusedError, UsageError
from odooplane.fsutil import write_atomic
from odooplane.project import Project

SYSTEMD_DIR = Path("/etc/systemd/system")
_AT_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass
class ScheduleResult:
    environment: str
    mechanism: str  # systemd or cron
    at: str
    command: str
    installed: bool
    location: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _unit_name(project: Project, environment: str) -> str:
    return f"odooplane-backup-{project.config.project}-{environment}"


def _marker(project: Project, environment: str) -> str:
    return f"# odooplane-backup {project.root} {environment}"


def backup_command(project: Project, environment: str) -> str:
    base = [sys.executable, "-m", "odooplane", "-C", str(project.root), "backup"]
    log = project.state_dir / "logs" / f"backup-{environment}.log"
    create = shlex.join([*base, "create", environment, "--kind", "scheduled"])
    prune = shlex.join([*base, "prune", environment])
    return f"{create} >> {shlex.quote(str(log))} 2>&1 && {prune} >> {shlex.quote(str(log))} 2>&1"


def has_systemd() -> bool:
    return Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None


def _parse_at(at: str) -> tuple[int, int]:
    match = _AT_RE.match(at.strip())
    if not match:
        raise UsageError(f"--at '{at}' is not a time of day such as 02:30.")
    return int(match.group(1)), int(match.group(2))


def _run(argv: list[str], *, stdin: str | None = None) -> str:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ExternalToolError(
            f"`{' '.join(argv)}` failed (exit {done.returncode}): {done.stderr.strip()}"
        )
    return done.stdout


def _current_crontab() -> str:
    done = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
    # "no crontab for root" is exit 1 with nothing installed yet.
    return done.stdout if done.returncode == 0 else ""


def _without_entry(text: str, marker: str) -> list[str]:
    lines = text.splitlines()
    kept: list[str] = []
    skip_next = False
    for line in lines:
        if skip_next:
            skip_next = False
            continue
        if line.strip() == marker:
            skip_next = True
            continue
        kept.append(line)
    return kept


def schedule_backups(
    project: Project, environment: str, *, at: str = "02:30", remove: bool = False
) -> ScheduleResult:
    """Install (or with ``remove`` take away) the daily backup of ``environment``."""
    project.environment(environment)
    hour, minute = _parse_at(at)
    command = backup_command(project, environment)
    (project.state_dir / "logs").mkdir(parents=True, exist_ok=True)
    if has_systemd():
        return _systemd(project, environment, hour, minute, command, remove)
    if shutil.which("crontab") is None:
        raise RefusedError(
            "This machine has neither systemd running nor cron: nothing can run the backups.",
            hint="Install cron (Debian: `apt-get install cron`, then start it) and run again.",
        )
    marker = _marker(project, environment)
    lines = _without_entry(_current_crontab(), marker)
    if not remove:
        lines += [marker, f"{minute} {hour} * * * {command}"]
    _run(["crontab", "-"], stdin="\n".join(lines) + "\n" if lines else "")
    return ScheduleResult(
        environment=environment,
        mechanism="cron",
        at=f"{hour:02d}:{minute:02d}",
        command=command,
        installed=not remove,
        location="crontab of the current user",
    )


def _systemd(
    project: Project, environment: str, hour: int, minute: int, command: str, remove: bool
) -> ScheduleResult:
    unit = _unit_name(project, environment)
    service, timer = SYSTEMD_DIR / f"{unit}.service", SYSTEMD_DIR / f"{unit}.timer"
    if remove:
        subprocess.run(
            ["systemctl", "disable", "--now", f"{unit}.timer"], check=False, capture_output=True
        )
        service.unlink(missing_ok=True)
        timer.unlink(missing_ok=True)
    else:
        write_atomic(
            service,
            f"[Unit]\nDescription=odooplane backup of {environment} ({project.root})\n\n"
            f"[Service]\nType=oneshot\nExecStart=/bin/sh -c {shlex.quote(command)}\n",
        )
        write_atomic(
            timer,
            f"[Unit]\nDescription=Daily odooplane backup of {environment}\n\n"
            f"[Timer]\nOnCalendar=*-*-* {hour:02d}:{minute:02d}:00\nPersistent=true\n\n"
            "[Install]\nWantedBy=timers.target\n",
        )
    _run(["systemctl", "daemon-reload"])
    if not remove:
        _run(["systemctl", "enable", "--now", f"{unit}.timer"])
    return ScheduleResult(
        environment=environment,
        mechanism="systemd",
        at=f"{hour:02d}:{minute:02d}",
        command=command,
        installed=not remove,
        location=str(timer),
    )
