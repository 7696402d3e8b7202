"""ruamel's round-trip tree to plain data: every key's and value's position, values
described without leaking secrets, and what YAML allows but odooplane.yaml refuses."""

from __future__ import annotations

from typing import Any

import pytest
from ruamel.yaml import YAML

from odooplane.config.yamltree import (
    MAX_VALUES,
    Converter,
    Positions,
    TooLarge,
    describe_value,
    yaml_type,
)


def convert(text: str) -> tuple[Any, Converter]:
    converter = Converter()
    data = converter.convert(YAML(typ="rt", pure=True).load(text), ())
    return data, converter


def test_plain_data_and_one_based_positions() -> None:
    data, conv = convert(
        "project: shop\n"
        "odoo:\n"
        "  series: '17.0'\n"
        "  workers: 2\n"
        "  ratio: 0.5\n"
        "  debug: true\n"
        "branches:\n"
        "  - main\n"
        "  - when: 2024-01-02\n"
    )
    assert data == {
        "project": "shop",
        "odoo": {"series": "17.0", "workers": 2, "ratio": 0.5, "debug": True},
        "branches": ["main", {"when": "2024-01-02"}],
    }
    assert type(data["odoo"]["workers"]) is int and type(data["odoo"]["debug"]) is bool
    assert conv.problems == []
    pos = conv.positions
    assert pos.keys[("odoo", "series")] == (3, 3)
    assert pos.values[("odoo", "series")] == (3, 11)
    assert pos.values[("branches", 1)] == (9, 5)
    assert pos.keys[("branches", 1, "when")] == (9, 5)


def test_locate_falls_back_to_the_nearest_known_position() -> None:
    positions = Positions(
        keys={("odoo",): (2, 1), ("odoo", "series"): (3, 3)},
        values={("odoo",): (3, 3), ("odoo", "series"): (3, 11)},
    )
    assert positions.locate(("odoo", "series"), "value") == (3, 11)
    assert positions.locate(("odoo", "series"), "key") == (3, 3)
    # A key that is missing is reported at the mapping that should hold it.
    assert positions.locate(("odoo", "workers"), "parent") == (2, 1)
    # An unknown child of a known key: the key's position.
    assert positions.locate(("odoo", "series", 4), "value") == (3, 3)
    assert positions.locate(("nothing",), "value") == (1, 1)


def test_keys_that_are_not_text_are_reported_with_a_fix() -> None:
    data, conv = convert("environments:\n  2: {kind: production}\n  null: x\n  true: y\n  yes: y\n")
    assert data == {"environments": {"yes": "y"}}  # YAML 1.2: yes is text
    messages = [(p.path, p.message, p.fix, p.line) for p in conv.problems]
    assert messages[0] == (
        ("environments", "2"),
        "the key 2 is a number, not text.",
        "Quote it: '2':",
        2,
    )
    assert messages[1][1] == "the key null is a null, not text."
    assert messages[2][1] == "the key true is a true/false, not text."


def test_custom_tags_are_refused() -> None:
    data, conv = convert("project: !secret shop\nodoo: !!binary aGVsbG8=\nok: !!str 12\n")
    assert data == {"ok": "12"}
    tags = [(p.path, p.message) for p in conv.problems]
    assert tags == [
        (("project",), "the YAML tag '!secret' is not supported here."),
        (("odoo",), "a YAML bytes value is not supported here."),
    ]


def test_merge_keys_get_the_position_of_the_mapping_merging_them() -> None:
    data, conv = convert(
        "base: &base {kind: staging}\nenvironments:\n  qa:\n    <<: *base\n    data: demo\n"
    )
    assert data["environments"]["qa"] == {"kind": "staging", "data": "demo"}
    assert (
        conv.positions.keys[("environments", "qa", "kind")]
        == (conv.positions.values[("environments", "qa")])
    )


def test_an_alias_to_an_enclosing_node_is_dropped_by_the_parser() -> None:
    data, conv = convert("a: &x\n  - 1\n  - *x\n")
    assert data == {"a": [1, None]}
    assert conv.problems == []


def test_a_tree_containing_itself_is_a_problem_not_a_recursion() -> None:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    seq = CommentedSeq([1])
    seq.append(seq)
    root = CommentedMap({"a": seq})
    conv = Converter()
    assert conv.convert(root, ()) == {"a": [1, None]}
    assert [p.path for p in conv.problems] == [("a", 1)]
    assert "contains itself through a YAML alias" in conv.problems[0].message


def test_alias_bombs_stop_at_the_value_limit() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 6):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    with pytest.raises(TooLarge):
        convert("\n".join(lines) + "\n")
    assert MAX_VALUES < 10**6


def test_yaml_type_names_each_kind() -> None:
    assert [yaml_type(v) for v in (None, True, 3, 2.5, "x", [], {})] == [
        "null",
        "true/false",
        "number",
        "number",
        "text",
        "list",
        "mapping",
    ]
    assert yaml_type(b"x") == "bytes"


def test_describe_value_never_shows_a_masked_secret() -> None:
    assert describe_value("hunter2", masked="${DB_PASSWORD}") == (
        "'${DB_PASSWORD}' (filled in from an env file)"
    )
    assert describe_value(None) == "nothing (null)"
    assert describe_value(False) == "false"
    assert describe_value(8) == "the number 8"
    assert describe_value("abc") == "the text 'abc'"
    long = describe_value("x" * 100)
    assert long == "the text '" + "x" * 57 + "...'"
    assert describe_value([1]) == "a list of 1 item"
    assert describe_value([1, 2]) == "a list of 2 items"
    assert describe_value({"a": 1}) == "a mapping"
    assert describe_value(b"x") == "bytes"
