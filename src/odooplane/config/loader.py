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

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from odooplane.config.checks import cross_check
from odooplane.config.interpolation import Interpolated, interpolate
from odooplane.config.issues import (
    ConfigFileError,
    ConfigIssue,
    KeyPath,
    KeyProblem,
    format_key_path,
)
from odooplane.config.odoo_options import option_warnings
from odooplane.config.schema import ProjectConfig
from odooplane.config.translate import pydantic_problem
from odooplane.config.values import LOADER_CONTEXT, env_file_escapes
from odooplane.config.yamltree import MAX_VALUES, Converter, Positions, TooLarge, yaml_type
from odooplane.envfile import EnvFileError, read_env_file
from odooplane.errors import ConfigError

MAX_CONFIG_BYTES = 1_000_000


@dataclass(frozen=True)
class LoadedConfig:
    """A loaded configuration with what ``config show`` needs besides the values."""

    config: ProjectConfig
    path: Path
    # Key paths whose value holds a secret from an env file, shown with it masked.
    masked: Mapping[KeyPath, str]
    # Each environment's env file, resolved (present or not).
    env_files: Mapping[str, Path]
    # Allowed but worth saying (odoo.conf options that weaken an environment).
    warnings: tuple[ConfigIssue, ...] = ()


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
        self.positions = Positions()
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
        warnings = self._issues(option_warnings(config, self.masked))
        return LoadedConfig(
            config, self.path, dict(self.masked), dict(self.env_files), tuple(warnings)
        )

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
                f"not {yaml_type(_plain_kind(tree))}.",
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
        converter = Converter()
        converter.positions.values[()] = (1, 1)
        try:
            data = converter.convert(tree, ())
        except TooLarge:
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
        result: Interpolated,
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
            return ProjectConfig.model_validate(data, context={LOADER_CONTEXT: True})
        except ValidationError as exc:
            blocked = [p.path for p in self.problems]
            reported: set[KeyPath] = set()
            for error in exc.errors():
                problem = pydantic_problem(error, data, self.masked)
                if problem.path in reported or any(problem.path[: len(b)] == b for b in blocked):
                    continue
                reported.add(problem.path)
                self.problems.append(problem)
            return None

    # -- reporting -----------------------------------------------------------

    def _error(self) -> ConfigFileError:
        return ConfigFileError(self.file, self._issues(self.problems))

    def _issues(self, problems: list[KeyProblem]) -> list[ConfigIssue]:
        issues: list[ConfigIssue] = []
        for problem in problems:
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
        return issues


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
