"""pydantic's validation errors -> problems that name the key, the value and the fix."""

from __future__ import annotations

import functools
import re
import types
from collections.abc import Mapping
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from odooplane.config.issues import KeyPath, KeyProblem, did_you_mean, format_key_path
from odooplane.config.schema import ProjectConfig
from odooplane.config.yamltree import describe_value

_EXAMPLES: dict[str, str] = {
    "project": "project: my-project",
    "odoo": "odoo: {series: '17.0', source: /opt/odoo}",
    "series": "series: '17.0'",
    "source": "source: /opt/odoo (a path) or source: {git: https://github.com/odoo/odoo.git, "
    "ref: '17.0'}",
    "git": "git: https://github.com/odoo/odoo.git",
    "ref": "ref: '17.0'",
    "kind": "kind: development (or production, staging, preview)",
    "copy": "copy: production",
    "name": "name: my-rule",
    "workers": "workers: 2",
    "backend": "backend: local",
    "branches": "branches: [main, 'feature/*']",
    "data": "data: fresh, data: demo or data: {copy: production}",
    "url": "url: https://erp.example.com",
    "neutralize": "neutralize: true",
    "modules": "modules: [sale, my_addon]",
    "timeout_minutes": "timeout_minutes: 30",
    "ttl_hours": "ttl_hours: 72",
}


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin is Union or origin is types.UnionType:
            members = [_unwrap(m) for m in get_args(annotation) if m is not type(None)]
            # Prefer the member that has keys or items: that is where a path can go.
            for member in members:
                if isinstance(member, type) and issubclass(member, BaseModel):
                    return member
            for member in members:
                if get_origin(member) in (dict, list):
                    return member
            return members[0] if members else annotation
        else:
            return annotation


