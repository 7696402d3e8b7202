"""The odooplane.yaml schema and its loader.

The schema is strict: unknown keys are errors, and every error the loader reports
names ``file:line:column``, the key path, what was expected and how to fix it.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Names that end up as PostgreSQL database names, folder names and DNS labels.
SAFE_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
SAFE_DB_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$")
SERIES_RE = re.compile(r"^(1[6-9]|[2-9][0-9])\.0$")
DNS_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnvironmentKind(str, Enum):
    production = "production"
    staging = "staging"
    development = "development"
    preview = "preview"


class GitSource(Strict):
    git: str = Field(description="git URL of an Odoo source repository")
    ref: str = Field(description="branch, tag or commit to check out")


class OdooConfig(Strict):
    series: str = Field(description="Odoo series, e.g. '17.0'")
    source: str | GitSource = Field(
        description="local path to an Odoo source tree, or {git: URL, ref: REF}"
    )
    addons_paths: list[str] = Field(default_factory=list)
    requirements: list[str] = Field(default_factory=list)
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


DataPolicy = Literal["fresh", "demo"] | CopyPolicy


class EnvironmentConfig(Strict):
    kind: EnvironmentKind
    branches: list[str] = Field(default_factory=list, description="glob patterns")
    url: str | None = None
    env_file: str | None = None
    data: DataPolicy = "fresh"
    database: str | None = None
    neutralize: bool | None = Field(
        default=None, description="default: on for staging and preview, off otherwise"
    )
    workers: Annotated[int, Field(ge=0, le=64)] = 0
    modules: list[str] = Field(default_factory=list, description="modules to install")
    odoo_options: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @field_validator("database")
    @classmethod
    def _database(cls, value: str | None) -> str | None:
        if value is not None and not SAFE_DB_RE.match(value):
            raise ValueError(
                f"'{value}' is not a safe database name: use letters, digits, '_' and '-', "
                "start with a letter or '_', at most 63 characters"
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


class GatesConfig(Strict):
    """Validated now, acted upon by the gates issue (not yet active)."""

    required: list[str] = Field(default_factory=list)
    timeout_minutes: Annotated[int, Field(ge=1, le=600)] = 30


class PreviewsConfig(Strict):
    """Validated now, acted upon by the previews issue (not yet active)."""

    enabled: bool = False
    data: DataPolicy = "demo"
    domain: str | None = None
    ttl_hours: Annotated[int, Field(ge=1)] = 72


class ProjectRule(Strict):
    """One project-specific neutralization rule: SQL statements or parameter overrides."""

    name: str
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
    safe_email_domain: str | None = None
    rules: list[ProjectRule] = Field(default_factory=list)


class SecretsConfig(Strict):
    production_only: list[str] = Field(
        default_factory=list,
        description="env-file keys that only production may see",
    )


class ProjectConfig(Strict):
    project: str
    odoo: OdooConfig
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    environments: dict[str, EnvironmentConfig] = Field(default_factory=dict)
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
    def _environments(self) -> ProjectConfig:
        for name in self.environments:
            if not SAFE_NAME_RE.match(name):
                raise ValueError(f"environment name '{name}' is not a safe identifier")
        return self

    def database_name(self, env: str) -> str:
        configured = self.environments[env].database
        return configured or f"{self.project}_{env}".replace("-", "_")
