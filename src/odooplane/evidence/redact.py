"""Keeping secrets out of evidence: every record and every log line passes through here.

Two kinds of secret are removed before anything is written (store, spool, artifact):

- *known values*: the values of every environment's env file, the passwords inside the
  configured database and evidence URLs, and the values of secret-looking variables of
  the process environment. They are replaced wherever they appear.
- *secret-looking keys*: ``password=...``, ``"api_key": "..."``, ``--db_password X``,
  ``Authorization: Bearer ...``, ``postgresql://user:PASSWORD@host``: the value next to
  the key is replaced even when odooplane never saw it before.

Very short values cannot be redacted without mangling every log (an env file holding
``WORKERS=2`` must not turn each "2" into a mask): known values shorter than
:data:`MIN_VALUE_LENGTH` are ignored unless their key looks secret, and then the bar is
:data:`MIN_SECRET_LENGTH`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

MASK = "***"
MIN_VALUE_LENGTH = 6
MIN_SECRET_LENGTH = 3

# Parts of a key name that mark its value as secret. "auth", "pass" and "pwd" alone are
# not: they would catch "author" (every build record has one), "passed: 12" in test
# output and the shell's PWD.
_SECRET_WORDS = (
    r"passw(?:or)?d|passphrase|secret|token|api_?key|apikey|private_?key|"
    r"access_?key|signing_?key|secret_?key|credentials?|authorization|auth_?token|"
    r"session_?(?:id|key)|cookie|dsn|webhook_?url|client_?secret|otp_?seed"
)
SECRET_KEY_RE = re.compile(rf"(?:{_SECRET_WORDS})", re.IGNORECASE)
# Keys containing a secret word that are known to hold nothing secret.
_NOT_SECRET_KEYS = frozenset({"password_reset", "reset_passwords", "token_count"})

_KEY = rf"[A-Za-z0-9_.\-]*(?:{_SECRET_WORDS})[A-Za-z0-9_.\-]*"
# key=value, key: value, "key": "value", key = 'value' (the value ends at a quote,
# whitespace or a separator; quoted values may hold spaces).
_ASSIGNMENT_RE = re.compile(
    rf"""(?P<key>["']?{_KEY}["']?)(?P<sep>\s*(?:=|:)\s*)"""
    r"""(?:(?P<q>["'])(?P<qval>(?:(?!(?P=q)).)*)(?P=q)|(?P<val>[^\s"',;&}\]]+))""",
    re.IGNORECASE,
)
# --db_password VALUE / --api-key VALUE on command lines.
_FLAG_RE = re.compile(rf"(?P<flag>--{_KEY})(?P<sep>\s+)(?P<val>(?!-)[^\s]+)", re.IGNORECASE)
_BEARER_RE = re.compile(r"\b(?P<scheme>Bearer|Basic|Token)\s+(?P<val>[A-Za-z0-9._~+/=\-]{8,})")
_URL_CREDENTIALS_RE = re.compile(
    r"(?P<head>\b[a-z][a-z0-9+.\-]*://[^:/\s@]*:)(?P<val>[^@\s/]+)(?=@)"
)


def key_looks_secret(key: str) -> bool:
    lowered = key.lower()
    if lowered in _NOT_SECRET_KEYS:
        return False
    return bool(SECRET_KEY_RE.search(lowered))


class Redactor:
    """Replaces secrets in text and in JSON-like structures."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add_values(values)

    # -- what is secret ------------------------------------------------------------------

    def add_values(self, values: Iterable[str]) -> None:
        """Treat each value as secret wherever it appears (caller has applied the bars)."""
        new = {value for value in values if value and value != MASK}
        if new - self._values:
            self._values |= new
            # Longest first, so a secret containing another is masked whole.
            ordered = sorted(self._values, key=lambda v: (-len(v), v))
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def add_mapping(self, mapping: Mapping[str, str]) -> None:
        """Values of an env file or an environment: long ones, and secret-keyed ones."""
        self.add_values(
            value.strip()
            for key, value in mapping.items()
            if len(value.strip()) >= MIN_VALUE_LENGTH
            or (key_looks_secret(key) and len(value.strip()) >= MIN_SECRET_LENGTH)
        )

    def add_url_password(self, url: str | None) -> None:
        if not url:
            return
        try:
            password = urlsplit(url).password
        except ValueError:
            return
        if password and len(password) >= MIN_SECRET_LENGTH:
            self.add_values([password, unquote(password)])

    @property
    def known_values(self) -> int:
        return len(self._values)

    # -- redaction ------------------------------------------------------------------------

    def text(self, text: str) -> str:
        if not text:
            return text
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        text = _URL_CREDENTIALS_RE.sub(lambda m: m.group("head") + MASK, text)
        text = _BEARER_RE.sub(lambda m: f"{m.group('scheme')} {MASK}", text)
        text = _FLAG_RE.sub(lambda m: f"{m.group('flag')}{m.group('sep')}{MASK}", text)
        return _ASSIGNMENT_RE.sub(_mask_assignment, text)

    def value(self, value: Any, key: str | None = None) -> Any:
        """Redact a JSON-like value; a secret-looking key masks its whole value."""
        if (
            key is not None
            and key_looks_secret(key)
            and isinstance(value, (str, int, float))
            and value not in ("", False, True)
        ):
            return MASK
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self.value(v, str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        return value


def _mask_assignment(match: re.Match[str]) -> str:
    key = match.group("key").strip("\"'")
    if key.lower() in _NOT_SECRET_KEYS:
        return match.group(0)
    value = match.group("qval") if match.group("q") else match.group("val")
    if value in (None, "", MASK) or value.lower() in ("false", "none", "null", "true"):
        return match.group(0)
    if match.group("q"):
        quote = match.group("q")
        return f"{match.group('key')}{match.group('sep')}{quote}{MASK}{quote}"
    return f"{match.group('key')}{match.group('sep')}{MASK}"


def redactor_for(
    env_files: Iterable[Path],
    *,
    urls: Iterable[str | None] = (),
    environ: Mapping[str, str] | None = None,
) -> Redactor:
    """A redactor knowing the values of ``env_files`` (missing files are skipped: a
    deployment of one environment must not fail because another's secrets live on a
    different machine), the passwords in ``urls`` and the process environment's
    secret-looking variables."""
    from odooplane.envfile import read_env_file

    redactor = Redactor()
    for path in env_files:
        if path.is_file():
            redactor.add_mapping(read_env_file(path))
    for url in urls:
        redactor.add_url_password(url)
    process_env = os.environ if environ is None else environ
    redactor.add_values(
        value
        for key, value in process_env.items()
        if key_looks_secret(key) and len(value) >= MIN_VALUE_LENGTH
    )
    return redactor