def _field_key(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if (info.alias or name) == key:
            return info.annotation
    return None


def _schema_at(path: KeyPath) -> Any:
    """The schema type at ``path`` (None where the schema does not go)."""
    current: Any = ProjectConfig
    for part in path:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            if not isinstance(part, str):
                return None
            current = _field_key(current, part)
            if current is None:
                return None
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        elif get_origin(current) is list:
            current = get_args(current)[0]
        else:
            return None
    return _unwrap(current)


def _allowed_keys(path: KeyPath) -> list[str]:
    model = _schema_at(path)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [info.alias or name for name, info in model.model_fields.items()]
    return []


@functools.cache
def _field_homes() -> dict[str, list[str]]:
    """Every key of the schema and the key paths where it belongs."""
    homes: dict[str, list[str]] = {}

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            key = info.alias or name
            where = f"{prefix}.{key}" if prefix else key
            homes.setdefault(key, []).append(where)
            inner = _unwrap(info.annotation)
            if get_origin(inner) is dict:
                inner, where = _unwrap(get_args(inner)[1]), f"{where}.<name>"
            elif get_origin(inner) is list:
                inner, where = _unwrap(get_args(inner)[0]), f"{where}[n]"
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                walk(inner, where)

    walk(ProjectConfig, "")
    return homes


def _translate_loc(loc: tuple[Any, ...], data: Any, error_type: str) -> tuple[KeyPath, bool]:
    """A pydantic error location -> (key path in the data, error is about the key)."""
    tail: tuple[Any, ...] = ()
    if error_type == "missing" and loc:
        loc, tail = loc[:-1], loc[-1:]
    path: list[str | int] = []
    current = data
    for part in loc:
        if part == "[key]":
            return tuple(path), True
        in_mapping = isinstance(current, dict) and isinstance(part, str) and part in current
        in_list = (
            isinstance(current, list)
            and isinstance(part, int)
            and not isinstance(part, bool)
            and 0 <= part < len(current)
        )
        if in_mapping or in_list:
            path.append(part)
            current = current[part]
        # Anything else is a union tag (or a discriminator name): not part of the path.
    return (*path, *tail), False


def _value_at(data: Any, path: KeyPath) -> Any:
    current = data
    for part in path:
        try:
            current = current[part]
        except (KeyError, IndexError, TypeError):
            return None
    return current


def pydantic_problem(
    error: Mapping[str, Any], data: Any, masked: Mapping[KeyPath, str]
) -> KeyProblem:
    kind = str(error["type"])
    path, about_key = _translate_loc(tuple(error["loc"]), data, kind)
    value = _value_at(data, path)
    got = describe_value(value, masked.get(path))
    leaf = path[-1] if path else ""
    example = _EXAMPLES.get(leaf, "") if isinstance(leaf, str) else ""
    fix_example = f"For example: {example}." if example else ""
    msg = str(error.get("msg", ""))
    ctx = error.get("ctx") or {}

    if about_key:
        message = msg.removeprefix("Value error, ").rstrip(".") + "."
        return KeyProblem(path, message, "Rename it.", at="key")
    if kind == "missing":
        return KeyProblem(
            path,
            f"the required key '{leaf}' is missing.",
            f"Add it. {fix_example}".strip(),
            at="parent",
        )
    if kind == "extra_forbidden":
        parent = path[:-1]
        allowed = _allowed_keys(parent)
        name = str(leaf)
        homes = [h for h in _field_homes().get(name, []) if h != format_key_path(path)]
        # A key spelt right but put in the wrong place is misplaced, not misspelt (a
        # top-level `workers:` is not a typo of `docker:`).
        guess = None if homes else did_you_mean(name, allowed)
        if guess:
            return KeyProblem(
                path, f"unknown key '{name}'; did you mean '{guess}'?", "Rename it.", at="key"
            )
        hint = f" '{name}' belongs under {' or '.join(homes)}." if homes else ""
        where = format_key_path(parent) or "the top level"
        return KeyProblem(
            path,
            f"unknown key '{name}'.{hint}",
            f"Remove it or move it; the keys allowed in {where} are: {', '.join(allowed)}.",
            at="key",
        )
    if kind in ("enum", "literal_error"):
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        guess = did_you_mean(str(value), choices) if isinstance(value, str) else None
        message = f"expected one of {', '.join(choices)}, got {got}"
        if leaf == "data":
            message = f"expected fresh, demo or a mapping {{copy: ENVIRONMENT}}, got {got}"
        message += f"; did you mean '{guess}'?" if guess else "."
        return KeyProblem(path, message, fix_example)
    if kind in ("string_type", "str_type"):
        fix = (
            "Quote the value so YAML reads it as text."
            if isinstance(value, (int, float, bool))
            else "Write a single text value."
        )
        return KeyProblem(path, f"expected text, got {got}.", f"{fix} {fix_example}".strip())
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return KeyProblem(path, f"expected a whole number, got {got}.", fix_example)
    if kind in ("float_type", "float_parsing"):
        return KeyProblem(path, f"expected a number, got {got}.", fix_example)
    if kind in ("bool_type", "bool_parsing"):
        return KeyProblem(path, f"expected true or false, got {got}.", fix_example)
    if kind in ("list_type", "tuple_type"):
        return KeyProblem(
            path,
            f"expected a list, got {got}.",
            f"Write a list: [a, b] or one '- item' per line. {fix_example}".strip(),
        )
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return KeyProblem(
            path,
            f"expected a mapping (indented 'key: value' lines), got {got}.",
            fix_example or "Indent the keys under this one.",
        )
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = {
            "greater_than_equal": f"at least {ctx.get('ge')}",
            "greater_than": f"more than {ctx.get('gt')}",
            "less_than_equal": f"at most {ctx.get('le')}",
            "less_than": f"less than {ctx.get('lt')}",
        }[kind]
        return KeyProblem(path, f"expected a number {bound}, got {got}.", fix_example)
    if kind in ("odoo_source", "data_policy"):
        return KeyProblem(path, f"{msg}, got {got}.", fix_example)
    if kind == "value_error":
        return KeyProblem(path, msg.removeprefix("Value error, ") + ".", fix_example)
    return KeyProblem(path, f"{msg} (got {got}).", fix_example)
