"""Names, patterns and small value types the odooplane.yaml schema is built from.

Below :mod:`~odooplane.config.schema` and :mod:`~odooplane.config.checks`, so the
schema can run the checks without either importing the other back.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta, timezone, tzinfo
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
)

from odooplane.globs import bracket_problem

# Names that end up as PostgreSQL database names, folder names and DNS labels.
SAFE_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
SAFE_DB_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$")
SERIES_RE = re.compile(r"^(1[6-9]|[2-9][0-9])\.0$")
DNS_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
MODULE_NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")
OPTION_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
ENV_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Kubernetes quantities: 250m, 0.5, 512Mi, 10Gi...
QUANTITY_RE = re.compile(r"^([0-9]+(\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
URL_LIKE_RE = re.compile(r"^([a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)

# The branch a staging environment follows when it lists none (Odoo.sh's default).
STAGING_DEFAULT_BRANCH = "main"
# PostgreSQL truncates identifiers longer than this, silently: two long names collide.
MAX_IDENTIFIER = 63
LOADER_CONTEXT = "odooplane-loader"
# Where an environment's Odoo can run (odooplane.backends); the planned ones are refused
# with a sentence saying so.
BACKENDS = ("local", "docker", "kubernetes")
PLANNED_BACKENDS: tuple[str, ...] = ()


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnvironmentKind(str, Enum):
    production = "production"
    staging = "staging"
    development = "development"
    preview = "preview"


# ---------------------------------------------------------------------------
# Small value checks shared by the schema
# ---------------------------------------------------------------------------


def _not_bool(value: object) -> object:
    # pydantic reads `true` as 1 for an int; for a worker count that is a typo, not intent.
    if isinstance(value, bool):
        raise ValueError(f"expected a whole number, got {str(value).lower()}")
    return value


WholeNumber = Annotated[int, BeforeValidator(_not_bool)]


def number_as_text(value: object) -> object:
    # YAML reads `ref: 17.0` as a float, but it names the branch '17.0'.
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("expected a non-empty text value")
    return value


NonEmptyText = Annotated[str, AfterValidator(_non_empty)]


def _check_env_name(value: str) -> str:
    if not SAFE_NAME_RE.match(value):
        raise ValueError(
            f"environment name '{value}' is not a safe identifier: use lowercase letters, "
            "digits, '_' and '-', starting with a letter, at most 63 characters "
            "(it becomes part of database, folder and host names)"
        )
    return value


EnvName = Annotated[str, AfterValidator(_check_env_name)]


def _check_branch_pattern(value: str) -> str:
    if not value:
        raise ValueError("a branch pattern cannot be empty; use '*' for every branch")
    if re.search(r"[\s\x00-\x1f\x7f~^:\\]", value) or ".." in value:
        raise ValueError(
            f"'{value}' cannot be part of a git branch name (spaces, control characters, "
            "'~', '^', ':', '\\' and '..' are not allowed)"
        )
    if value.startswith(("/", "-")) or value.endswith("/"):
        raise ValueError(f"'{value}' cannot start with '/' or '-' or end with '/'")
    problem = bracket_problem(value)
    if problem is not None:
        raise ValueError(
            f"'{value}' is not a usable branch pattern: {problem}; a set is written like "
            "[0-9] or [!a-z]"
        )
    return value


BranchPattern = Annotated[str, AfterValidator(_check_branch_pattern)]


def _check_module_name(value: str) -> str:
    if not MODULE_NAME_RE.match(value):
        raise ValueError(
            f"'{value}' is not an Odoo module name (the addon folder name: letters, digits and '_')"
        )
    return value


ModuleName = Annotated[str, AfterValidator(_check_module_name)]


def check_option_name(value: str) -> str:
    if not OPTION_NAME_RE.match(value):
        raise ValueError(
            f"'{value}' is not an odoo.conf option name (lowercase letters, digits and '_', "
            "e.g. limit_time_cpu)"
        )
    return value


def _scalar_only(value: object) -> object:
    if value is None or isinstance(value, (list, dict, tuple)):
        raise ValueError("expected a single value: text, a number or true/false")
    return value


OptionValue = Annotated[str | int | float | bool, BeforeValidator(_scalar_only)]


def check_env_var_name(value: str) -> str:
    if not ENV_VAR_RE.match(value):
        raise ValueError(f"'{value}' is not an environment variable name (e.g. STRIPE_KEY)")
    return value


def check_debian_package(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", value):
        raise ValueError(f"'{value}' is not a Debian package name (e.g. wkhtmltopdf)")
    return value


_OFFSET_RE = re.compile(r"^(?P<sign>[+-])(?P<hh>\d{2}):?(?P<mm>\d{2})$")


def parse_timezone(value: str) -> tzinfo | None:
    """``+0800``, ``-05:30``, ``Z`` or ``UTC`` as a fixed offset; None for anything else
    (a zone name included: artifact folders are stamped with one fixed offset, never
    shifted by daylight saving)."""
    text = value.strip()
    if text.upper() in ("Z", "UTC", "+0000", "-0000"):
        return timezone.utc
    match = _OFFSET_RE.match(text)
    if not match or int(match["hh"]) > 14 or int(match["mm"]) > 59:
        return None
    delta = timedelta(hours=int(match["hh"]), minutes=int(match["mm"]))
    return timezone(-delta if match["sign"] == "-" else delta)


def check_timezone(value: str) -> str:
    if parse_timezone(value) is None:
        raise ValueError(
            f"'{value}' is not a UTC offset; write it like +0800, -05:30 or UTC (a fixed "
            "offset, not a zone name)"
        )
    return value


def postgres_url_problem(value: str) -> str | None:
    """What is wrong with a postgresql:// URL (None when nothing is): read the way the
    standard library splits URLs, so a bracket left open or a port out of range is found
    by `config check` rather than by the first connection."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        return f"'{_hide_url_password(value)}' is not a valid URL ({exc})"
    if port == 0:
        return f"'{_hide_url_password(value)}' has port 0; PostgreSQL listens on 1 to 65535"
    query_host = "host=" in (parts.query or "")
    if not parts.hostname and not query_host:
        return f"'{_hide_url_password(value)}' names no host"
    return None


