"""Branch patterns: precedence and the exact overlap test, checked against fnmatch."""

from __future__ import annotations

import itertools
from fnmatch import fnmatchcase

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from odooplane.globs import (
    PRECEDENCE_CATCH_ALL,
    PRECEDENCE_GLOB,
    PRECEDENCE_LITERAL,
    glob_overlap,
    pattern_matches,
    pattern_precedence,
)


@pytest.mark.parametrize(
    ("pattern", "precedence"),
    [
        ("main", PRECEDENCE_LITERAL),
        ("release/17.0", PRECEDENCE_LITERAL),
        ("odd[name", PRECEDENCE_LITERAL),  # an unclosed bracket is a literal in fnmatch
        ("*", PRECEDENCE_CATCH_ALL),
        ("***", PRECEDENCE_CATCH_ALL),
        ("feature/*", PRECEDENCE_GLOB),
        ("?", PRECEDENCE_GLOB),
        ("[ab]x", PRECEDENCE_GLOB),
    ],
)
def test_precedence(pattern: str, precedence: int) -> None:
    assert pattern_precedence(pattern) == precedence


@pytest.mark.parametrize(
    ("first", "second", "overlap"),
    [
        ("feature/*", "*-fix", True),
        ("feature/*", "fix/*", False),
        ("release/1?.0", "release/16.*", True),
        ("[a-c]*", "[d-f]*", False),
        ("[!a]x", "ax", False),
        ("[!a]x", "?x", True),
        ("a*b*c", "*c*b*a", False),
        ("a*b*c", "*c*b*", True),
        ("a*", "b*", False),
        ("*/*", "main", False),
        ("[]]x", "]*", True),
        ("x[!]]", "x]", False),
        ("*", "anything/at/all", True),
        ("[z-a]*", "*", False),  # an empty range matches nothing, as in fnmatch
    ],
)
def test_overlap_examples(first: str, second: str, overlap: bool) -> None:
    witness = glob_overlap(first, second)
    assert (witness is not None) == overlap
    if witness is not None:
        assert pattern_matches(first, witness) and pattern_matches(second, witness)


ALPHABET = "ab/"
pieces = st.sampled_from(["a", "b", "/", "*", "?", "[ab]", "[!a]", "[a-b]", "[]a]", "[!/]"])
patterns = st.lists(pieces, min_size=0, max_size=5).map("".join)
SHORT_NAMES = [
    "".join(chars) for n in range(6) for chars in itertools.product(ALPHABET + "c", repeat=n)
]


@settings(max_examples=300, deadline=None)
@given(first=patterns, second=patterns)
def test_overlap_agrees_with_brute_force(first: str, second: str) -> None:
    witness = glob_overlap(first, second)
    if witness is not None:
        assert fnmatchcase(witness, first) and fnmatchcase(witness, second)
    else:
        # No witness: no short name over an alphabet covering the patterns matches both.
        assert not any(fnmatchcase(n, first) and fnmatchcase(n, second) for n in SHORT_NAMES)
    assert (glob_overlap(second, first) is None) == (witness is None)
