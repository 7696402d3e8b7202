"""``env diff``: how two environments' effective configuration differs.

Compared, section by section: the deployed build, the rendered ``odoo.conf`` options,
the env-file keys (values never shown: only whether they differ), installed modules and
their versions, active scheduled actions, active outgoing mail servers and system
parameters. Secret-looking values (passwords, tokens, keys, secrets) are masked in every
section; the diff still says when they differ. odooplane's own bookkeeping parameters
(``odooplane.*``) are left out of the parameters: the build section says the same.
"""

from __future__ import annotations

import configparser
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg

MASK = "********"
_SECRET_RE = re.compile(r"(passw|secret|token|api_?key|private|credential|_key$|^key$)", re.I)
SECTIONS = (
    ("build", "Deployed build"),
    ("odoo_conf", "odoo.conf options"),
    ("env_file", "Env-file keys (values masked)"),
    ("modules", "Installed modules and versions"),
    ("crons", "Active scheduled actions"),
    ("mail_servers", "Active outgoing mail servers"),
    ("parameters", "System parameters"),
)
# Options that necessarily differ between two environments and say nothing useful.
_CONF_IDENTITY = {"db_name", "dbfilter", "http_port", "gevent_port", "longpolling_port"}


def is_secret(key: str) -> bool:
    return bool(_SECRET_RE.search(key))


@dataclass
class Facts:
    """What one environment is, as compared by :func:`diff_facts`."""

    name: str
    sections: dict[str, dict[str, str]] = field(default_factory=dict)
    secret_keys: dict[str, set[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class DiffRow:
    key: str
    a: str | None
    b: str | None

    @property
    def change(self) -> str:
        if self.a is None:
            return "only-b"
        if self.b is None:
            return "only-a"
        return "differs"


@dataclass
class EnvDiff:
    a: str
    b: str
    sections: dict[str, list[DiffRow]]
    same: dict[str, int]

    @property
    def identical(self) -> bool:
        return not any(self.sections.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "identical": self.identical,
            "sections": {
                name: [{**asdict(row), "change": row.change} for row in rows]
                for name, rows in self.sections.items()
            },
            "same": self.same,
        }


def read_conf_options(path: Path) -> dict[str, str]:
    parser = configparser.RawConfigParser()
    if not path.is_file():
        return {}
    parser.read(path)
    if not parser.has_section("options"):
        return {}
    return dict(parser.items("options"))


def _text(value: Any) -> str:
    if isinstance(value, dict):
        # Translatable names are jsonb {lang: text} from Odoo 16 on.
        return str(value.get("en_US") or next(iter(value.values()), ""))
    if isinstance(value, str) and value.startswith("{"):
        try:
            data = json.loads(value)
        except ValueError:
            return value
        if isinstance(data, dict):
            return _text(data)
    return "" if value is None else str(value)


def database_facts(conn: psycopg.Connection[Any]) -> dict[str, dict[str, str]]:
    """Modules, active crons, active mail servers and system parameters of a database."""
    facts: dict[str, dict[str, str]] = {}
    with conn.cursor() as cur:
        cur.execute(
            "SELECT name, coalesce(latest_version, '') FROM ir_module_module "
            "WHERE state = 'installed' ORDER BY name"
        )
        facts["modules"] = {name: version for name, version in cur.fetchall()}
        cur.execute(
            "SELECT c.id, c.cron_name, c.interval_number, c.interval_type, "
            "       d.module || '.' || d.name "
            "FROM ir_cron c LEFT JOIN ir_model_data d "
            "  ON d.model = 'ir.cron' AND d.res_id = c.id "
            "WHERE c.active ORDER BY c.id"
        )
        crons: dict[str, str] = {}
        for cron_id, name, number, unit, xmlid in cur.fetchall():
            key = xmlid or f"ir.cron({cron_id})"
            crons[key] = f"{_text(name)}: every {number} {unit}"
        facts["crons"] = crons
        cur.execute(
            "SELECT name, smtp_host, smtp_port, smtp_encryption, smtp_user "
            "FROM ir_mail_server WHERE active ORDER BY sequence, id"
        )
        servers: dict[str, str] = {}
        for name, host, port, encryption, user in cur.fetchall():
            servers[_text(name)] = f"{host}:{port} ({encryption or 'none'}) user={user or '-'}"
        facts["mail_servers"] = servers
        cur.execute(
            "SELECT key, value FROM ir_config_parameter WHERE key NOT LIKE %s ORDER BY key",
            ("odooplane.%",),
        )
        facts["parameters"] = {key: _text(value) for key, value in cur.fetchall()}
    return facts


def environment_facts(
    name: str,
    *,
    build: Mapping[str, str],
    conf: Mapping[str, str],
    env_file: Mapping[str, str],
    database: Mapping[str, dict[str, str]],
) -> Facts:
    facts = Facts(name=name)
    facts.sections["build"] = dict(build)
    facts.sections["odoo_conf"] = {k: v for k, v in conf.items() if k not in _CONF_IDENTITY}
    # Env-file values are always masked: only "differs" ever reaches the output.
    facts.sections["env_file"] = dict(env_file)
    facts.secret_keys["env_file"] = set(env_file)
    for section in ("modules", "crons", "mail_servers", "parameters"):
        facts.sections[section] = dict(database.get(section, {}))
    for section in ("odoo_conf", "parameters"):
        facts.secret_keys[section] = {k for k in facts.sections[section] if is_secret(k)}
    return facts


def _masked(value: str | None) -> str | None:
    # "No value" is no secret: show it, so a diff says which side has one set.
    if value is None or value.strip() in ("", "False", "None"):
        return value
    return MASK


def diff_facts(a: Facts, b: Facts) -> EnvDiff:
    sections: dict[str, list[DiffRow]] = {}
    same: dict[str, int] = {}
    for section, _title in SECTIONS:
        left = a.sections.get(section, {})
        right = b.sections.get(section, {})
        secret = a.secret_keys.get(section, set()) | b.secret_keys.get(section, set())
        rows: list[DiffRow] = []
        equal = 0
        for key in sorted(set(left) | set(right)):
            va, vb = left.get(key), right.get(key)
            if va == vb:
                equal += 1
                continue
            if key in secret:
                va = _masked(va)
                vb = _masked(vb)
            rows.append(DiffRow(key=key, a=va, b=vb))
        sections[section] = rows
        same[section] = equal
    return EnvDiff(a=a.name, b=b.name, sections=sections, same=same)
