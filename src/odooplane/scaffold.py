"""``odooplane init``: a commented odooplane.yaml for an existing addons repository.

It looks at what is there (addon folders, git submodules, manifest versions, an Odoo
source tree checked in as a submodule) and proposes the Odoo.sh layout: a production
environment fed by promotion, staging following ``main``, and development for every
other branch. The file it writes is validated with the real loader before it lands.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odooplane.config import SAFE_NAME_RE, SERIES_RE, branch_patterns, load_config_text
from odooplane.errors import ConfigError, NotFoundError, RefusedError, UsageError
from odooplane.fsutil import write_atomic
from odooplane.odoo.manifest import (
    addons_paths_of,
    find_addon_dirs,
    manifest_path,
    read_manifest,
    series_from_version,
)
from odooplane.odoo.series import DEFAULT_SERIES
from odooplane.paths import CONFIG_FILENAME, STATE_DIRNAME

ODOO_GIT_URL = "https://github.com/odoo/odoo.git"
# Leaves room for "_development" in database names within PostgreSQL's 63 characters.
MAX_PROJECT_NAME = 40
_IGNORE_LINES = {f"{p}{STATE_DIRNAME}{s}" for p in ("", "/") for s in ("", "/", "/*", "/**")}
_URL_RE = re.compile(r"^([a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)


@dataclass(frozen=True)
class FoundAddon:
    name: str
    path: str  # relative to the project root, POSIX separators
    version: str
    series: str | None


@dataclass
class InitResult:
    """What ``init`` found and wrote."""

    root: Path
    config_path: Path
    project: str
    series: str
    series_reason: str
    addons: list[FoundAddon]
    addons_paths: list[str]
    submodules: list[str]
    odoo_source: str | dict[str, str]
    environments: dict[str, dict[str, Any]]
    requirements: list[str]
    gitignore: str  # "created", "updated" or "unchanged"
    overwritten: bool
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "config_path": str(self.config_path),
            "project": self.project,
            "series": self.series,
            "series_reason": self.series_reason,
            "addons": [a.__dict__ for a in self.addons],
            "addons_paths": self.addons_paths,
            "submodules": self.submodules,
            "odoo_source": self.odoo_source,
            "environments": self.environments,
            "requirements": self.requirements,
            "gitignore": self.gitignore,
            "overwritten": self.overwritten,
            "notes": self.notes,
        }


def project_name_from(folder_name: str) -> str:
    """A safe project name from a folder name: ``My Addons!`` -> ``my-addons``."""
    name = re.sub(r"[^a-z0-9_-]+", "-", folder_name.lower())
    name = re.sub(r"-{2,}", "-", name)
    name = re.sub(r"^[^a-z]+", "", name)
    name = name[:MAX_PROJECT_NAME].rstrip("-_")
    return name or "odoo-project"


def init_project(
    root: Path,
    *,
    force: bool = False,
    odoo_source: str | None = None,
    name: str | None = None,
) -> InitResult:
    """Write ``<root>/odooplane.yaml`` (and ``.odooplane/`` in ``.gitignore``).

    ``odoo_source`` is a git URL or a path; a relative path is relative to ``root``,
    as it will be in the file. Refuses to replace an existing file unless ``force``.
    """
    if not root.is_dir():
        raise NotFoundError(f"{root} is not a folder.", hint="Run init in your repository.")
    root = root.resolve()
    config_path = root / CONFIG_FILENAME
    existed = config_path.exists()
    if existed and not force:
        raise RefusedError(
            f"{config_path} already exists; init does not overwrite it.",
            hint="Pass --force to replace it, or edit it and run `odooplane config check`.",
        )
    if name is not None and not SAFE_NAME_RE.match(name):
        raise UsageError(
            f"'{name}' is not a safe project name: lowercase letters, digits, '_' and '-', "
            "starting with a letter, at most 63 characters.",
            hint=f"For example --name {project_name_from(name)}.",
        )
    notes: list[str] = []
    project = name or project_name_from(root.name)
    if name is None and project != root.name:
        notes.append(f"Project name '{project}' derived from the folder name '{root.name}'.")

    if not _inside_git(root):
        notes.append(
            f"{root} is not in a git repository; environments follow branches, so run "
            "`git init` before creating any."
        )

    odoo_trees: set[Path] = set()
    addons, broken = _find_addons(root, odoo_trees)
    for folder, problem in broken:
        notes.append(f"Could not read the manifest of {_rel(folder, root)}: {problem}")
    submodules = _submodules(root, notes)

    series, series_reason = _vote_series(addons, notes)
    source_value, source_series = _odoo_source(root, odoo_source, odoo_trees, series, notes)
    if source_series is not None:
        if addons and source_series != series:
            notes.append(
                f"The Odoo source is {source_series} but the manifests suggest {series}; "
                f"using {source_series}. Check the addons' versions."
            )
        series, series_reason = source_series, "read from the Odoo source's odoo/release.py"

    addon_dirs = [root / a.path for a in addons]
    addons_paths = [_rel(p, root) for p in addons_paths_of(addon_dirs)]
    if not addons:
        notes.append(
            "No addon folder (a folder holding __manifest__.py) was found; add them and "
            "list their parent folders under odoo.addons_paths."
        )
    elif "." in addons_paths:
        notes.append(
            "Some addons sit at the top of the repository, so its root is on the addons "
            "path: every top-level folder with a manifest is then loaded by Odoo."
        )
    requirements = ["requirements.txt"] if (root / "requirements.txt").is_file() else []

    text = render_config(
        project=project,
        series=series,
        series_reason=series_reason,
        source=source_value,
        addons_paths=addons_paths,
        requirements=requirements,
    )
    # The file must load with the real loader: a broken scaffold would be our bug.
    config = load_config_text(text, config_path, environ={})
    environments = {
        env: {
            "kind": settings.kind.value,
            "branches": branch_patterns(config, env),
            "data": settings.data
            if isinstance(settings.data, str)
            else {"copy": settings.data.copy_},
            "database": config.database_name(env),
        }
        for env, settings in config.environments.items()
    }
    write_atomic(config_path, text)
    gitignore = _ensure_gitignored(root)
    return InitResult(
        root=root,
        config_path=config_path,
        project=project,
        series=series,
        series_reason=series_reason,
        addons=addons,
        addons_paths=addons_paths,
        submodules=submodules,
        odoo_source=source_value,
        environments=environments,
        requirements=requirements,
        gitignore=gitignore,
        overwritten=existed,
        notes=notes,
    )


# -- discovery ------------------------------------------------------------------------


def _rel(path: Path, root: Path) -> str:
    rel = os.path.relpath(path, root)
    return Path(rel).as_posix()


def _inside_git(root: Path) -> bool:
    return any((folder / ".git").exists() for folder in (root, *root.parents))


def _is_odoo_tree(folder: Path) -> bool:
    return (folder / "odoo-bin").is_file() and (folder / "odoo" / "release.py").is_file()


def _find_addons(
    root: Path, odoo_trees: set[Path]
) -> tuple[list[FoundAddon], list[tuple[Path, str]]]:
    """The project's addons; Odoo's own (a source tree checked in) go to ``odoo_trees``."""
    addons: list[FoundAddon] = []
    broken: list[tuple[Path, str]] = []
    tree_cache: dict[Path, bool] = {}
    for folder in find_addon_dirs(root):
        tree = _enclosing_odoo_tree(folder, root, tree_cache)
        if tree is not None:
            odoo_trees.add(tree)
            continue
        version = ""
        path = manifest_path(folder)
        if path is not None:
            try:
                version = str(read_manifest(path).get("version", ""))
            except ConfigError as exc:
                broken.append((folder, exc.message))
        addons.append(
            FoundAddon(
                name=folder.name,
                path=_rel(folder, root),
                version=version,
                series=series_from_version(version) if version else None,
            )
        )
    return addons, broken


def _enclosing_odoo_tree(folder: Path, root: Path, cache: dict[Path, bool]) -> Path | None:
    for ancestor in folder.parents:
        if ancestor == root or root not in ancestor.parents:
            return None
        if ancestor not in cache:
            cache[ancestor] = _is_odoo_tree(ancestor)
        if cache[ancestor]:
            return ancestor
    return None


def _submodules(root: Path, notes: list[str]) -> list[str]:
    """Paths of the git submodules declared in ``.gitmodules``."""
    gitmodules = root / ".gitmodules"
    if not gitmodules.is_file():
        return []
    try:
        text = gitmodules.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        notes.append(f"Could not read {gitmodules}: {exc}.")
        return []
    paths = re.findall(r"^\s*path\s*=\s*(.+?)\s*$", text, flags=re.MULTILINE)
    for sub in paths:
        folder = root / sub
        if not folder.is_dir() or not any(folder.iterdir()):
            notes.append(
                f"The submodule {sub} is not checked out, so its addons were not found; "
                "run `git submodule update --init` and init again with --force."
            )
    return paths


def _vote_series(addons: list[FoundAddon], notes: list[str]) -> tuple[str, str]:
    votes = Counter(a.series for a in addons if a.series and SERIES_RE.match(a.series))
    if not votes:
        notes.append(
            f"No manifest version names an Odoo series (like 17.0.1.0.0); assumed "
            f"{DEFAULT_SERIES}. Edit odoo.series if that is wrong."
        )
        return DEFAULT_SERIES, "default: no manifest version names a series"
    # Most votes wins; a tie goes to the newer series.
    series, count = max(votes.items(), key=lambda item: (item[1], float(item[0])))
    total = sum(votes.values())
    if len(votes) > 1:
        spread = ", ".join(f"{s} ({n})" for s, n in sorted(votes.items()))
        notes.append(f"Manifests name several series: {spread}; picked {series}.")
    return series, f"{count} of {total} manifest versions say {series}"


def _odoo_source(
    root: Path,
    given: str | None,
    odoo_trees: set[Path],
    series: str,
    notes: list[str],
) -> tuple[str | dict[str, str], str | None]:
    """The value for ``odoo.source`` and the series read from it (when local)."""
    if given is None:
        if odoo_trees:
            tree = sorted(odoo_trees)[0]
            notes.append(f"Using the Odoo source found in the repository: {_rel(tree, root)}.")
            return _rel(tree, root), _release_series(tree, notes)
        notes.append(
            f"No --odoo-source given: odoo.source clones {ODOO_GIT_URL} at {series} on first "
            "use; point it at a local checkout to skip the clone."
        )
        return {"git": ODOO_GIT_URL, "ref": series}, None
    given = given.strip()
    if not given:
        raise UsageError("--odoo-source is empty; give a path or a git URL.")
    local = Path(given).expanduser()
    if not local.is_absolute():
        local = root / local
    if _URL_RE.match(given) or (given.endswith(".git") and not local.exists()):
        return {"git": given, "ref": series}, None
    if not local.exists():
        notes.append(f"The Odoo source {local} does not exist yet.")
        return given, None
    resolved = local.resolve()
    value = _rel(resolved, root) if root in resolved.parents or resolved == root else str(resolved)
    if not _is_odoo_tree(resolved):
        notes.append(f"{resolved} does not look like an Odoo source tree (no odoo-bin).")
        return value, None
    return value, _release_series(resolved, notes)


def _release_series(tree: Path, notes: list[str]) -> str | None:
    from odooplane.odoo.source import read_series

    try:
        found = read_series(tree / "odoo" / "release.py")
    except ConfigError as exc:
        notes.append(exc.message)
        return None
    if not SERIES_RE.match(found):
        notes.append(f"The Odoo source is {found}, which odooplane does not support.")
        return None
    return found


def _ensure_gitignored(root: Path) -> str:
    path = root / ".gitignore"
    entry = f"{STATE_DIRNAME}/"
    block = f"# odooplane's local state: databases, runtimes, logs (never commit it)\n{entry}\n"
    if not path.exists():
        write_atomic(path, block)
        return "created"
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    if any(line.strip() in _IGNORE_LINES for line in text.splitlines()):
        return "unchanged"
    separator = "" if not text or text.endswith("\n") else "\n"
    blank = "\n" if text.strip() else ""
    write_atomic(path, (text + separator + blank + block).encode("utf-8", "surrogateescape"))
    return "updated"


# -- the file ---------------------------------------------------------------------------

_PLAIN_RE = re.compile(r"^[A-Za-z0-9_/][A-Za-z0-9_./-]*$")
_YAML_SPECIAL = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


def yaml_scalar(value: str) -> str:
    """``value`` as a YAML scalar that reads back as this exact text."""
    if (
        _PLAIN_RE.match(value)
        and value.lower() not in _YAML_SPECIAL
        and not re.fullmatch(r"[-+]?[0-9_.]+([eE][-+]?[0-9]+)?|0[xob].*", value)
    ):
        return value
    return json.dumps(value)


def _yaml_list(items: list[str], indent: str) -> str:
    if not items:
        return " []"
    return "".join(f"\n{indent}- {yaml_scalar(item)}" for item in items)


def render_config(
    *,
    project: str,
    series: str,
    series_reason: str,
    source: str | dict[str, str],
    addons_paths: list[str],
    requirements: list[str],
) -> str:
    """The commented odooplane.yaml that ``init`` writes."""
    if isinstance(source, dict):
        source_text = (
            f"\n    git: {yaml_scalar(source['git'])}\n    ref: {json.dumps(source['ref'])}"
        )
    else:
        source_text = f" {yaml_scalar(source)}"
    return f"""\
