"""The odooplane.yaml schema and its loader.

The schema is strict: unknown keys are errors, and every error the loader reports
names ``file:line:column``, the key path, what was expected and how to fix it. The
loader collects every problem it can find in one pass, so a user fixes a file in one
round instead of one error per run.

Loading happens in stages, each one feeding positions to the next:

1. read the file and parse it with ruamel.yaml's round-trip loader, which keeps the
   line and column of every key and value;
2. turn that tree into plain Python data plus a table of positions by key path;
3. interpolate ``${VAR}`` in string values (environment env file, then process env);
4. validate with pydantic and translate its errors to positions;
5. run the checks that span several keys (one production, branch overlap, copies).

Nothing in here may escape as anything but :class:`ConfigError`: the last resort
around the whole load turns a bug into a ConfigError that says so.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from odooplane.envfile import EnvFileError, read_env_file
from odooplane.errors import ConfigError, NotFoundError
from odooplane.globs import (
    PRECEDENCE_CATCH_ALL,
    PRECEDENCE_LITERAL,
    glob_overlap,
    pattern_precedence,
)

# Names that end up as PostgreSQL database names, folder names and DNS labels.
SAFE_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
SAFE_DB_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$")
SERIES_RE = re.compile(r"^(1[6-9]|[2-9][0-9])\.0$")
DNS_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
MODULE_NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")
OPTION_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
ENV_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_URL_LIKE_RE = re.compile(r"^([a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)

# The branch a staging environment follows when it lists none (Odoo.sh's default).
STAGING_DEFAULT_BRANCH = "main"
# PostgreSQL truncates identifiers longer than this, silently: two long names collide.
MAX_IDENTIFIER = 63
MAX_CONFIG_BYTES = 1_000_000
# Aliases can make a tiny document expand into millions of values.
MAX_VALUES = 50_000
_LOADER_CONTEXT = "odooplane-loader"


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


def _number_as_text(value: object) -> object:
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
    return value


BranchPattern = Annotated[str, AfterValidator(_check_branch_pattern)]


def _check_module_name(value: str) -> str:
    if not MODULE_NAME_RE.match(value):
        raise ValueError(
            f"'{value}' is not an Odoo module name (the addon folder name: letters, digits and '_')"
        )
    return value


ModuleName = Annotated[str, AfterValidator(_check_module_name)]


def _check_option_name(value: str) -> str:
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


def _check_env_var_name(value: str) -> str:
    if not ENV_VAR_RE.match(value):
        raise ValueError(f"'{value}' is not an environment variable name (e.g. STRIPE_KEY)")
    return value


def _check_domain(value: str) -> str:
    if not _valid_host(value.lower()):
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


# ---------------------------------------------------------------------------
# Schema
# ---------------------------------------------------------------------------


class GitSource(Strict):
    git: NonEmptyText = Field(description="git URL of an Odoo source repository")
    ref: Annotated[NonEmptyText, BeforeValidator(_number_as_text)] = Field(
        description="branch, tag or commit to check out"
    )


def _source_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "path-source"
    if isinstance(value, (dict, GitSource)):
        return "git-source"
    return None


def _check_source_path(value: str) -> str:
    if not value.strip():
        raise ValueError("expected the path of an Odoo source tree")
    if _URL_LIKE_RE.match(value):
        raise ValueError(
            f"'{value}' is a git URL, which needs a ref: write "
            f"source: {{git: {value}, ref: '17.0'}}"
        )
    return value


OdooSource = Annotated[
    Annotated[str, AfterValidator(_check_source_path), Tag("path-source")]
    | Annotated[GitSource, Tag("git-source")],
    Discriminator(
        _source_kind,
        custom_error_type="odoo_source",
        custom_error_message="expected a local path or a mapping {git: URL, ref: REF}",
    ),
]


class OdooConfig(Strict):
    series: str = Field(description="Odoo series, e.g. '17.0'")
    source: OdooSource = Field(
        description="local path to an Odoo source tree, or {git: URL, ref: REF}"
    )
    addons_paths: list[NonEmptyText] = Field(default_factory=list)
    requirements: list[NonEmptyText] = Field(default_factory=list)
    python: str | None = Field(default=None, description="interpreter for the runtime")

    @field_validator("series", mode="before")
    @classmethod
    def _series(cls, value: object) -> object:
        # YAML reads 17.0 as a float; people write it that way.
        if isinstance(value, float):
            value = f"{value:.1f}"
        if isinstance(value, int) and not isinstance(value, bool):
            value = f"{value}.0"
        if isinstance(value, str) and not SERIES_RE.match(value):
            raise ValueError(f"'{value}' is not an Odoo series; write it like '17.0'")
        return value


class DatabaseConfig(Strict):
    server: str = Field(
        default="embedded",
        description="'embedded' for odooplane's own cluster, or a postgresql:// URL",
    )
    postgres_bin: str | None = Field(default=None, description="folder holding initdb/pg_ctl")

    @field_validator("server")
    @classmethod
    def _server(cls, value: str) -> str:
        if value != "embedded" and not re.match(r"^postgres(ql)?://", value):
            raise ValueError(
                f"'{value}' is neither 'embedded' nor a URL starting with postgresql://"
            )
        return value


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


class EnvironmentConfig(Strict):
    kind: EnvironmentKind
    branches: list[BranchPattern] = Field(default_factory=list, description="glob patterns")
    url: str | None = None
    env_file: str | None = None
    data: DataPolicy = "fresh"
    database: str | None = None
    neutralize: bool | None = Field(
        default=None, description="default: on for staging and preview, off otherwise"
    )
    workers: Annotated[WholeNumber, Field(ge=0, le=64)] = 0
    modules: list[ModuleName] = Field(default_factory=list, description="modules to install")
    odoo_options: dict[Annotated[str, AfterValidator(_check_option_name)], OptionValue] = Field(
        default_factory=dict
    )

    @field_validator("database")
    @classmethod
    def _database(cls, value: str | None) -> str | None:
        if value is not None and not SAFE_DB_RE.match(value):
            raise ValueError(
                f"'{value}' is not a safe database name: use letters, digits, '_' and '-', "
                "start with a letter or '_', at most 63 characters"
            )
        return value

    @field_validator("env_file")
    @classmethod
    def _env_file(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.strip():
            raise ValueError("expected the path of an env file")
        if env_file_escapes(value):
            raise ValueError(
                f"'{value}' climbs out of the project folder; use a path inside the project "
                "or an absolute path such as /etc/odooplane/production.env"
            )
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        match = re.match(r"^(https?)://([^/:?#]+)(:\d{1,5})?(/[^\s]*)?$", value)
        if not match:
            raise ValueError(f"'{value}' is not an http(s) URL such as https://erp.example.com")
        host = match.group(2).lower()
        if host != "localhost" and not _valid_host(host):
            raise ValueError(f"'{host}' is not a valid DNS host name")
        return value

    @property
    def neutralized(self) -> bool:
        if self.neutralize is not None:
            return self.neutralize
        return self.kind in (EnvironmentKind.staging, EnvironmentKind.preview)


def _valid_host(host: str) -> bool:
    if re.match(r"^\d{1,3}(\.\d{1,3}){3}$", host):
        return all(int(part) <= 255 for part in host.split("."))
    if len(host) > 253:
        return False
    labels = host.rstrip(".").split(".")
    return all(DNS_LABEL_RE.match(label) for label in labels)


class EvidenceConfig(Strict):
    url: str = Field(default="sqlite", description="'sqlite' or a postgresql:// URL")
    artifacts: str = Field(default="web/docs/evidence")
    timezone: str = Field(default="+0800")
    compress_after_days: Annotated[int, Field(ge=0, le=90)] = Field(
        default=7, description="gzip log artifacts older than this many days (0: never)"
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        # The same forms odooplane.evidence.engine.resolve_location accepts.
        if value != "sqlite" and not re.match(r"^(sqlite:///|postgres(ql)?(\+psycopg)?://)", value):
            raise ValueError(f"'{value}' is neither 'sqlite' nor a URL starting with postgresql://")
        return value


class GatesConfig(Strict):
    """Validated now, acted upon by the gates issue (not yet active)."""

    required: list[str] = Field(default_factory=list)
    timeout_minutes: Annotated[WholeNumber, Field(ge=1, le=600)] = 30


class PreviewsConfig(Strict):
    """Validated now, acted upon by the previews issue (not yet active)."""

    enabled: bool = False
    data: DataPolicy = "demo"
    domain: DomainName | None = None
    ttl_hours: Annotated[WholeNumber, Field(ge=1)] = 72


class ProjectRule(Strict):
    """One project-specific neutralization rule: SQL statements or parameter overrides."""

    name: NonEmptyText
    sql: list[str] = Field(default_factory=list)
    params: dict[str, str] = Field(default_factory=dict)


class NeutralizationConfig(Strict):
    cron_allowlist: list[str] = Field(
        default_factory=lambda: ["base.autovacuum_job"],
        description="XML ids of crons left active in neutralized databases",
    )
    param_allowlist: list[str] = Field(
        default_factory=list, description="secret-looking system parameters to keep"
    )
    reset_passwords: bool = False
    safe_email_domain: DomainName | None = None
    rules: list[ProjectRule] = Field(default_factory=list)


class SecretsConfig(Strict):
    production_only: list[Annotated[str, AfterValidator(_check_env_var_name)]] = Field(
        default_factory=list,
        description="env-file keys that only production may see",
    )


class ProjectConfig(Strict):
    project: str
    odoo: OdooConfig
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    environments: dict[EnvName, EnvironmentConfig] = Field(default_factory=dict)
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig)
    gates: GatesConfig = Field(default_factory=GatesConfig)
    previews: PreviewsConfig = Field(default_factory=PreviewsConfig)
    neutralization: NeutralizationConfig = Field(default_factory=NeutralizationConfig)
    secrets: SecretsConfig = Field(default_factory=SecretsConfig)

    @field_validator("project")
    @classmethod
    def _project(cls, value: str) -> str:
        if not SAFE_NAME_RE.match(value):
            raise ValueError(
                f"'{value}' is not a safe project name: lowercase letters, digits, '_' "
                "and '-', starting with a letter"
            )
        return value

    @model_validator(mode="after")
    def _environments(self, info: ValidationInfo) -> ProjectConfig:
        # The loader runs these checks itself to give each one its file position.
        if isinstance(info.context, dict) and info.context.get(_LOADER_CONTEXT):
            return self
        problems = cross_check(self)
        if problems:
            raise ValueError("; ".join(f"{format_key_path(p.path)}: {p.message}" for p in problems))
        return self

    def database_name(self, env: str) -> str:
        configured = self.environments[env].database
        return configured or f"{self.project}_{env}".replace("-", "_")


# ---------------------------------------------------------------------------
# Branch patterns (matching and precedence live in odooplane.globs)
# ---------------------------------------------------------------------------


def branch_patterns(config: ProjectConfig, env_name: str) -> list[str]:
    """The branch patterns of an environment; a staging one without any follows ``main``."""
    try:
        env = config.environments[env_name]
    except KeyError:
        known = ", ".join(config.environments) or "none"
        raise NotFoundError(
            f"No environment named '{env_name}' in the configuration.",
            hint=f"Known environments: {known}.",
        ) from None
    if env.branches:
        return list(env.branches)
    if env.kind is EnvironmentKind.staging:
        return [STAGING_DEFAULT_BRANCH]
    return []


# ---------------------------------------------------------------------------
# Checks that span several keys
# ---------------------------------------------------------------------------

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class KeyProblem:
    path: KeyPath
    message: str
    fix: str = ""
    # Which position to report: the key itself, its value, or the mapping holding it
    # (for a key that is missing).
    at: Literal["key", "value", "parent"] = "value"
    # Set when the problem is in another file (an env file) or at a known position.
    file: str | None = None
    line: int | None = None
    column: int | None = None


def _did_you_mean(word: str, choices: list[str]) -> str | None:
    lowered = {c.lower(): c for c in choices}
    if word.lower() in lowered:
        return lowered[word.lower()]
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None


def cross_check(config: ProjectConfig) -> list[KeyProblem]:
    """Problems between keys: the loader reports them with positions."""
    problems: list[KeyProblem] = []
    envs = config.environments
    names = list(envs)

    productions = [n for n in names if envs[n].kind is EnvironmentKind.production]
    for extra in productions[1:]:
        problems.append(
            KeyProblem(
                ("environments", extra, "kind"),
                f"'{extra}' is a second production environment; '{productions[0]}' is "
                "already production and a project has exactly one.",
                "Change the kind of one of them to staging or development.",
            )
        )
    for name in productions:
        env = envs[name]
        if env.neutralize is True:
            problems.append(
                KeyProblem(
                    ("environments", name, "neutralize"),
                    "a production environment cannot be neutralized (it would stop its "
                    "mails, crons and payments).",
                    "Remove 'neutralize: true' from it.",
                )
            )
        if env.data == "demo":
            problems.append(
                KeyProblem(
                    ("environments", name, "data"),
                    "a production environment cannot load demo data (Odoo cannot remove "
                    "demo data from a database later).",
                    "Use 'data: fresh' (the default) or a copy of another environment.",
                )
            )

    problems += _copy_problems(config)
    problems += _branch_problems(config)
    problems += _database_problems(config)
    problems += _url_problems(config)
    return problems


def _copy_problems(config: ProjectConfig) -> list[KeyProblem]:
    problems: list[KeyProblem] = []
    envs = config.environments
    names = list(envs)
    sources: dict[str, str] = {}
    targets: list[tuple[KeyPath, str, str | None]] = [
        (("environments", n, "data", "copy"), envs[n].data.copy_, n)  # type: ignore[union-attr]
        for n in names
        if isinstance(envs[n].data, CopyPolicy)
    ]
    if isinstance(config.previews.data, CopyPolicy):
        targets.append((("previews", "data", "copy"), config.previews.data.copy_, None))
    for path, source, owner in targets:
        if source == owner:
            problems.append(
                KeyProblem(
                    path,
                    f"environment '{owner}' cannot be a copy of itself.",
                    "Name another environment (usually production) or use 'data: fresh'.",
                )
            )
        elif source not in envs:
            guess = _did_you_mean(source, names)
            problems.append(
                KeyProblem(
                    path,
                    f"'{source}' is not an environment of this project"
                    + (f"; did you mean '{guess}'?" if guess else "."),
                    f"Use one of: {', '.join(names)}." if names else "Define it first.",
                )
            )
        elif owner is not None:
            sources[owner] = source
    reported: set[str] = set()
    for start in sources:
        chain = [start]
        while chain[-1] in sources and sources[chain[-1]] not in chain:
            chain.append(sources[chain[-1]])
        if chain[-1] in sources and sources[chain[-1]] == start and start not in reported:
            reported.update(chain)
            circle = " -> ".join([*chain, start])
            problems.append(
                KeyProblem(
                    ("environments", start, "data", "copy"),
                    f"environments copy each other in a circle ({circle}), so none of them "
                    "has data to start from.",
                    "Make one of them 'data: fresh' or a copy of production.",
                )
            )
    return problems


def _branch_problems(config: ProjectConfig) -> list[KeyProblem]:
    problems: list[KeyProblem] = []
    entries: list[tuple[str, str, int | None]] = []
    for name, env in config.environments.items():
        if env.branches:
            entries += [(name, p, i) for i, p in enumerate(env.branches)]
        elif env.kind is EnvironmentKind.staging:
            entries.append((name, STAGING_DEFAULT_BRANCH, None))

    def where(name: str, index: int | None) -> tuple[KeyPath, Literal["key", "value"]]:
        if index is None:
            return ("environments", name), "key"
        return ("environments", name, "branches", index), "value"

    def label(pattern: str, name: str, index: int | None) -> str:
        default = " (the staging default)" if index is None else ""
        return f"'{pattern}' of '{name}'{default}"

    seen_pairs: set[tuple[str, str]] = set()
    for pos, (name_b, pat_b, idx_b) in enumerate(entries):
        for name_a, pat_a, idx_a in entries[:pos]:
            if name_a == name_b or (name_a, name_b) in seen_pairs:
                continue
            rank_a, rank_b = pattern_precedence(pat_a), pattern_precedence(pat_b)
            if rank_a != rank_b:
                continue
            witness: str | None
            if rank_b == PRECEDENCE_LITERAL:
                witness = pat_b if pat_a == pat_b else None
            elif rank_b == PRECEDENCE_CATCH_ALL:
                witness = "any branch"
            else:
                witness = glob_overlap(pat_a, pat_b)
            if witness is None:
                continue
            seen_pairs.add((name_a, name_b))
            path, at = where(name_b, idx_b)
            example = witness if witness == "any branch" else f"branch '{witness}'"
            problems.append(
                KeyProblem(
                    path,
                    f"{example} would match two environments: {label(pat_a, name_a, idx_a)} "
                    f"and {label(pat_b, name_b, idx_b)}.",
                    "Make the patterns disjoint; a literal branch name wins over a glob and "
                    "a glob wins over '*', so only patterns of the same kind may not overlap.",
                    at=at,
                )
            )
    return problems


def _database_problems(config: ProjectConfig) -> list[KeyProblem]:
    problems: list[KeyProblem] = []
    owners: dict[str, str] = {}
    for name, env in config.environments.items():
        database = config.database_name(name)
        path: KeyPath = (
            ("environments", name, "database")
            if env.database
            else (
                "environments",
                name,
            )
        )
        at: Literal["key", "value"] = "value" if env.database else "key"
        if len(database) > MAX_IDENTIFIER:
            problems.append(
                KeyProblem(
                    path,
                    f"the database name '{database}' (project name + '_' + environment "
                    f"name) is longer than PostgreSQL's {MAX_IDENTIFIER} characters.",
                    "Set a shorter 'database:' for this environment.",
                    at=at,
                )
            )
        if database in owners:
            problems.append(
                KeyProblem(
                    path,
                    f"environments '{owners[database]}' and '{name}' would both use the "
                    f"database '{database}'.",
                    "Give one of them its own 'database:' name.",
                    at=at,
                )
            )
        else:
            owners[database] = name
    return problems


def _url_problems(config: ProjectConfig) -> list[KeyProblem]:
    problems: list[KeyProblem] = []
    hosts: dict[tuple[str, str], str] = {}
    for name, env in config.environments.items():
        if env.url is None:
            continue
        match = re.match(r"^https?://([^/:?#]+)(:\d+)?", env.url)
        if not match:
            continue
        key = (match.group(1).lower().rstrip("."), match.group(2) or "")
        if key in hosts:
            problems.append(
                KeyProblem(
                    ("environments", name, "url"),
                    f"environments '{hosts[key]}' and '{name}' have the same host "
                    f"'{key[0]}{key[1]}', so requests could not be routed to each.",
                    "Give each environment its own host name.",
                )
            )
        else:
            hosts[key] = name
    return problems


# ---------------------------------------------------------------------------
# Errors with positions
# ---------------------------------------------------------------------------


def format_key_path(path: KeyPath) -> str:
    """``('environments', 'staging', 'branches', 1)`` -> ``environments.staging.branches[1]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", part):
            out += f".{part}" if out else part
        else:
            quoted = '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'
            out += f"[{quoted}]"
    return out


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in odooplane.yaml (or in an env file it names)."""

    file: str
    line: int
    column: int
    path: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        what = f"{self.path}: {self.message}" if self.path else self.message
        return f"{where}: {what}" + (f" {self.fix}" if self.fix else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
            "fix": self.fix,
        }


class ConfigFileError(ConfigError):
    """odooplane.yaml has one or more problems; ``issues`` lists each with its position."""

    def __init__(self, file: str, issues: list[ConfigIssue], *, internal: bool = False) -> None:
        self.issues = issues
        # True when the loader itself failed (a bug): the test suite looks for it.
        self.internal = internal
        if len(issues) == 1:
            message = str(issues[0])
        else:
            lines = "\n".join(f"  {issue}" for issue in issues)
            message = f"{file} has {len(issues)} problems:\n{lines}"
        super().__init__(message)


@dataclass
class _Positions:
    keys: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    values: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: KeyPath, at: str) -> tuple[int, int]:
        if at == "parent":
            path = path[:-1]
            at = "key"
        probe = path
        while probe:
            if at == "value" and probe in self.values:
                return self.values[probe]
            if probe in self.keys:
                return self.keys[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
            at = "key"
        return self.values.get((), (1, 1))


# ---------------------------------------------------------------------------
# YAML tree -> plain data + positions
# ---------------------------------------------------------------------------


def _yaml_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


def _describe(value: object, masked: str | None = None) -> str:
    """How an offending value is shown in a message (never a secret)."""
    if masked is not None:
        return f"'{masked}' (filled in from an env file)"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"the text '{shown}'"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return "a mapping"
    return _yaml_type(value)


class _Converter:
    """Turns ruamel's round-trip tree into plain data and records every position."""

    def __init__(self) -> None:
        self.positions = _Positions()
        self.problems: list[KeyProblem] = []
        self.count = 0
        self._active: set[int] = set()

    def convert(self, node: Any, path: KeyPath) -> Any:
        from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar

        self.count += 1
        if self.count > MAX_VALUES:
            raise _TooLarge
        tag = _custom_tag(node)
        if tag is not None:
            self.problems.append(
                KeyProblem(
                    path,
                    f"the YAML tag '{tag}' is not supported here.",
                    "Remove the tag and write a plain value.",
                )
            )
            return _Rejected
        if isinstance(node, TaggedScalar):
            return str(node.value)
        if isinstance(node, bool) or node is None:
            return node
        if isinstance(node, int):
            # ScalarBoolean is an int subclass carrying an anchor.
            if type(node).__name__ == "ScalarBoolean":
                return bool(node)
            return int(node)
        if isinstance(node, float):
            return float(node)
        if isinstance(node, str):
            return str(node)
        if isinstance(node, date):
            # A date where text is expected (a ref, a name) is what the user typed.
            return node.isoformat()
        if isinstance(node, CommentedMap):
            return self._mapping(node, path)
        if isinstance(node, (CommentedSeq, list)):
            return self._sequence(node, path)
        self.problems.append(
            KeyProblem(
                path,
                f"a YAML {type(node).__name__} value is not supported here.",
                "Write text, a number, true/false, a list or a mapping.",
            )
        )
        return _Rejected

    def _enter(self, node: Any, path: KeyPath) -> bool:
        if id(node) in self._active:
            self.problems.append(
                KeyProblem(
                    path,
                    "this value contains itself through a YAML alias (*name).",
                    "Replace the alias with the values it should hold.",
                )
            )
            return False
        self._active.add(id(node))
        return True

    def _mapping(self, node: Any, path: KeyPath) -> Any:
        if not self._enter(node, path):
            return _Rejected
        out: dict[str, Any] = {}
        lc = getattr(node, "lc", None)
        own = getattr(lc, "data", {}) or {}
        for key, value in node.items():
            if key in own:
                kline, kcol, vline, vcol = own[key][:4]
                key_pos = (kline + 1, kcol + 1)
                value_pos = (vline + 1, vcol + 1)
            else:
                # A key merged in with `<<: *anchor` has no position of its own.
                key_pos = self.positions.values.get(path, (1, 1))
                value_pos = key_pos
            if not isinstance(key, str):
                shown = (
                    "null"
                    if key is None
                    else str(key).lower()
                    if isinstance(key, bool)
                    else str(key)
                )
                self.problems.append(
                    KeyProblem(
                        (*path, shown),
                        f"the key {shown} is a {_yaml_type(key)}, not text.",
                        f"Quote it: '{shown}':",
                        line=key_pos[0],
                        column=key_pos[1],
                    )
                )
                continue
            child = (*path, key)
            self.positions.keys[child] = key_pos
            self.positions.values[child] = value_pos
            converted = self.convert(value, child)
            if converted is not _Rejected:
                out[key] = converted
        self._active.discard(id(node))
        return out

    def _sequence(self, node: Any, path: KeyPath) -> Any:
        if not self._enter(node, path):
            return _Rejected
        out: list[Any] = []
        lc = getattr(node, "lc", None)
        own = getattr(lc, "data", {}) or {}
        for index, value in enumerate(node):
            child = (*path, index)
            if index in own:
                line, col = own[index][:2]
                self.positions.values[child] = (line + 1, col + 1)
            converted = self.convert(value, child)
            out.append(None if converted is _Rejected else converted)
        self._active.discard(id(node))
        return out


