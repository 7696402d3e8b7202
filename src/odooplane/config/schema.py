"""The odooplane.yaml schema: pydantic models, strict (unknown keys are errors).

The checks spanning several keys live in :mod:`odooplane.config.checks`; the loader
(:mod:`odooplane.config.loader`) runs them itself to give each problem its position.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from odooplane.config.checks import cross_check
from odooplane.config.issues import format_key_path
from odooplane.config.values import (
    BACKENDS,
    DNS_LABEL_RE,
    LOADER_CONTEXT,
    PLANNED_BACKENDS,
    SAFE_DB_RE,
    SAFE_NAME_RE,
    SERIES_RE,
    STAGING_DEFAULT_BRANCH,
    URL_LIKE_RE,
    BranchPattern,
    DataPolicy,
    DomainName,
    EnvironmentKind,
    EnvName,
    ModuleName,
    NonEmptyText,
    OptionValue,
    Quantity,
    Strict,
    WholeNumber,
    check_debian_package,
    check_env_var_name,
    check_listen_address,
    check_option_name,
    check_timezone,
    check_xml_id,
    env_file_escapes,
    number_as_text,
    postgres_url_problem,
    quantity_value,
    valid_host,
)
from odooplane.errors import NotFoundError

# ---------------------------------------------------------------------------
# Schema
# ---------------------------------------------------------------------------


class GitSource(Strict):
    git: NonEmptyText = Field(description="git URL of an Odoo source repository")
    ref: Annotated[NonEmptyText, BeforeValidator(number_as_text)] = Field(
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
    if URL_LIKE_RE.match(value):
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
        description="'embedded' for odooplane's own cluster, 'container' for a PostgreSQL "
        "container of the project (Docker), or a postgresql:// URL",
    )
    postgres_bin: str | None = Field(default=None, description="folder holding initdb/pg_ctl")

    @property
    def kind(self) -> Literal["embedded", "container", "url"]:
        """Which server: odooplane's own cluster, its container, or the URL's."""
        if self.server == "embedded":
            return "embedded"
        return "container" if self.server == "container" else "url"

    @field_validator("server")
    @classmethod
    def _server(cls, value: str) -> str:
        if value in ("embedded", "container"):
            return value
        if not re.match(r"^postgres(ql)?://", value):
            raise ValueError(
                f"'{value}' is neither 'embedded', 'container' nor a URL starting with "
                "postgresql://"
            )
        problem = postgres_url_problem(value)
        if problem is not None:
            raise ValueError(
                f"{problem}; write it like postgresql://USER:PASSWORD@HOST:5432/postgres"
            )
        return value


def check_backend(value: str) -> str:
    if value in PLANNED_BACKENDS:
        raise ValueError(
            f"the '{value}' backend is not available yet; the available ones are "
            f"{', '.join(BACKENDS)}"
        )
    if value not in BACKENDS:
        raise ValueError(
            f"'{value}' is not a backend; the available ones are {', '.join(BACKENDS)}"
        )
    return value


ResourceName = Literal["cpu", "memory", "ephemeral-storage"]


def _default_requests() -> dict[ResourceName, str]:
    return {"cpu": "250m", "memory": "512Mi"}


def _default_limits() -> dict[ResourceName, str]:
    return {"memory": "2Gi"}


class ResourcesConfig(Strict):
    """Requests and limits of an environment's Odoo container (Kubernetes backend)."""

    requests: dict[ResourceName, Quantity] = Field(default_factory=_default_requests)
    limits: dict[ResourceName, Quantity] = Field(default_factory=_default_limits)

    @model_validator(mode="after")
    def _request_within_limit(self) -> ResourcesConfig:
        for name, request in self.requests.items():
            limit = self.limits.get(name)
            if limit is not None and quantity_value(request) > quantity_value(limit):
                raise ValueError(
                    f"the {name} request {request} is above its limit {limit}; Kubernetes "
                    "refuses such a pod"
                )
        return self


