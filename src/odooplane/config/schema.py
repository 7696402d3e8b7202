"""The odooplane.yaml schema: pydantic models, strict (unknown keys are errors).

The checks spanning several keys live in :mod:`odooplane.config.checks`; the loader
(:mod:`odooplane.config.loader`) runs them itself to give each problem its position.
"""

from __future__ import annotations

import os
import re
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
    ValidationInfo,
    field_validator,
    model_validator,
)

from odooplane.errors import NotFoundError

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
LOADER_CONTEXT = "odooplane-loader"
# Where an environment's Odoo can run (odooplane.backends); the planned ones are refused
# with a sentence saying so.
BACKENDS = ("local",)
PLANNED_BACKENDS = ("docker", "kubernetes")


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
    backend: str = Field(
        default="local", description="where its Odoo runs: local (a supervisord here)"
    )
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

    @field_validator("backend")
    @classmethod
    def _backend(cls, value: str) -> str:
        if value in PLANNED_BACKENDS:
            raise ValueError(
                f"the '{value}' backend is not available yet; only 'local' (a supervisord "
                "on this machine) is"
            )
        if value not in BACKENDS:
            raise ValueError(f"'{value}' is not a backend; the one available is 'local'")
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
        if isinstance(info.context, dict) and info.context.get(LOADER_CONTEXT):
            return self
        from odooplane.config.checks import cross_check
        from odooplane.config.issues import format_key_path

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
