"""Checks that span several keys: one production, copies, branch overlap, databases, hosts.

The loader runs them after validation and reports each with its position.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from odooplane.config.issues import KeyPath, KeyProblem, did_you_mean
from odooplane.config.odoo_options import option_problems
from odooplane.config.values import (
    MAX_IDENTIFIER,
    STAGING_DEFAULT_BRANCH,
    CopyPolicy,
    EnvironmentKind,
)
from odooplane.globs import (
    PRECEDENCE_CATCH_ALL,
    PRECEDENCE_LITERAL,
    glob_overlap,
    pattern_precedence,
)

if TYPE_CHECKING:
    from odooplane.config.schema import ProjectConfig


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
    problems += option_problems(config)
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
            guess = did_you_mean(source, names)
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
