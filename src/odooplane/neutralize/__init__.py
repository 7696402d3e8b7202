"""Neutralization: making a copy of production safe, and proving it (read-only).

Public API:

- :func:`neutralize_database` runs Odoo's own ``neutralize.sql`` files, odooplane's
  rules and the project's, then verifies (raising :class:`NeutralizationFailed`);
- :func:`verify_database` runs the checks alone, in a READ ONLY transaction;
- :func:`verify_environment_files` checks odoo.conf, env files and visible secrets.
"""

from __future__ import annotations

from odooplane.neutralize.apply import neutralize_database, neutralize_with
from odooplane.neutralize.report import (
    Check,
    NeutralizationFailed,
    NeutralizationReport,
    RuleResult,
    VerificationReport,
)
from odooplane.neutralize.settings import NeutralizeSettings, settings_for
from odooplane.neutralize.verify import (
    verify_database,
    verify_database_with,
    verify_environment,
    verify_environment_files,
)

__all__ = [
    "Check",
    "NeutralizationFailed",
    "NeutralizationReport",
    "NeutralizeSettings",
    "RuleResult",
    "VerificationReport",
    "neutralize_database",
    "neutralize_with",
    "settings_for",
    "verify_database",
    "verify_database_with",
    "verify_environment",
    "verify_environment_files",
]
