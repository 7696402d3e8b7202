"""Env files: the per-environment ``KEY=VALUE`` files holding secrets.

The syntax is the common dotenv subset that Docker Compose, systemd (mostly) and
python-dotenv agree on:

- blank lines and lines starting with ``#`` are ignored;
- ``KEY=VALUE`` or ``export KEY=VALUE``; ``KEY`` is a shell variable name;
- an unquoted value is trimmed and ends at `` #`` (a comment after whitespace);
- ``'single quoted'`` values are taken literally and may span lines;
- ``"double quoted"`` values understand ``\\n``, ``\\t``, ``\\r``, ``\\"``, ``\\\\``
  and ``\\$`` and may span lines (PEM keys);
- values are never expanded: ``$OTHER`` stays as written, so a secret holding a
  dollar sign is read back exactly.

Errors never quote a value: the line might be a secret pasted without its key.

A key given twice is an error rather than "last one wins": with secrets, a silent
override is how production credentials end up somewhere they should not.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from odooplane.errors import ConfigError

KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}
# An env file is a handful of lines; anything this large is the wrong file.
MAX_ENV_FILE_BYTES = 1_000_000


class EnvFileError(ConfigError):
    """A syntax error in an env file; ``path`` and ``line`` say where."""

    def __init__(self, path: Path, line: int, problem: str, *, fix: str) -> None:
        super().__init__(f"{path}:{line}: {problem} {fix}")
        self.path = path
        self.line = line
        self.problem = problem
        self.fix = fix


def read_env_file(path: Path) -> dict[str, str]:
    """Parse the env file at ``path`` into an ordered ``{KEY: value}`` mapping.

    Only a regular file is read, and never more than :data:`MAX_ENV_FILE_BYTES` of it: a
    device (``/dev/zero``), a pipe or a socket named by mistake is a sentence, not a read
    that never ends.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: the env file does not exist.",
            hint="Create it (KEY=VALUE lines) or fix the env_file path in odooplane.yaml.",
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the env file ({exc.strerror}).") from None
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError(
            f"{path}: is a folder, not an env file.",
            hint="Point env_file at a file of KEY=VALUE lines.",
        )
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(
            f"{path}: is not a regular file (a device, pipe or socket), so not an env file.",
            hint="Point env_file at a file of KEY=VALUE lines.",
        )
    try:
        # O_NONBLOCK: if the path was swapped for a pipe since stat(), open() must not hang.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise ConfigError(f"{path}: is not a regular file, so not an env file.")
            raw = fh.read(MAX_ENV_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the env file ({exc.strerror}).") from None
    if len(raw) > MAX_ENV_FILE_BYTES:
        raise EnvFileError(
            path,
            1,
            f"the env file is larger than {MAX_ENV_FILE_BYTES} bytes, more than an env file "
            "should ever be.",
            fix="Check that env_file points at the right file.",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise EnvFileError(
            path, line, "the env file is not UTF-8 text.", fix="Save it as UTF-8."
        ) from None
    return parse_env_text(text, path)


def parse_env_text(text: str, path: Path) -> dict[str, str]:
    """Parse env-file ``text``; ``path`` is only used to name the file in errors."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    values: dict[str, str] = {}
    first_seen: dict[str, int] = {}
    index = 0
    while index < len(lines):
        lineno = index + 1
        stripped = lines[index].strip()
        index += 1
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export ") or stripped.startswith("export\t"):
            stripped = stripped[len("export") :].lstrip()
        key, sep, rest = stripped.partition("=")
        key = key.rstrip()
        if not sep:
            raise EnvFileError(
                path,
                lineno,
                "this line is not a KEY=VALUE line.",
                fix="Write it as KEY=VALUE, or start the line with # to make it a comment.",
            )
        if not KEY_RE.fullmatch(key):
            raise EnvFileError(
                path,
                lineno,
                f"'{_short(key)}' is not a valid variable name.",
                fix="Use letters, digits and '_', not starting with a digit (e.g. DB_PASSWORD).",
            )
        rest = rest.lstrip()
        if rest[:1] in ("'", '"'):
            value, index = _quoted(rest, lines, index, path, lineno)
        else:
            value = _unquoted(rest)
        if key in first_seen:
            raise EnvFileError(
                path,
                lineno,
                f"{key} is set twice (first on line {first_seen[key]}).",
                fix="Keep one of the two lines.",
            )
        first_seen[key] = lineno
        values[key] = value
    return values


def _unquoted(rest: str) -> str:
    comment = re.search(r"\s#", rest)
    if comment:
        rest = rest[: comment.start()]
    return rest.strip()


def _quoted(rest: str, lines: list[str], index: int, path: Path, lineno: int) -> tuple[str, int]:
    """Read a quoted value starting at ``rest`` (may continue on following lines).

    Returns the value and the index of the next unread line.
    """
    quote = rest[0]
    body = rest[1:]
    out: list[str] = []
    while True:
        pos = 0
        while pos < len(body):
            char = body[pos]
            if char == quote:
                tail = body[pos + 1 :].strip()
                if tail and not tail.startswith("#"):
                    raise EnvFileError(
                        path,
                        lineno,
                        "there is text after the closing quote.",
                        fix="Put everything inside the quotes, or start a comment with ' #'.",
                    )
                return "".join(out), index
            if quote == '"' and char == "\\" and pos + 1 < len(body):
                nxt = body[pos + 1]
                out.append(_ESCAPES.get(nxt, "\\" + nxt))
                pos += 2
                continue
            out.append(char)
            pos += 1
        if index >= len(lines):
            raise EnvFileError(
                path,
                lineno,
                f"the value opened with {quote} is never closed.",
                fix=f"Add the closing {quote}.",
            )
        out.append("\n")
        body = lines[index]
        index += 1


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