# odooplane.yaml: how odooplane runs the Odoo addons of this repository.
# Every key is described in docs/configuration.md; check this file with
# `odooplane config check` and see the result with `odooplane config show`.
# String values may use ${{VAR}}: inside an environment it is read from that
# environment's env_file first, then from the process environment ($${{ is a literal).

# Short name of the project: lowercase letters, digits, '_' and '-'.
# Database names derive from it: <project>_<environment>.
project: {yaml_scalar(project)}

odoo:
  # The Odoo series every addon targets ({series_reason}).
  series: {json.dumps(series)}
  # Odoo's source: a local path (relative to this file or absolute), or
  # {{git: URL, ref: REF}}, shallow-cloned once into the user cache and shared.
  source:{source_text}
  # Folders holding addon folders, relative to this file. Found by `odooplane init`;
  # git submodules count once they are checked out.
  addons_paths:{_yaml_list(addons_paths, "    ")}
  # pip requirements files installed into the Odoo runtime besides Odoo's own.
  requirements:{_yaml_list(requirements, "    ")}

# PostgreSQL: 'embedded' runs odooplane's own cluster under .odooplane/pg;
# or a postgresql://user:password@host:5432 URL for an external server.
database:
  server: embedded

# Environments: each is one running Odoo with its own database and filestore.
# kind: production | staging | development | preview.
# branches: glob patterns over branch names. A literal name (main) wins over a glob
# (feature/*), and a glob wins over the catch-all '*'; patterns of the same kind in
# two environments must not match a common branch.
# data: fresh | demo | {{copy: ENVIRONMENT}} (how a new database is filled).
# Optional per environment: url, env_file (KEY=VALUE secrets), database, neutralize,
# workers, modules (to install), odoo_options (extra odoo.conf settings).
environments:
  production:
    kind: production
    # Fed by promoting a build that passed its gates on staging, not by a branch.
    data: fresh
    workers: 2
    # url: https://erp.example.com
    # env_file: /etc/odooplane/production.env
  staging:
    kind: staging
    branches: [main]
    # A neutralized copy of production: mails, crons and payments stay inside.
    data: {{copy: production}}
    # url: https://staging.example.com
  development:
    kind: development
    # Every other branch: a fresh database with demo data.
    branches: ["*"]
    data: demo

# Evidence: the records of builds, deployments, migrations and gate runs.
# 'sqlite' keeps them in .odooplane/; a postgresql:// URL shares them.
evidence:
  url: sqlite

# Gates: checks a build must pass on staging before promotion
# (tests, security, migration, neutralization); `odooplane gate run`.
gates:
  required: []
  timeout_minutes: 30

# Previews: one environment per pull request, named pr-<number>-<slug>, a copy of
# a neutralized snapshot of staging (or demo data), stopped when idle (docs/previews.md).
previews:
  enabled: false
  # domain: previews.example.com   # a DNS wildcard *.previews.example.com -> this machine
  ttl_hours: 72
  idle_minutes: 30
  max_running: 5

# Neutralization of copies of production (staging, previews): Odoo's own
# neutralize.sql, then odooplane's rules, then a verification.
neutralization:
  # XML ids of crons left active in neutralized databases.
  cron_allowlist: [base.autovacuum_job]
  reset_passwords: false

# Secrets: env-file keys only production may see; any other environment refuses
# to start if its env file holds one of them.
secrets:
  production_only: []
"""
