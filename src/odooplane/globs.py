"""Branch patterns: matching, precedence, and whether two patterns can overlap.

Patterns are shell globs over the whole branch name (:func:`fnmatch.fnmatchcase`,
case-sensitive): ``*`` matches any run of characters including ``/``, ``?`` one
character, ``[a-z]`` / ``[!a-z]`` one character of (or not of) a set.

A branch goes to the environment whose pattern matches it with the highest precedence:
a literal name (no glob character) beats a glob, and a glob beats the catch-all ``*``.
The config loader refuses two environments whose patterns *of the same precedence*
can match a common branch name, so resolution is never ambiguous. Whether two globs
can match a common name is decided exactly (:func:`glob_overlap`), not guessed.
"""

from __future__ import annotations

import fnmatch
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

PRECEDENCE_CATCH_ALL = 0
PRECEDENCE_GLOB = 1
PRECEDENCE_LITERAL = 2

CharTest = Callable[[str], bool]


@dataclass(frozen=True)
class _CharSet:
    """``?`` or a bracket set: one character passing ``test``."""

    text: str
    test: CharTest


class _Star:
    """``*``: any run of characters."""


_STAR = _Star()
# A token is `_STAR`, a `_CharSet`, or a one-character literal string.
_Token = _Star | _CharSet | str


def _any_char(_char: str) -> bool:
    return True


def _regex_test(regex: re.Pattern[str]) -> CharTest:
    def test(char: str) -> bool:
        return regex.match(char) is not None

    return test


def _equals(literal: str) -> CharTest:
    def test(char: str) -> bool:
        return char == literal

    return test


def _tokens(pattern: str) -> list[_Token]:
    """Split a glob into `_STAR`, `_CharSet`s and literal characters.

    Bracket parsing mirrors :func:`fnmatch.translate`, and each set's membership test
    is fnmatch's own regex for that bracket, so this agrees with fnmatch exactly.
    """
    out: list[_Token] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        i += 1
        if char == "*":
            if not out or out[-1] is not _STAR:
                out.append(_STAR)
        elif char == "?":
            out.append(_CharSet("?", _any_char))
        elif char == "[":
            j = i
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                out.append("[")  # an unclosed bracket is a literal, as in fnmatch
            else:
                text = pattern[i - 1 : j + 1]
                out.append(_CharSet(text, _regex_test(re.compile(fnmatch.translate(text)))))
                i = j + 1
        else:
            out.append(char)
    return out


def bracket_problem(pattern: str) -> str | None:
    """What is wrong with the bracket sets of ``pattern``, if anything.

    fnmatch reads an unclosed ``[`` as a literal, but git never allows ``[`` in a branch
    name, so such a pattern can only be a typo; a set starting with ``]`` (``[]]``) reads
    as a set of ``]`` to fnmatch and as an empty set to people; a set with a reversed
    range (``[z-a]``) matches nothing.
    """
    i, n = 0, len(pattern)
    while i < n:
        if pattern[i] != "[":
            i += 1
            continue
        j = i + 1
        if j < n and pattern[j] == "!":
            j += 1
        if j < n and pattern[j] == "]":
            return (
                f"the set '{pattern[i : j + 1]}...' starts with ']', which is ambiguous "
                "(an empty set, or a set of ']')"
            )
        close = pattern.find("]", j)
        if close < 0:
            return f"the '[' at position {i + 1} is never closed (git branch names cannot hold '[')"
        body = pattern[j:close]
        for match in re.finditer(r"(.)-(.)", body):
            if match.group(1) > match.group(2):
                return f"the range '{match.group(0)}' in '{pattern[i : close + 1]}' is reversed"
        if not body:
            return f"the set '{pattern[i : close + 1]}' is empty"
        i = close + 1
    return None


def pattern_precedence(pattern: str) -> int:
    """2 for a literal branch name, 1 for a glob, 0 for the catch-all ``*``."""
    tokens = _tokens(pattern)
    if tokens == [_STAR]:
        return PRECEDENCE_CATCH_ALL
    if all(isinstance(t, str) for t in tokens):
        return PRECEDENCE_LITERAL
    return PRECEDENCE_GLOB


def pattern_matches(pattern: str, branch: str) -> bool:
    """Whether ``branch`` matches the branch pattern ``pattern``."""
    return fnmatch.fnmatchcase(branch, pattern)


def _candidates(patterns: tuple[str, ...]) -> list[str]:
    # Every set is a union of ranges whose ends appear in the patterns (or its
    # complement); two sets intersect iff they share an end, a neighbour of an end, or
    # an extreme character. Friendly characters go first so witnesses read well.
    chars: list[str] = list("ax0-_/.")
    for text in patterns:
        for char in text:
            code = ord(char)
            for near in (code, code - 1, code + 1):
                if 0 <= near <= 0x10FFFF:
                    chars.append(chr(near))
    chars += [chr(0), chr(0x10FFFF)]
    return list(dict.fromkeys(chars))


def _steps(tokens: list[_Token], at: int) -> list[tuple[CharTest, int]]:
    """The ways to consume one character at token ``at``: (test, next token)."""
    if at >= len(tokens):
        return []
    token = tokens[at]
    if isinstance(token, _Star):
        return [(_any_char, at)]
    if isinstance(token, _CharSet):
        return [(token.test, at + 1)]
    return [(_equals(token), at + 1)]


def glob_overlap(first: str, second: str) -> str | None:
    """A branch name matched by both patterns, or None when no name can match both.

    Exact: a breadth-first search over pairs of positions in the two patterns (the
    product of their automata); the witness found is a short such name.
    """
    left, right = _tokens(first), _tokens(second)
    alphabet = _candidates((first, second))
    start = (0, 0)
    parents: dict[tuple[int, int], tuple[tuple[int, int], str] | None] = {start: None}
    queue: deque[tuple[int, int]] = deque([start])
    while queue:
        state = queue.popleft()
        i, j = state
        if i == len(left) and j == len(right):
            chars: list[str] = []
            back = parents[state]
            while back is not None:
                chars.append(back[1])
                back = parents[back[0]]
            return "".join(reversed(chars))
        moves: list[tuple[tuple[int, int], str]] = []
        # A star may also match nothing: move past it without reading a character.
        if i < len(left) and left[i] is _STAR:
            moves.append(((i + 1, j), ""))
        if j < len(right) and right[j] is _STAR:
            moves.append(((i, j + 1), ""))
        for left_test, ni in _steps(left, i):
            for right_test, nj in _steps(right, j):
                char = next((c for c in alphabet if left_test(c) and right_test(c)), None)
                if char is not None:
                    moves.append(((ni, nj), char))
        for nxt, char in moves:
            if nxt not in parents:
                parents[nxt] = (state, char)
                queue.append(nxt)
    return None
