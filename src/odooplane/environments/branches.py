"""Which environment a branch feeds, and the names of pull-request environments.

Patterns are shell-style globs (``feature/*``, ``16.0-*``, ``*``) read from the config
through :func:`odooplane.config.branch_patterns` (staging defaults to ``main``).
Production is fed only by promotion unless it lists branches itself. When several
patterns match, the config's precedence decides (:func:`odooplane.globs.pattern_precedence`):
a literal branch name beats a glob, a glob beats the catch-all ``*``. ``config check``
refuses two overlapping patterns of the same precedence in different environments, so
a tie here means a configuration that skipped the loader; it is reported, not guessed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from odooplane.config import ProjectConfig, branch_patterns
from odooplane.errors import ConfigError, UsageError
from odooplane.globs import PRECEDENCE_LITERAL, pattern_matches, pattern_precedence
from odooplane.results import Result

MAX_DNS_LABEL = 63


@dataclass(frozen=True)
class BranchMatch(Result):
    branch: str
    environment: str | None
    kind: str | None
    pattern: str | None
    reason: str


def environment_for_branch(config: ProjectConfig, branch: str) -> BranchMatch:
    """The environment ``branch`` feeds (``environment`` is None when none does)."""
    if not branch or branch.startswith("-") or any(c.isspace() for c in branch):
        raise UsageError(f"'{branch}' is not a branch name.")
    candidates: list[tuple[int, str, str]] = []
    for env_name in config.environments:
        for pattern in branch_patterns(config, env_name):
            if pattern_matches(pattern, branch):
                candidates.append((pattern_precedence(pattern), env_name, pattern))
    if not candidates:
        return BranchMatch(
            branch=branch,
            environment=None,
            kind=None,
            pattern=None,
            reason="no environment's branch patterns match it",
        )
    candidates.sort(key=lambda item: item[0], reverse=True)
    best = candidates[0]
    rivals = [c for c in candidates[1:] if c[0] == best[0] and c[1] != best[1]]
    if rivals:
        names = ", ".join(f"'{c[1]}' ({c[2]})" for c in [best, *rivals])
        raise ConfigError(
            f"Branch '{branch}' matches equally specific patterns of several environments: "
            f"{names}.",
            hint="Make one pattern more specific in odooplane.yaml (environments.*.branches).",
        )
    env = config.environments[best[1]]
    reason = (
        f"matches the branch name '{best[2]}'"
        if best[0] == PRECEDENCE_LITERAL
        else f"matches the pattern '{best[2]}'"
    )
    return BranchMatch(
        branch=branch,
        environment=best[1],
        kind=env.kind.value,
        pattern=best[2],
        reason=reason,
    )


def slugify(text: str) -> str:
    """Lowercase ASCII letters, digits and single hyphens, no hyphen at either end."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def preview_name(pr_number: int, title: str) -> str:
    """``pr-<number>-<slug of the title>``: a DNS label (at most 63 characters).

    The same number and title always give the same name. The number is never cut, so
    two pull requests never share a name, whatever their titles.
    """
    if isinstance(pr_number, bool) or not isinstance(pr_number, int) or pr_number < 1:
        raise UsageError(f"'{pr_number}' is not a pull-request number (a positive integer).")
    prefix = f"pr-{pr_number}"
    if len(prefix) > MAX_DNS_LABEL:
        raise UsageError(f"Pull-request number {pr_number} is too long for a DNS label.")
    slug = slugify(title)
    room = MAX_DNS_LABEL - len(prefix) - 1
    if room <= 0 or not slug:
        return prefix
    slug = slug[:room].rstrip("-")
    return f"{prefix}-{slug}" if slug else prefix