class _RejectedType:
    """Marker for a value already reported as a problem."""


_Rejected = _RejectedType()


class _TooLarge(Exception):
    pass


def _custom_tag(node: Any) -> str | None:
    tag = getattr(node, "tag", None)
    value = getattr(tag, "value", None) if tag is not None else None
    if isinstance(value, str) and value and not value.startswith("tag:yaml.org,2002:"):
        return value
    if isinstance(value, str) and value.startswith("tag:yaml.org,2002:"):
        short = value.rsplit(":", 1)[-1]
        if short not in ("str", "int", "float", "bool", "null", "map", "seq", "omap"):
            return "!!" + short
    return None


# ---------------------------------------------------------------------------
# ${VAR} interpolation
# ---------------------------------------------------------------------------

_VAR_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MASK = "****"


@dataclass
class _Interpolated:
    value: str
    masked: str | None
    missing: list[str]
    malformed: str | None


def interpolate(text: str, lookup: Callable[[str], tuple[str, bool] | None]) -> _Interpolated:
    """Replace ``${NAME}`` and ``${NAME:-default}``; ``$${`` is a literal ``${``.

    ``lookup`` returns the value and whether it is a secret (came from an env file);
    the masked rendering replaces secret values with ``****``.
    """
    out: list[str] = []
    masked: list[str] = []
    missing: list[str] = []
    secret = False
    i = 0
    while i < len(text):
        if text.startswith("$${", i):
            out.append("${")
            masked.append("${")
            i += 3
            continue
        if text.startswith("${", i):
            end = text.find("}", i + 2)
            if end < 0:
                return _Interpolated(text, None, [], "'${' is never closed with '}'")
            inner = text[i + 2 : end]
            name, sep, default = inner.partition(":-")
            if not _VAR_NAME_RE.fullmatch(name):
                return _Interpolated(text, None, [], f"'${{{inner}}}' is not a variable reference")
            found = lookup(name)
            if found is None:
                if sep:
                    out.append(default)
                    masked.append(default)
                else:
                    missing.append(name)
            else:
                value, is_secret = found
                out.append(value)
                masked.append(MASK if is_secret else value)
                secret = secret or is_secret
            i = end + 1
            continue
        out.append(text[i])
        masked.append(text[i])
        i += 1
    return _Interpolated("".join(out), "".join(masked) if secret else None, missing, None)


