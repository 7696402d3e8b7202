"""The odooplane.yaml schema and its loader.

The schema is strict: unknown keys are errors, and every error the loader reports
names ``file:line:column``, the key path, what was expected and how to fix it. The
parts, in the order a load goes through them:

- :mod:`~odooplane.config.values`: names, patterns and the small value types;
- :mod:`~odooplane.config.schema`: the pydantic models;
- :mod:`~odooplane.config.yamltree`: ruamel's tree -> plain data + positions;
- :mod:`~odooplane.config.interpolation`: ``${VAR}`` in string values;
- :mod:`~odooplane.config.translate`: pydantic's errors -> problems with a fix;
- :mod:`~odooplane.config.checks`: checks that span several keys;
- :mod:`~odooplane.config.issues`: key paths, problems, :class:`ConfigFileError`;
- :mod:`~odooplane.config.loader`: the loader running those stages;
- :mod:`~odooplane.config.show`: ``config show`` (secrets masked).
"""

from odooplane.config.checks import cross_check
from odooplane.config.interpolation import MASK, interpolate
from odooplane.config.issues import (
    ConfigFileError,
    ConfigIssue,
    KeyPath,
    KeyProblem,
    format_key_path,
)
from odooplane.config.loader import (
    MAX_CONFIG_BYTES,
    LoadedConfig,
    load_config,
    load_config_details,
    load_config_text,
)
from odooplane.config.schema import (
    DatabaseConfig,
    EnvironmentConfig,
    EvidenceConfig,
    GatesConfig,
    GitHubConfig,
    GitSource,
    KubernetesConfig,
    NeutralizationConfig,
    OdooConfig,
    OdooSource,
    PreviewsConfig,
    ProjectConfig,
    ProjectRule,
    ResourcesConfig,
    RoutingConfig,
    SecretsConfig,
    branch_patterns,
)
from odooplane.config.show import environment_summary, mask_url_password, redacted_dump
from odooplane.config.values import (
    DNS_LABEL_RE,
    ENV_VAR_RE,
    MAX_IDENTIFIER,
    MODULE_NAME_RE,
    OPTION_NAME_RE,
    SAFE_DB_RE,
    SAFE_NAME_RE,
    SERIES_RE,
    STAGING_DEFAULT_BRANCH,
    CopyPolicy,
    DataPolicy,
    EnvironmentKind,
    Strict,
    env_file_escapes,
)
from odooplane.config.yamltree import MAX_VALUES

__all__ = [
    "DNS_LABEL_RE",
    "ENV_VAR_RE",
    "MASK",
    "MAX_CONFIG_BYTES",
    "MAX_IDENTIFIER",
    "MAX_VALUES",
    "MODULE_NAME_RE",
    "OPTION_NAME_RE",
    "SAFE_DB_RE",
    "SAFE_NAME_RE",
    "SERIES_RE",
    "STAGING_DEFAULT_BRANCH",
    "ConfigFileError",
    "ConfigIssue",
    "CopyPolicy",
    "DataPolicy",
    "DatabaseConfig",
    "EnvironmentConfig",
    "EnvironmentKind",
    "EvidenceConfig",
    "GatesConfig",
    "GitHubConfig",
    "GitSource",
    "KeyPath",
    "KeyProblem",
    "KubernetesConfig",
    "LoadedConfig",
    "NeutralizationConfig",
    "OdooConfig",
    "OdooSource",
    "PreviewsConfig",
    "ProjectConfig",
    "ProjectRule",
    "ResourcesConfig",
    "RoutingConfig",
    "SecretsConfig",
    "Strict",
    "branch_patterns",
    "cross_check",
    "env_file_escapes",
    "environment_summary",
    "format_key_path",
    "interpolate",
    "load_config",
    "load_config_details",
    "load_config_text",
    "mask_url_password",
    "redacted_dump",
]