def _hide_url_password(value: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1****@", value)


def check_listen_address(value: str) -> str:
    """An IP address (or '' for every interface) a listener can bind."""
    import ipaddress

    if value == "":
        return value
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        raise ValueError(
            f"'{value}' is not an IP address to listen on; write one such as 127.0.0.1 or "
            "::1, or '' for every interface"
        ) from None
    return value


def check_xml_id(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_]+\.[A-Za-z0-9_.-]+", value):
        raise ValueError(
            f"'{value}' is not an XML id; write it as module.name, e.g. base.autovacuum_job"
        )
    return value


def _check_domain(value: str) -> str:
    if not valid_host(value.lower()):
        raise ValueError(f"'{value}' is not a valid DNS name such as example.com")
    return value


DomainName = Annotated[str, AfterValidator(_check_domain)]


def env_file_escapes(value: str) -> bool:
    """Whether a relative ``env_file`` climbs out of the project folder.

    Absolute paths are a deliberate choice (``/etc/odooplane/production.env`` keeps
    production secrets off the checkout) and are allowed; a relative path that climbs
    with ``..`` is almost always a copy-paste from another layout. The check is lexical:
    symlinks inside the project are the operator's business.
    """
    expanded = os.path.expanduser(value)
    if os.path.isabs(expanded):
        return False
    normal = os.path.normpath(expanded)
    return normal == ".." or normal.startswith(".." + os.sep)


def valid_host(host: str) -> bool:
    if re.match(r"^\d{1,3}(\.\d{1,3}){3}$", host):
        return all(int(part) <= 255 for part in host.split("."))
    if len(host) > 253:
        return False
    labels = host.rstrip(".").split(".")
    return all(DNS_LABEL_RE.match(label) for label in labels)


class CopyPolicy(Strict):
    copy_: str = Field(alias="copy", description="name of the environment to copy")


def _data_policy_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "name-policy"
    if isinstance(value, (dict, CopyPolicy)):
        return "copy-policy"
    return None


# A discriminated union: pydantic then reports the errors of the one shape the user
# meant instead of one error per alternative.
DataPolicy = Annotated[
    Annotated[Literal["fresh", "demo"], Tag("name-policy")]
    | Annotated[CopyPolicy, Tag("copy-policy")],
    Discriminator(
        _data_policy_kind,
        custom_error_type="data_policy",
        custom_error_message="expected fresh, demo or a mapping {copy: ENVIRONMENT}",
    ),
]


_QUANTITY_FACTORS = {
    "m": 1e-3,
    "": 1,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def quantity_value(text: str) -> float:
    """A Kubernetes quantity as a number (``500m`` -> 0.5, ``1Gi`` -> 1073741824)."""
    match = QUANTITY_RE.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a quantity")
    return float(match.group(1)) * _QUANTITY_FACTORS[match.group(3) or ""]


def _check_quantity(value: object) -> object:
    # YAML reads `cpu: 1` and `cpu: 0.5` as numbers; Kubernetes writes them as text.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = f"{value:g}"
    if not isinstance(value, str) or not QUANTITY_RE.match(value):
        raise ValueError(
            f"'{value}' is not a Kubernetes quantity: write cpu like 500m or 2, memory and "
            "sizes like 512Mi or 10Gi"
        )
    return value


Quantity = Annotated[str, BeforeValidator(_check_quantity)]