# ---------------------------------------------------------------------------
# pydantic errors -> problems
# ---------------------------------------------------------------------------

_EXAMPLES: dict[str, str] = {
    "project": "project: my-project",
    "odoo": "odoo: {series: '17.0', source: /opt/odoo}",
    "series": "series: '17.0'",
    "source": "source: /opt/odoo (a path) or source: {git: https://github.com/odoo/odoo.git, "
    "ref: '17.0'}",
    "git": "git: https://github.com/odoo/odoo.git",
    "ref": "ref: '17.0'",
    "kind": "kind: development (or production, staging, preview)",
    "copy": "copy: production",
    "name": "name: my-rule",
    "workers": "workers: 2",
    "branches": "branches: [main, 'feature/*']",
    "data": "data: fresh, data: demo or data: {copy: production}",
    "url": "url: https://erp.example.com",
    "neutralize": "neutralize: true",
    "modules": "modules: [sale, my_addon]",
    "timeout_minutes": "timeout_minutes: 30",
    "ttl_hours": "ttl_hours: 72",
}


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin is Union or origin is types.UnionType:
            members = [_unwrap(m) for m in get_args(annotation) if m is not type(None)]
            # Prefer the member that has keys or items: that is where a path can go.
            for member in members:
                if isinstance(member, type) and issubclass(member, BaseModel):
                    return member
            for member in members:
                if get_origin(member) in (dict, list):
                    return member
            return members[0] if members else annotation
        else:
            return annotation


