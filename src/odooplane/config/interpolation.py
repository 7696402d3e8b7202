"""``${VAR}`` interpolation in string values, with secrets masked for display."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_VAR_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MASK = "****"


@dataclass
class Interpolated:
    value: str
    masked: str | None
    missing: list[str]
    malformed: str | None


def interpolate(text: str, lookup: Callable[[str], tuple[str, bool] | None]) -> Interpolated:
    """Replace ``${NAME}`` and ``${NAME:-default}``; ``$${`` is a literal ``${``.

    ``lookup`` returns the value and whether it is a secret (came from an env file);
    the masked rendering replaces secret values with ``****``.
    """
    out: list[str] = []
    masked: list[str] = []
    missing: list[str] = []
    secret = False
    i = 0
    while i < len(text):
        if text.startswith("$${", i):
            out.append("${")
            masked.append("${")
            i += 3
            continue
        if text.startswith("${", i):
            end = text.find("}", i + 2)
            if end < 0:
                return Interpolated(text, None, [], "'${' is never closed with '}'")
            inner = text[i + 2 : end]
            name, sep, default = inner.partition(":-")
            if not _VAR_NAME_RE.fullmatch(name):
                return Interpolated(text, None, [], f"'${{{inner}}}' is not a variable reference")
            found = lookup(name)
            if found is None:
                if sep:
                    out.append(default)
                    masked.append(default)
                else:
                    missing.append(name)
            else:
                value, is_secret = found
                out.append(value)
                masked.append(MASK if is_secret else value)
                secret = secret or is_secret
            i = end + 1
            continue
        out.append(text[i])
        masked.append(text[i])
        i += 1
    return Interpolated("".join(out), "".join(masked) if secret else None, missing, None)