class KubernetesConfig(Strict):
    """Where and how environments with ``backend: kubernetes`` run (and what
    ``odooplane export kubernetes`` writes)."""

    kubeconfig: str | None = Field(
        default=None,
        description="default: $KUBECONFIG, else ~/.kube/config; in a pod, its service account",
    )
    context: str | None = Field(default=None, description="default: the current context")
    namespace: str | None = Field(default=None, description="default: the project name")
    ingress_class: str | None = None
    ingress_annotations: dict[str, str] = Field(default_factory=dict)
    tls_secret: str | None = Field(default=None, description="Secret of the Ingress's TLS")
    storage_class: str | None = Field(default=None, description="default: the cluster's")
    filestore_size: Quantity = "10Gi"
    service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = "ClusterIP"
    image_registry: str | None = Field(
        default=None,
        description="registry the build images are pushed to; none: the "
        "nodes' engine already holds them",
    )
    image_pull_policy: Literal["IfNotPresent", "Always", "Never"] = "IfNotPresent"
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    gc_schedule: str | None = Field(
        default=None, description="cron schedule of a CronJob running `preview gc`"
    )
    host_address: str | None = Field(
        default=None,
        description="the address pods reach this machine at (a cluster on this machine): "
        "the embedded PostgreSQL server and the mail catcher listen there too",
    )
    pod_network: str | None = Field(
        default=None, description="the pods' subnet, let in by the embedded PostgreSQL server"
    )

    @field_validator("host_address", "pod_network")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        import ipaddress

        if value is not None:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(f"'{value}' is not an IP address or subnet") from None
        return value

    @model_validator(mode="after")
    def _host_address_needs_network(self) -> KubernetesConfig:
        if self.host_address and not self.pod_network:
            raise ValueError(
                "host_address needs pod_network (the pods' subnet, e.g. 10.244.0.0/16): "
                "the embedded PostgreSQL server lets that subnet in"
            )
        return self

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        if value is not None and not DNS_LABEL_RE.match(value):
            raise ValueError(
                f"'{value}' is not a namespace name: lowercase letters, digits and '-', at "
                "most 63 characters"
            )
        return value

    @field_validator("gc_schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        if value is not None and len(value.split()) != 5 and not value.startswith("@"):
            raise ValueError(
                f"'{value}' is not a cron schedule: five fields, such as '*/30 * * * *'"
            )
        return value


class DockerConfig(Strict):
    """How environments with ``backend: docker`` run, and what ``odooplane export
    compose`` writes."""

    base_image: str = Field(
        default="odooplane/debian:bookworm",
        description="the image the build images start from (Debian bookworm or alike)",
    )
    extra_packages: list[Annotated[str, AfterValidator(check_debian_package)]] = Field(
        default_factory=list,
        description="Debian packages added to the runtime layer (e.g. wkhtmltopdf)",
    )
    memory: str | None = Field(default=None, description="memory limit of each container")

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[1-9][0-9]*[bkmg]?", value):
            raise ValueError(f"'{value}' is not a memory size: a number with b, k, m or g")
        return value


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
        default="local",
        description="where its Odoo runs: local (a supervisord here), docker (a container) "
        "or kubernetes (a Deployment in a cluster)",
    )
    modules: list[ModuleName] = Field(default_factory=list, description="modules to install")
    resources: ResourcesConfig | None = Field(
        default=None, description="default: kubernetes.resources"
    )
    odoo_options: dict[Annotated[str, AfterValidator(check_option_name)], OptionValue] = Field(
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
        return check_backend(value)

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
        if host != "localhost" and not valid_host(host):
            raise ValueError(f"'{host}' is not a valid DNS host name")
        return value

    @property
    def neutralized(self) -> bool:
        if self.neutralize is not None:
            return self.neutralize
        return self.kind in (EnvironmentKind.staging, EnvironmentKind.preview)


class EvidenceConfig(Strict):
    url: str = Field(default="sqlite", description="'sqlite' or a postgresql:// URL")
    artifacts: str = Field(default="web/docs/evidence")
    timezone: Annotated[str, AfterValidator(check_timezone)] = Field(default="+0800")
    compress_after_days: Annotated[int, Field(ge=0, le=90)] = Field(
        default=7, description="gzip log artifacts older than this many days (0: never)"
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        # The same forms odooplane.evidence.engine.resolve_location accepts.
        if value != "sqlite" and not re.match(r"^(sqlite:///|postgres(ql)?(\+psycopg)?://)", value):
            raise ValueError(f"'{value}' is neither 'sqlite' nor a URL starting with postgresql://")
        problem = postgres_url_problem(value) if value.startswith("postgres") else None
        if problem is not None:
            raise ValueError(f"{problem}; write it like postgresql://USER:PASSWORD@HOST:5432/DB")
        return value


GateName = Literal["tests", "security", "migration", "neutralization"]
Level = Literal["low", "medium", "high"]


def _url_path(value: str) -> str:
    if not value.startswith("/") or any(c.isspace() for c in value):
        raise ValueError(f"'{value}' is not a URL path such as /web/login")
    return value


class SecurityGateConfig(Strict):
    bandit_severity: Level = "high"
    bandit_confidence: Level = "high"
    pylint_checks: list[NonEmptyText] | None = Field(
        default=None, description="default: OCA's mandatory pylint-odoo checks"
    )
    audit: bool = True
    require_audit: bool = False
    baseline: NonEmptyText = "gates-baseline.yaml"


class MigrationGateConfig(Strict):
    max_age_hours: Annotated[float, Field(gt=0, le=2160)] = 24.0
    fail_on_warnings: bool = False


class GatesConfig(Strict):
    """What `odooplane gate run` runs and `odooplane promote` demands."""

    required: list[GateName] = Field(default_factory=list)
    timeout_minutes: Annotated[WholeNumber, Field(ge=1, le=600)] = 30
    parallel: Annotated[WholeNumber, Field(ge=1, le=16)] = 2
    security: SecurityGateConfig = Field(default_factory=SecurityGateConfig)
    migration: MigrationGateConfig = Field(default_factory=MigrationGateConfig)


class PromotionConfig(Strict):
    approvers: list[NonEmptyText] = Field(default_factory=list)
    forbid_self_approval: bool = False
    smoke_paths: list[Annotated[str, AfterValidator(_url_path)]] = Field(default_factory=list)


class BackupKeep(Strict):
    daily: Annotated[WholeNumber, Field(ge=0, le=366)] = 7
    weekly: Annotated[WholeNumber, Field(ge=0, le=520)] = 4
    monthly: Annotated[WholeNumber, Field(ge=0, le=1200)] = 3


class BackupsConfig(Strict):
    folder: NonEmptyText | None = Field(
        default=None, description="default: .odooplane/backups; any mounted storage"
    )
    keep: BackupKeep = Field(default_factory=BackupKeep)


class PreviewsConfig(Strict):
    """Pull-request environments (docs/previews.md)."""

    enabled: bool = False
    data: DataPolicy | None = Field(
        default=None,
        description="{copy: staging} (a neutralized base snapshot of it) or demo; "
        "default: staging when a staging environment exists, else demo",
    )
    domain: DomainName | None = None
    # Upper bounds: beyond ten years a duration is a typo, and overflows a date.
    ttl_hours: Annotated[WholeNumber, Field(ge=1, le=87_600)] = 72
    idle_minutes: Annotated[WholeNumber, Field(ge=0, le=5_256_000)] = Field(
        default=30, description="stop a preview nobody requested for this long (0: never)"
    )
    max_running: Annotated[WholeNumber, Field(ge=1, le=500)] = 5
    max_deployed: Annotated[WholeNumber, Field(ge=1, le=5000)] = 20
    closed_grace_minutes: Annotated[WholeNumber, Field(ge=0, le=5_256_000)] = 60
    workers: Annotated[WholeNumber, Field(ge=0, le=16)] = 0
    modules: list[ModuleName] = Field(default_factory=list, description="modules to install")
    backend: str = Field(
        default="local", description="where previews run: local, docker or kubernetes"
    )

    @field_validator("backend")
    @classmethod
    def _backend(cls, value: str) -> str:
        return check_backend(value)


class RoutingConfig(Strict):
    """The front door: the project's Caddy (docs/routing.md)."""

    caddy: str | None = Field(default=None, description="Caddy binary (default: on PATH)")
    listen: Annotated[str, AfterValidator(check_listen_address)] = Field(
        default="", description="address of the hostname listener; '' = all"
    )
    http_port: Annotated[WholeNumber, Field(ge=1, le=65535)] = 80
    https_port: Annotated[WholeNumber, Field(ge=1, le=65535)] = 443
    tls: Literal["auto", "internal", "off"] = "auto"


RUNNER_LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _runner_label(value: str) -> str:
    if not RUNNER_LABEL_RE.match(value):
        raise ValueError(
            f"'{value}' is not a runner label: letters, digits, '.', '_' and '-', such as "
            "self-hosted or odooplane"
        )
    return value


def _cron(value: str | None) -> str | None:
    if value is not None and len(value.split()) != 5:
        raise ValueError(f"'{value}' is not a cron schedule: five fields, such as '*/15 * * * *'")
    return value


def _fork_gates() -> list[GateName]:
    return ["tests", "security"]


class GitHubConfig(Strict):
    """What `odooplane ci init github` writes and how the GitHub integration talks to
    GitHub (docs/github.md)."""

    repository: str | None = Field(
        default=None, description="OWNER/NAME; default: $GITHUB_REPOSITORY (set in workflows)"
    )
    runner_labels: list[Annotated[str, AfterValidator(_runner_label)]] = Field(
        default_factory=lambda: ["self-hosted", "odooplane"],
        min_length=1,
        description="labels of the self-hosted runner on the machine hosting the environments",
    )
    fork_runner_labels: list[Annotated[str, AfterValidator(_runner_label)]] | None = Field(
        default=None,
        description="runner of pull requests from forks (their code runs there); "
        "default: runner_labels",
    )
    fork_gates: list[GateName] = Field(
        default_factory=_fork_gates,
        description="gates run on pull requests from forks (never migration: it copies "
        "production's data)",
    )
    project_dir: NonEmptyText | None = Field(
        default=None,
        description="the project folder on the runner's machine (its .odooplane/ holds the "
        "environments); default: the repository variable ODOOPLANE_PROJECT",
    )
    command: NonEmptyText = Field(default="odooplane", description="odooplane on the runner")
    staging_branch: BranchPattern | None = Field(
        default=None, description="default: the staging environment's branch (main)"
    )
    production_environment: NonEmptyText = Field(
        default="production", description="the GitHub environment promote's job is bound to"
    )
    production_on_release: bool = Field(
        default=False, description="also promote when a release is published"
    )
    preview_gc_schedule: str | None = Field(
        default="*/15 * * * *", description="cron schedule of `preview gc`; null: none"
    )
    show_password: Literal["private", "always", "never"] = Field(
        default="private",
        description="the preview's password in the pull-request comment: only in private "
        "repositories (private), always, never",
    )
    timeout_minutes: Annotated[WholeNumber, Field(ge=5, le=1440)] = 120

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str | None) -> str | None:
        if value is not None and not re.match(
            r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$", value
        ):
            raise ValueError(f"'{value}' is not a repository: write it as OWNER/NAME")
        return value

    @field_validator("preview_gc_schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        return _cron(value)

    @field_validator("project_dir")
    @classmethod
    def _project_dir(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError(f"'{value}' is not an absolute path such as /srv/erp")
        return value


class ProjectRule(Strict):
    """One project-specific neutralization rule: SQL statements or parameter overrides."""

    name: NonEmptyText
    sql: list[str] = Field(default_factory=list)
    params: dict[str, str] = Field(default_factory=dict)


class NeutralizationConfig(Strict):
    cron_allowlist: list[Annotated[str, AfterValidator(check_xml_id)]] = Field(
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
    production_only: list[Annotated[str, AfterValidator(check_env_var_name)]] = Field(
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
    promotion: PromotionConfig = Field(default_factory=PromotionConfig)
    backups: BackupsConfig = Field(default_factory=BackupsConfig)
    previews: PreviewsConfig = Field(default_factory=PreviewsConfig)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    neutralization: NeutralizationConfig = Field(default_factory=NeutralizationConfig)
    secrets: SecretsConfig = Field(default_factory=SecretsConfig)
    kubernetes: KubernetesConfig = Field(default_factory=KubernetesConfig)
    docker: DockerConfig = Field(default_factory=DockerConfig)
    github: GitHubConfig = Field(default_factory=GitHubConfig)

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
        problems = cross_check(self)
        if problems:
            raise ValueError("; ".join(f"{format_key_path(p.path)}: {p.message}" for p in problems))
        return self

    def database_name(self, env: str) -> str:
        found = self.environments.get(env)
        configured = found.database if found is not None else None
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
