"""The gates' settings, from the ``gates:`` section of odooplane.yaml with defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from odooplane.config import ProjectConfig

# OCA's mandatory pylint-odoo checks (the `.pylintrc-mandatory` of OCA's addons
# repository template, series 15 to 18). Checks about publishing on OCA (author,
# licence list, development status, README, maintainers) are left out by default: they
# judge a private repository by OCA's rules, not by its safety.
OCA_MANDATORY_CHECKS: tuple[str, ...] = (
    "anomalous-backslash-in-string",
    "api-one-deprecated",
    "api-one-multi-together",
    "assignment-from-none",
    "attribute-deprecated",
    "attribute-string-redundant",
    "character-not-valid-in-resource-link",
    "class-camelcase",
    "consider-merging-classes-inherited",
    "context-overridden",
    "create-user-wo-reset-password",
    "dangerous-default-value",
    "dangerous-filter-wo-user",
    "dangerous-qweb-replace-wo-priority",
    "dangerous-view-replace-wo-priority",
    "deprecated-data-xml-node",
    "deprecated-openerp-xml-node",
    "duplicate-id-csv",
    "duplicate-key",
    "duplicate-po-message-definition",
    "duplicate-xml-fields",
    "duplicate-xml-record-id",
    "eval-referenced",
    "eval-used",
    "except-pass",
    "external-request-timeout",
    "file-not-used",
    "incoherent-interpreter-exec-perm",
    "invalid-commit",
    "manifest-author-string",
    "manifest-deprecated-key",
    "manifest-required-key",
    "manifest-version-format",
    "method-compute",
    "method-inverse",
    "method-required-super",
    "method-search",
    "missing-newline-extrafiles",
    "missing-return",
    "odoo-addons-relative-import",
    "old-api7-method-defined",
    "openerp-exception-warning",
    "po-msgstr-variables",
    "po-syntax-error",
    "pointless-statement",
    "pointless-string-statement",
    "print-used",
    "redundant-keyword-arg",
    "redundant-modulename-xml",
    "reimported",
    "relative-import",
    "renamed-field-parameter",
    "resource-not-exist",
    "return-in-init",
    "rst-syntax-error",
    "sql-injection",
    "str-format-used",
    "test-folder-imported",
    "too-few-format-args",
    "translation-contains-variable",
    "translation-field",
    "translation-positional-used",
    "translation-required",
    "unnecessary-utf8-coding-comment",
    "unreachable",
    "use-vim-comment",
    "wrong-tabs-instead-of-spaces",
    "xml-attribute-translatable",
    "xml-deprecated-qweb-directive",
    "xml-deprecated-tree-attribute",
    "xml-syntax-error",
)
DEFAULT_GATES: tuple[str, ...] = ("tests", "security", "migration", "neutralization")
SEVERITIES: tuple[str, ...] = ("low", "medium", "high")


@dataclass(frozen=True)
class SecuritySettings:
    # bandit findings at or above both levels fail the gate; lower ones are reported.
    bandit_severity: str = "high"
    bandit_confidence: str = "high"
    pylint_checks: tuple[str, ...] = OCA_MANDATORY_CHECKS
    audit: bool = True
    # On: an audit that could not read advisory data fails the gate instead of being
    # reported skipped beside a pass.
    require_audit: bool = False
    baseline: str = "gates-baseline.yaml"


@dataclass(frozen=True)
class MigrationSettings:
    # A snapshot or backup of production older than this is not used: a fresh copy is.
    max_age_hours: float = 24.0
    fail_on_warnings: bool = False


@dataclass(frozen=True)
class GateSettings:
    required: tuple[str, ...] = ()
    timeout_minutes: int = 30
    # Gates running at once (each may run an Odoo): 2 suits a 2-core machine.
    parallel: int = 2
    security: SecuritySettings = field(default_factory=SecuritySettings)
    migration: MigrationSettings = field(default_factory=MigrationSettings)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def settings_for(config: ProjectConfig) -> GateSettings:
    """The project's gate settings (``gates:`` of odooplane.yaml)."""
    gates = config.gates
    security = gates.security
    migration = gates.migration
    return GateSettings(
        required=tuple(gates.required),
        timeout_minutes=gates.timeout_minutes,
        parallel=gates.parallel,
        security=SecuritySettings(
            bandit_severity=security.bandit_severity,
            bandit_confidence=security.bandit_confidence,
            pylint_checks=tuple(security.pylint_checks)
            if security.pylint_checks is not None
            else OCA_MANDATORY_CHECKS,
            audit=security.audit,
            require_audit=security.require_audit,
            baseline=security.baseline,
        ),
        migration=MigrationSettings(
            max_age_hours=migration.max_age_hours,
            fail_on_warnings=migration.fail_on_warnings,
        ),
    )
