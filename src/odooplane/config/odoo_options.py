"""What an environment's ``odoo_options`` may not say, and what it may say with a warning.

odooplane writes odoo.conf itself: the database (name, filter, server, the environment's
own role and password), the data folder, the addons path and the database manager are
its own, so an option naming one of them is refused rather than silently overridden.
Options that weaken an environment (a default master password, the database list, a
werkzeug debugger, Odoo answering on every interface) are refused or reported as
warnings by ``odooplane config check``; nothing is written to odoo.conf behind the
user's back. docs/security.md lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from odooplane.config.issues import KeyPath, KeyProblem
from odooplane.config.values import EnvironmentKind

if TYPE_CHECKING:
    from odooplane.config.schema import EnvironmentConfig, ProjectConfig

# Options odooplane writes itself, and why.
OWNED = {
    "db_name": "the environment's database is odooplane's (set environments.NAME.database)",
    "dbfilter": "odooplane serves exactly the environment's database",
    "data_dir": "the filestore lives where odooplane copies, snapshots and restores it",
    "addons_path": "the addons path comes from odoo.addons_paths and the build",
    "list_db": "the database manager stays closed (it can drop and restore databases)",
    "db_host": "the database server is database.server",
    "db_port": "the database server is database.server",
    "db_user": "each environment connects with its own role, created by odooplane",
    "db_password": "each environment connects with its own role, created by odooplane",
}
# Listening ports: a number in 1024..65535 (Odoo runs as an unprivileged user, which
# cannot bind below 1024).
PORTS = ("http_port", "gevent_port", "longpolling_port")
# Whole numbers at least 0 (Odoo reads them with int()).
COUNTS = (
    "workers",
    "max_cron_threads",
    "db_maxconn",
    "limit_memory_hard",
    "limit_memory_soft",
    "limit_request",
    "limit_time_cpu",
    "limit_time_real",
    "limit_time_real_cron",
    "smtp_port",
)
# Master passwords nobody should use (Odoo's default is 'admin').
DEFAULT_PASSWORDS = frozenset(
    {"admin", "odoo", "password", "changeme", "change-me", "master", "secret", "123456"}
)
MIN_ADMIN_PASSWORD = 16
ALL_INTERFACES = ("0.0.0.0", "::", "[::]")
SECRET_WORDS = ("password", "passwd", "secret", "token", "api_key")


def _whole(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _problem(env: str, key: str, message: str, fix: str) -> KeyProblem:
    return KeyProblem(("environments", env, "odoo_options", key), message, fix)


def _one(env_name: str, env: EnvironmentConfig, key: str, value: object) -> KeyProblem | None:
    if key in OWNED:
        return _problem(
            env_name,
            key,
            f"odooplane writes '{key}' itself: {OWNED[key]}.",
            "Remove it from odoo_options.",
        )
    if key in PORTS or key in COUNTS:
        number = _whole(value)
        low, high = (1024, 65535) if key in PORTS else (0, 10**9)
        if key == "smtp_port":
            low, high = 1, 65535
        if number is None or not low <= number <= high:
            return _problem(
                env_name,
                key,
                f"'{value}' is not a valid {key}: expected a whole number from {low} to {high}"
                + (" (Odoo runs as an unprivileged user)" if key in PORTS else "")
                + ".",
                f"Write {key} as a number such as "
                + ("8069" if key in PORTS else "25" if key == "smtp_port" else "2")
                + ".",
            )
    if key == "admin_passwd":
        text = str(value)
        if text.lower() in DEFAULT_PASSWORDS or len(text) < MIN_ADMIN_PASSWORD:
            return _problem(
                env_name,
                key,
                "the master password is a default or shorter than "
                f"{MIN_ADMIN_PASSWORD} characters.",
                "Remove it (odooplane generates a random one per environment) or put a long "
                "random one in the env file and write ${ADMIN_PASSWD}.",
            )
    if key == "http_interface" and str(value).strip() == "":
        return _problem(
            env_name,
            key,
            "an empty http_interface makes Odoo answer on every interface without saying so.",
            "Remove it (Odoo then listens on 127.0.0.1, behind the front door) or write "
            "0.0.0.0 if every interface is really meant.",
        )
    if key in ("dev_mode", "dev") and env.kind is not EnvironmentKind.development:
        modes = {part.strip() for part in str(value).split(",")}
        if modes & {"all", "werkzeug"}:
            return _problem(
                env_name,
                key,
                f"'{value}' turns on werkzeug's interactive debugger, which runs any Python "
                f"sent to it, in a {env.kind.value} environment.",
                "Remove it; `odooplane dev` gives developers their own debugging session.",
            )
    return None


def option_problems(config: ProjectConfig) -> list[KeyProblem]:
    """The odoo_options refused, each at its key."""
    problems: list[KeyProblem] = []
    for name, env in config.environments.items():
        for key, value in env.odoo_options.items():
            found = _one(name, env, key, value)
            if found is not None:
                problems.append(found)
    return problems


def option_warnings(config: ProjectConfig, masked: Mapping[KeyPath, str]) -> list[KeyProblem]:
    """Allowed but worth a sentence: Odoo on every interface, a secret written in
    odooplane.yaml (a committed file) instead of the env file."""
    warnings: list[KeyProblem] = []
    for name, env in config.environments.items():
        for key, value in env.odoo_options.items():
            path: KeyPath = ("environments", name, "odoo_options", key)
            if key == "http_interface" and str(value).strip() in ALL_INTERFACES:
                warnings.append(
                    KeyProblem(
                        path,
                        f"Odoo of '{name}' answers on every interface ({value}): requests "
                        "can reach it past the front door (no TLS, no maintenance page).",
                        "Remove it unless another proxy or a firewall guards the port.",
                    )
                )
            secret = any(word in key for word in SECRET_WORDS)
            if secret and isinstance(value, str) and value and path not in masked:
                warnings.append(
                    KeyProblem(
                        path,
                        f"'{key}' is written in odooplane.yaml, which is committed with the "
                        "project.",
                        f"Put it in the env file of '{name}' and write ${{VARIABLE}} here.",
                    )
                )
    return warnings