def _field_key(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if (info.alias or name) == key:
            return info.annotation
    return None


def _schema_at(path: KeyPath) -> Any:
    """The schema type at ``path`` (None where the schema does not go)."""
    current: Any = ProjectConfig
    for part in path:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            if not isinstance(part, str):
                return None
            current = _field_key(current, part)
            if current is None:
                return None
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        elif get_origin(current) is list:
            current = get_args(current)[0]
        else:
            return None
    return _unwrap(current)


def _allowed_keys(path: KeyPath) -> list[str]:
    model = _schema_at(path)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [info.alias or name for name, info in model.model_fields.items()]
    return []


@functools.cache
def _field_homes() -> dict[str, list[str]]:
    """Every key of the schema and the key paths where it belongs."""
    homes: dict[str, list[str]] = {}

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            key = info.alias or name
            where = f"{prefix}.{key}" if prefix else key
            homes.setdefault(key, []).append(where)
            inner = _unwrap(info.annotation)
            if get_origin(inner) is dict:
                inner, where = _unwrap(get_args(inner)[1]), f"{where}.<name>"
            elif get_origin(inner) is list:
                inner, where = _unwrap(get_args(inner)[0]), f"{where}[n]"
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                walk(inner, where)

    walk(ProjectConfig, "")
    return homes


def _translate_loc(loc: tuple[Any, ...], data: Any, error_type: str) -> tuple[KeyPath, bool]:
    """A pydantic error location -> (key path in the data, error is about the key)."""
    tail: tuple[Any, ...] = ()
    if error_type == "missing" and loc:
        loc, tail = loc[:-1], loc[-1:]
    path: list[str | int] = []
    current = data
    for part in loc:
        if part == "[key]":
            return tuple(path), True
        in_mapping = isinstance(current, dict) and isinstance(part, str) and part in current
        in_list = (
            isinstance(current, list)
            and isinstance(part, int)
            and not isinstance(part, bool)
            and 0 <= part < len(current)
        )
        if in_mapping or in_list:
            path.append(part)
            current = current[part]
        # Anything else is a union tag (or a discriminator name): not part of the path.
    return (*path, *tail), False


def _value_at(data: Any, path: KeyPath) -> Any:
    current = data
    for part in path:
        try:
            current = current[part]
        except (KeyError, IndexError, TypeError):
            return None
    return current


def _pydantic_problem(
    error: Mapping[str, Any], data: Any, masked: Mapping[KeyPath, str]
) -> KeyProblem:
    kind = str(error["type"])
    path, about_key = _translate_loc(tuple(error["loc"]), data, kind)
    value = _value_at(data, path)
    got = _describe(value, masked.get(path))
    leaf = path[-1] if path else ""
    example = _EXAMPLES.get(leaf, "") if isinstance(leaf, str) else ""
    fix_example = f"For example: {example}." if example else ""
    msg = str(error.get("msg", ""))
    ctx = error.get("ctx") or {}

    if about_key:
        message = msg.removeprefix("Value error, ").rstrip(".") + "."
        return KeyProblem(path, message, "Rename it.", at="key")
    if kind == "missing":
        return KeyProblem(
            path,
            f"the required key '{leaf}' is missing.",
            f"Add it. {fix_example}".strip(),
            at="parent",
        )
    if kind == "extra_forbidden":
        parent = path[:-1]
        allowed = _allowed_keys(parent)
        name = str(leaf)
        guess = _did_you_mean(name, allowed)
        if guess:
            return KeyProblem(
                path, f"unknown key '{name}'; did you mean '{guess}'?", "Rename it.", at="key"
            )
        homes = [h for h in _field_homes().get(name, []) if h != format_key_path(path)]
        hint = f" '{name}' belongs under {' or '.join(homes)}." if homes else ""
        where = format_key_path(parent) or "the top level"
        return KeyProblem(
            path,
            f"unknown key '{name}'.{hint}",
            f"Remove it or move it; the keys allowed in {where} are: {', '.join(allowed)}.",
            at="key",
        )
    if kind in ("enum", "literal_error"):
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        guess = _did_you_mean(str(value), choices) if isinstance(value, str) else None
        message = f"expected one of {', '.join(choices)}, got {got}"
        if leaf == "data":
            message = f"expected fresh, demo or a mapping {{copy: ENVIRONMENT}}, got {got}"
        message += f"; did you mean '{guess}'?" if guess else "."
        return KeyProblem(path, message, fix_example)
    if kind in ("string_type", "str_type"):
        fix = (
            "Quote the value so YAML reads it as text."
            if isinstance(value, (int, float, bool))
            else "Write a single text value."
        )
        return KeyProblem(path, f"expected text, got {got}.", f"{fix} {fix_example}".strip())
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return KeyProblem(path, f"expected a whole number, got {got}.", fix_example)
    if kind in ("float_type", "float_parsing"):
        return KeyProblem(path, f"expected a number, got {got}.", fix_example)
    if kind in ("bool_type", "bool_parsing"):
        return KeyProblem(path, f"expected true or false, got {got}.", fix_example)
    if kind in ("list_type", "tuple_type"):
        return KeyProblem(
            path,
            f"expected a list, got {got}.",
            f"Write a list: [a, b] or one '- item' per line. {fix_example}".strip(),
        )
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return KeyProblem(
            path,
            f"expected a mapping (indented 'key: value' lines), got {got}.",
            fix_example or "Indent the keys under this one.",
        )
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = {
            "greater_than_equal": f"at least {ctx.get('ge')}",
            "greater_than": f"more than {ctx.get('gt')}",
            "less_than_equal": f"at most {ctx.get('le')}",
            "less_than": f"less than {ctx.get('lt')}",
        }[kind]
        return KeyProblem(path, f"expected a number {bound}, got {got}.", fix_example)
    if kind in ("odoo_source", "data_policy"):
        return KeyProblem(path, f"{msg}, got {got}.", fix_example)
    if kind == "value_error":
        return KeyProblem(path, msg.removeprefix("Value error, ") + ".", fix_example)
    return KeyProblem(path, f"{msg} (got {got}).", fix_example)


# ---------------------------------------------------------------------------
# The loader
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedConfig:
    """A loaded configuration with what ``config show`` needs besides the values."""

    config: ProjectConfig
    path: Path
    # Key paths whose value holds a secret from an env file, shown with it masked.
    masked: Mapping[KeyPath, str]
    # Each environment's env file, resolved (present or not).
    env_files: Mapping[str, Path]


def load_config(path: Path, *, environ: Mapping[str, str] | None = None) -> ProjectConfig:
    """Load and validate ``odooplane.yaml``; every problem is a :class:`ConfigError`."""
    return load_config_details(path, environ=environ).config


def load_config_details(path: Path, *, environ: Mapping[str, str] | None = None) -> LoadedConfig:
    """Like :func:`load_config`, also returning secret masks and env-file paths."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file.",
            hint="Run `odooplane init` in the repository to write one.",
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not an odooplane.yaml file.") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror}).") from None
    return _guarded(path, raw, environ)


def load_config_text(
    text: str, path: Path, *, environ: Mapping[str, str] | None = None
) -> ProjectConfig:
    """Validate ``text`` as if it were the content of ``path`` (env files resolve there)."""
    return _guarded(path, text.encode("utf-8"), environ).config


def _guarded(path: Path, raw: bytes, environ: Mapping[str, str] | None) -> LoadedConfig:
    try:
        return _Loader(path, raw, os.environ if environ is None else environ).load()
    except ConfigError:
        raise
    except RecursionError:
        raise _single(path, 1, 1, "", "the document is nested too deeply.", "Flatten it.") from None
    except Exception as exc:  # the last resort: a bug here must not become a traceback
        issue = ConfigIssue(
            str(path),
            1,
            1,
            "",
            f"odooplane could not load this file because of an internal error "
            f"({type(exc).__name__}: {exc}).",
            "Please report it with the file attached.",
        )
        raise ConfigFileError(str(path), [issue], internal=True) from exc


def _single(path: Path, line: int, column: int, key: str, message: str, fix: str) -> ConfigError:
    return ConfigFileError(str(path), [ConfigIssue(str(path), line, column, key, message, fix)])


class _Loader:
    def __init__(self, path: Path, raw: bytes, environ: Mapping[str, str]) -> None:
        self.path = path
        self.file = str(path)
        self.raw = raw
        self.environ = environ
        self.positions = _Positions()
        self.problems: list[KeyProblem] = []
        self.masked: dict[KeyPath, str] = {}
        self.env_files: dict[str, Path] = {}

    # -- stages --------------------------------------------------------------

    def load(self) -> LoadedConfig:
        text = self._text()
        tree = self._parse(text)
        data = self._to_data(tree)
        env_values = self._env_files(data)
        self._interpolate(data, env_values)
        config = self._validate(data)
        if config is not None:
            self.problems += cross_check(config)
        if self.problems or config is None:
            raise self._error()
        return LoadedConfig(config, self.path, dict(self.masked), dict(self.env_files))

    def _text(self) -> str:
        if len(self.raw) > MAX_CONFIG_BYTES:
            raise _single(
                self.path,
                1,
                1,
                "",
                f"the file is {len(self.raw)} bytes; an odooplane.yaml is a few kilobytes.",
                "Check that this is the right file.",
            )
        try:
            text = self.raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = self.raw[: exc.start].count(b"\n") + 1
            column = exc.start - (self.raw.rfind(b"\n", 0, exc.start) + 1) + 1
            raise _single(
                self.path, line, column, "", "the file is not UTF-8 text.", "Save it as UTF-8."
            ) from None
        if not text.strip():
            raise _single(
                self.path,
                1,
                1,
                "",
                "the file is empty; expected a mapping with at least 'project' and 'odoo'.",
                "Run `odooplane init --force` to write a commented starting point.",
            )
        return text

    def _parse(self, text: str) -> Any:
        from ruamel.yaml import YAML
        from ruamel.yaml.constructor import DuplicateKeyError
        from ruamel.yaml.error import MarkedYAMLError, YAMLError

        yaml = YAML(typ="rt", pure=True)
        try:
            tree = yaml.load(text)
        except DuplicateKeyError as exc:
            raise self._duplicates(text, exc) from None
        except MarkedYAMLError as exc:
            raise self._syntax(exc) from None
        except YAMLError as exc:
            raise _single(
                self.path, 1, 1, "", f"this is not valid YAML ({exc}).", "Fix the YAML."
            ) from None
        except RecursionError:
            raise _single(
                self.path, 1, 1, "", "the YAML is nested too deeply to read.", "Flatten it."
            ) from None
        except Exception as exc:
            # ruamel occasionally fails on very broken input with a plain Python error.
            raise _single(
                self.path,
                1,
                1,
                "",
                f"this is not valid YAML ({type(exc).__name__}: {exc}).",
                "Check the file's syntax.",
            ) from None
        if tree is None:
            raise _single(
                self.path,
                1,
                1,
                "",
                "the file holds no settings (only comments); expected a mapping with at "
                "least 'project' and 'odoo'.",
                "Run `odooplane init --force` to write a commented starting point.",
            )
        from ruamel.yaml.comments import CommentedMap

        if not isinstance(tree, CommentedMap):
            raise _single(
                self.path,
                1,
                1,
                "",
                f"the top level must be a mapping of keys (project:, odoo:, environments:...), "
                f"not {_yaml_type(_plain_kind(tree))}.",
                "Start the file with 'project: NAME' on its own line.",
            )
        return tree

    def _syntax(self, exc: Any) -> ConfigError:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = str(exc.problem or exc.context or "invalid YAML").strip()
        context = str(exc.context or "").strip()
        detail = problem if not context or context == problem else f"{problem} ({context})"
        low = problem.lower()
        if "\\t" in problem or "tab" in low:
            fix = "Indent with spaces, not tabs."
        elif "mapping values are not allowed" in low:
            fix = "Quote a value that contains ': ', or fix the indentation of this line."
        elif "undefined alias" in low:
            fix = "Define the anchor (&name) before using it as *name."
        elif "single document" in low or "but found another document" in low:
            fix = "Keep a single YAML document: remove the '---' separator."
        elif "could not find expected ':'" in low:
            fix = "Each setting needs 'key: value'; check for a missing ':' or a stray line."
        else:
            fix = "Check the indentation and quoting at this position."
        return _single(self.path, line, column, "", f"YAML syntax error: {detail}.", fix)

    def _duplicates(self, text: str, exc: Any) -> ConfigError:
        """Report every duplicated key with its path (ruamel stops at the first)."""
        from ruamel.yaml import YAML
        from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

        issues: list[ConfigIssue] = []
        visited: set[int] = set()

        def walk(node: Any, path: KeyPath) -> None:
            if id(node) in visited:
                return
            visited.add(id(node))
            if isinstance(node, MappingNode):
                seen: dict[str, int] = {}
                for key_node, value_node in node.value:
                    if not isinstance(key_node, ScalarNode):
                        continue
                    key = str(key_node.value)
                    line = key_node.start_mark.line + 1
                    if key in seen:
                        child = (*path, key)
                        if path == ("environments",):
                            message = (
                                f"the environment '{key}' is defined twice (first on line "
                                f"{seen[key]})."
                            )
                            fix = "Rename one of them or merge the two definitions."
                        else:
                            message = f"the key '{key}' is given twice (first on line {seen[key]})."
                            fix = "Keep one of them."
                        issues.append(
                            ConfigIssue(
                                self.file,
                                line,
                                key_node.start_mark.column + 1,
                                format_key_path(child),
                                message,
                                fix,
                            )
                        )
                    else:
                        seen[key] = line
                        walk(value_node, (*path, key))
            elif isinstance(node, SequenceNode):
                for index, item in enumerate(node.value):
                    walk(item, (*path, index))

        try:
            walk(YAML(typ="rt", pure=True).compose(text), ())
        except Exception:
            issues = []
        if not issues:
            mark = exc.problem_mark
            issues.append(
                ConfigIssue(
                    self.file,
                    mark.line + 1 if mark else 1,
                    mark.column + 1 if mark else 1,
                    "",
                    f"a key is given twice ({str(exc.problem).strip()}).",
                    "Keep one of them.",
                )
            )
        return ConfigFileError(self.file, issues)

    def _to_data(self, tree: Any) -> dict[str, Any]:
        converter = _Converter()
        converter.positions.values[()] = (1, 1)
        try:
            data = converter.convert(tree, ())
        except _TooLarge:
            raise _single(
                self.path,
                1,
                1,
                "",
                f"the document expands to more than {MAX_VALUES} values (aliases?).",
                "Write the configuration without nested aliases.",
            ) from None
        self.positions = converter.positions
        self.problems += converter.problems
        return data if isinstance(data, dict) else {}

    def _env_files(self, data: dict[str, Any]) -> dict[str, dict[str, str] | None]:
        """Each environment's env-file values (None when the file does not exist)."""
        found: dict[str, dict[str, str] | None] = {}
        environments = data.get("environments")
        if not isinstance(environments, dict):
            return found
        for name, env in environments.items():
            if not isinstance(env, dict) or not isinstance(env.get("env_file"), str):
                continue
            key: KeyPath = ("environments", name, "env_file")
            result = interpolate(env["env_file"], self._process_lookup)
            if not self._record(key, result):
                continue
            env["env_file"] = result.value
            if not result.value.strip() or env_file_escapes(result.value):
                continue  # reported by the schema with its own message
            target = Path(os.path.expanduser(result.value))
            if not target.is_absolute():
                target = self.path.parent / target
            self.env_files[name] = target
            if not target.exists():
                found[name] = None
                continue
            try:
                found[name] = read_env_file(target)
            except EnvFileError as exc:
                self.problems.append(
                    KeyProblem(
                        key,
                        f"{exc.problem} (in env file {exc.path}, line {exc.line})",
                        exc.fix,
                        file=str(exc.path),
                        line=exc.line,
                        column=1,
                    )
                )
                found[name] = {}
            except ConfigError as exc:
                self.problems.append(KeyProblem(key, exc.message, exc.hint or ""))
                found[name] = {}
        return found

    def _process_lookup(self, name: str) -> tuple[str, bool] | None:
        value = self.environ.get(name)
        return None if value is None else (value, False)

    def _interpolate(self, data: Any, env_values: Mapping[str, dict[str, str] | None]) -> None:
        for path, text, setter in _strings(data, ()):
            if "$" not in text:
                continue
            if len(path) >= 3 and path[0] == "environments" and path[2] == "env_file":
                continue  # already done, from the process environment only
            env_name = path[1] if len(path) >= 3 and path[0] == "environments" else None
            file_values = env_values.get(str(env_name)) if env_name is not None else None

            def lookup(name: str, values: dict[str, str] | None = file_values) -> Any:
                if values is not None and name in values:
                    return values[name], True
                return self._process_lookup(name)

            result = interpolate(text, lookup)
            if self._record(path, result, env_name=env_name, env_values=env_values):
                setter(result.value)

    def _record(
        self,
        path: KeyPath,
        result: _Interpolated,
        *,
        env_name: str | int | None = None,
        env_values: Mapping[str, dict[str, str] | None] | None = None,
    ) -> bool:
        """Keep the masked form or report the problem; False when it failed."""
        escape = "write $${ for a literal '${'"
        if result.malformed:
            self.problems.append(
                KeyProblem(
                    path,
                    f"{result.malformed}.",
                    f"Write ${{NAME}} or ${{NAME:-default}}, or {escape}.",
                )
            )
            return False
        if result.missing:
            names = ", ".join(f"${{{n}}}" for n in dict.fromkeys(result.missing))
            verb = "is" if len(set(result.missing)) == 1 else "are"
            looked = "the process environment"
            where = "in the process environment"
            if env_name is not None and isinstance(env_name, str):
                env_file = self.env_files.get(env_name)
                if env_file is not None:
                    exists = (env_values or {}).get(env_name) is not None
                    state = "" if exists else ", which does not exist"
                    looked = f"the env file {env_file}{state}, then the process environment"
                    where = f"in {env_file} or in the process environment"
            self.problems.append(
                KeyProblem(
                    path,
                    f"{names} {verb} not set (looked in {looked}).",
                    f"Set it {where}, give a default with ${{NAME:-default}}, or {escape}.",
                )
            )
            return False
        if result.masked is not None:
            self.masked[path] = result.masked
        return True

    def _validate(self, data: dict[str, Any]) -> ProjectConfig | None:
        try:
            return ProjectConfig.model_validate(data, context={_LOADER_CONTEXT: True})
        except ValidationError as exc:
            blocked = [p.path for p in self.problems]
            reported: set[KeyPath] = set()
            for error in exc.errors():
                problem = _pydantic_problem(error, data, self.masked)
                if problem.path in reported or any(problem.path[: len(b)] == b for b in blocked):
                    continue
                reported.add(problem.path)
                self.problems.append(problem)
            return None

    # -- reporting -----------------------------------------------------------

    def _error(self) -> ConfigFileError:
        issues: list[ConfigIssue] = []
        for problem in self.problems:
            if problem.line is not None:
                line, column = problem.line, problem.column or 1
            else:
                line, column = self.positions.locate(problem.path, problem.at)
            issues.append(
                ConfigIssue(
                    problem.file or self.file,
                    line,
                    column,
                    format_key_path(problem.path),
                    problem.message,
                    problem.fix,
                )
            )
        issues.sort(key=lambda i: (i.file != self.file, i.file, i.line, i.column))
        return ConfigFileError(self.file, issues)


def _plain_kind(tree: Any) -> Any:
    if isinstance(tree, list):
        return []
    return tree


def _strings(data: Any, path: KeyPath) -> Iterator[tuple[KeyPath, str, Callable[[str], None]]]:
    """Every string value in ``data`` with its path and a setter to replace it."""
    if isinstance(data, dict):
        items: Iterator[tuple[Any, Any]] = iter(list(data.items()))
    elif isinstance(data, list):
        items = iter(list(enumerate(data)))
    else:
        return
    for key, value in items:
        if isinstance(value, str):

            def setter(new: str, container: Any = data, slot: Any = key) -> None:
                container[slot] = new

            yield (*path, key), value, setter
        else:
            yield from _strings(value, (*path, key))


# ---------------------------------------------------------------------------
# Showing a configuration
# ---------------------------------------------------------------------------


def mask_url_password(url: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:****@host/db``."""
    return re.sub(r"^([a-z][a-z0-9+.-]*://[^:/@]*):[^@/]*@", rf"\1:{MASK}@", url)


def _set_at(data: Any, path: KeyPath, value: Any) -> None:
    container = data
    for part in path[:-1]:
        try:
            container = container[part]
        except (KeyError, IndexError, TypeError):
            return
    try:
        if path and (path[-1] in container if isinstance(container, dict) else True):
            container[path[-1]] = value
    except (IndexError, TypeError):
        return


def redacted_dump(loaded: LoadedConfig) -> dict[str, Any]:
    """The effective configuration (defaults filled in) with secrets masked."""
    dumped: dict[str, Any] = loaded.config.model_dump(mode="json", by_alias=True)
    for path, masked in loaded.masked.items():
        _set_at(dumped, path, masked)
    dumped["database"]["server"] = mask_url_password(str(dumped["database"]["server"]))
    dumped["evidence"]["url"] = mask_url_password(str(dumped["evidence"]["url"]))
    return dumped


def environment_summary(loaded: LoadedConfig) -> dict[str, dict[str, Any]]:
    """What each environment resolves to: database, branches, neutralization, env file."""
    config = loaded.config
    out: dict[str, dict[str, Any]] = {}
    for name, env in config.environments.items():
        data: Any = env.data
        out[name] = {
            "kind": env.kind.value,
            "branches": branch_patterns(config, name),
            "database": config.database_name(name),
            "data": data if isinstance(data, str) else {"copy": data.copy_},
            "neutralized": env.neutralized,
            "url": loaded.masked.get(("environments", name, "url"), env.url),
            "workers": env.workers,
            "env_file": str(loaded.env_files[name]) if name in loaded.env_files else None,
        }
    return out
