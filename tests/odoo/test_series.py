"""Series differences: odoo.conf rendering and odoo-bin command lines for 16, 17, 18, 19."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from odooplane.errors import ConfigError, UsageError
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.series import SUPPORTED_SERIES, for_series
from odooplane.odoo.source import OdooSource

RUNTIME = Runtime(path=Path("/rt"), python=Path("/rt/bin/python"), deps_hash="abc")
CONF = Path("/state/odoo.conf")


def source(series: str) -> OdooSource:
    return OdooSource(path=Path("/src/odoo"), series=series, revision="r1")


def parse_conf(text: str) -> dict[str, str]:
    parser = configparser.RawConfigParser()
    parser.read_string(text)
    return dict(parser["options"])


def test_for_series_accepts_short_form_and_rejects_unsupported() -> None:
    assert for_series("17").series == "17.0"
    assert for_series(" 18.0 ").major == 18
    with pytest.raises(
        ConfigError, match=r"(?s)'15\.0' is not supported.*16\.0, 17\.0, 18\.0, 19\.0"
    ):
        for_series("15.0")


@pytest.mark.parametrize("series", SUPPORTED_SERIES)
def test_render_conf_is_deterministic_and_typed(series: str) -> None:
    profile = for_series(series)
    options = {
        "http_port": 8069,
        "addons_path": ["/a", Path("/b")],
        "list_db": False,
        "proxy_mode": True,
        "db_password": "s3cr%t",
        "limit_time_real": 120.5,
        "logfile": None,
    }
    text = profile.render_conf(options)
    reordered = profile.render_conf(dict(reversed(list(options.items()))))
    assert text == reordered
    assert text.startswith("[options]\n")
    keys = [line.split(" = ")[0] for line in text.splitlines()[1:]]
    assert keys == sorted(keys)
    parsed = parse_conf(text)
    assert parsed == {
        "addons_path": "/a,/b",
        "db_password": "s3cr%t",
        "http_port": "8069",
        "limit_time_real": "120.5",
        "list_db": "False",
        "proxy_mode": "True",
    }


@pytest.mark.parametrize(
    ("series", "demo", "expected"),
    [
        ("16.0", True, {"without_demo": "False"}),
        ("16.0", False, {"without_demo": "all"}),
        ("17.0", True, {"without_demo": "False"}),
        ("17.0", False, {"without_demo": "all"}),
        ("18.0", False, {"without_demo": "all"}),
        ("19.0", True, {"with_demo": "True"}),
        ("19.0", False, {"with_demo": "False"}),
    ],
)
def test_demo_pseudo_option_per_series(series: str, demo: bool, expected: dict[str, str]) -> None:
    assert parse_conf(for_series(series).render_conf({"demo": demo})) == expected


def test_renamed_options_are_rewritten() -> None:
    text = for_series("17.0").render_conf({"longpolling_port": 8072, "xmlrpc_port": 8069})
    assert parse_conf(text) == {"gevent_port": "8072", "http_port": "8069"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"Bad Key": 1}, "'Bad Key' is not a valid odoo.conf option name"),
        ({"db_password": "x\nadmin_passwd = y"}, "'db_password' contains a line break"),
        ({"workers": {"a": 1}}, "'workers' has a value of type dict"),
        ({"demo": "maybe"}, "'demo' must be true or false"),
    ],
)
def test_render_conf_rejects_bad_input(options: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        for_series("17.0").render_conf(options)


def test_server_argv_per_series() -> None:
    argv = for_series("17.0").server_argv(
        RUNTIME, source("17.0"), CONF, dev=["xml", "qweb", "xml"], extra=["--log-level=warn"]
    )
    assert argv == [
        "/rt/bin/python",
        "/src/odoo/odoo-bin",
        "-c",
        "/state/odoo.conf",
        "--dev=xml,qweb",
        "--log-level=warn",
    ]
    # 17.0 dropped the werkzeug debugger option; 16, 18 and 19 have it; only 19 has access.
    with pytest.raises(UsageError, match=r"(?s)Odoo 17\.0 has no '--dev=werkzeug'.*all, qweb"):
        for_series("17.0").server_argv(RUNTIME, source("17.0"), CONF, dev=["werkzeug"])
    for series in ("16.0", "18.0", "19.0"):
        argv = for_series(series).server_argv(RUNTIME, source(series), CONF, dev=["werkzeug"])
        assert argv[-1] == "--dev=werkzeug"
    assert (
        for_series("19.0").server_argv(RUNTIME, source("19.0"), CONF, dev=["access"])[-1]
        == "--dev=access"
    )
    with pytest.raises(UsageError, match="has no '--dev=access'"):
        for_series("18.0").server_argv(RUNTIME, source("18.0"), CONF, dev=["access"])
    assert "--dev" not in " ".join(for_series("16.0").server_argv(RUNTIME, source("16.0"), CONF))


def test_dev_value_for_watcher_options_fit_each_series() -> None:
    for series in SUPPORTED_SERIES:
        profile = for_series(series)
        assert "reload" not in profile.dev_for_watcher
        assert profile.dev_value(profile.dev_for_watcher) == ",".join(profile.dev_for_watcher)
        assert set(profile.dev_all) <= profile.dev_options
    assert for_series("17.0").dev_value(["access", "xml", "werkzeug"], strict=False) == "xml"
    assert for_series("19.0").dev_value(["access", "xml"], strict=False) == "access,xml"


@pytest.mark.parametrize(
    ("series", "demo", "flags"),
    [
        ("16.0", False, ["--without-demo=all"]),
        ("17.0", True, []),
        ("17.0", False, ["--without-demo=all"]),
        ("18.0", False, ["--without-demo=all"]),
        ("19.0", True, ["--with-demo"]),
        ("19.0", False, []),
    ],
)
def test_init_argv_demo_flags(series: str, demo: bool, flags: list[str]) -> None:
    argv = for_series(series).init_argv(
        RUNTIME, source(series), CONF, database="db1", modules=["base", "web"], demo=demo
    )
    assert argv == [
        "/rt/bin/python",
        "/src/odoo/odoo-bin",
        "-c",
        "/state/odoo.conf",
        "-d",
        "db1",
        "-i",
        "base,web",
        *flags,
        "--stop-after-init",
        "--no-http",
    ]


def test_update_test_neutralize_and_shell_argv() -> None:
    profile = for_series("17.0")
    src = source("17.0")
    assert profile.update_argv(RUNTIME, src, CONF, database="d", install=["a"], update=["b", "c"])[
        4:
    ] == ["-d", "d", "-i", "a", "-u", "b,c", "--stop-after-init", "--no-http"]
    with pytest.raises(UsageError, match="Nothing to install or update"):
        profile.update_argv(RUNTIME, src, CONF, database="d")
    assert profile.test_argv(RUNTIME, src, CONF, database="d", modules=["m"], tags="/m")[4:] == [
        "-d",
        "d",
        "-u",
        "m",
        "--test-enable",
        "--test-tags=/m",
        "--stop-after-init",
        "--no-http",
    ]
    assert profile.neutralize_argv(RUNTIME, src, CONF, database="d") == [
        "/rt/bin/python",
        "/src/odoo/odoo-bin",
        "neutralize",
        "-c",
        "/state/odoo.conf",
        "-d",
        "d",
    ]
    assert profile.neutralize_argv(RUNTIME, src, CONF, database="d", stdout=True)[-1] == "--stdout"
    assert profile.shell_argv(RUNTIME, src, CONF, database="d")[2:4] == ["shell", "-c"]


@pytest.mark.parametrize("modules", [[], ["  "], ["base;rm -rf /"], ["a,b"]])
def test_module_lists_are_checked(modules: list[str]) -> None:
    with pytest.raises(UsageError):
        for_series("17.0").init_argv(
            RUNTIME, source("17.0"), CONF, database="d", modules=modules, demo=False
        )


def test_series_facts() -> None:
    assert {for_series(s).payment_table for s in SUPPORTED_SERIES} == {"payment_provider"}
    assert all(for_series(s).has_neutralize for s in SUPPORTED_SERIES)
    assert [s for s in SUPPORTED_SERIES if for_series(s).namespace_package] == ["19.0"]
    assert [s for s in SUPPORTED_SERIES if not for_series(s).demo_by_default] == ["19.0"]
    assert "rpc" in for_series("19.0").server_wide_modules
    code = for_series("19.0").launcher_code()
    assert "import odoo.cli" in code and "TZ" in code
    compile(code, "<launcher>", "exec")


@pytest.mark.odoo
def test_dev_options_match_the_real_source(odoo_source: OdooSource) -> None:
    """The profile of the test source's series lists the --dev values its config.py
    documents, and expands 'all' the way it does."""
    import re

    text = (odoo_source.path / "odoo" / "tools" / "config.py").read_text()
    documented = re.search(r"Options\s*:\s*([a-z, ]+)\"", text)
    assert documented is not None
    profile = for_series(odoo_source.series)
    names = {n.strip() for n in documented.group(1).split(",")}
    assert names <= profile.dev_options
    expansion = re.search(r"\(\[([^\]]*)\] if 'all' in dev_split", text)
    if expansion:  # 16.0/17.0 style
        expanded = tuple(re.findall(r"'(\w+)'", expansion.group(1)))
        assert set(expanded) == set(profile.dev_all)
    # 'werkzeug' only counts where Odoo reads it.
    uses_werkzeug = (
        "'werkzeug' in" in "".join(p.read_text() for p in (odoo_source.path / "odoo").glob("*.py"))
        or "'werkzeug' in config"
        in (odoo_source.path / "odoo" / "service" / "server.py").read_text()
    )
    assert uses_werkzeug == ("werkzeug" in profile.dev_options)


def test_gevent_paths_are_the_websocket_on_every_supported_series() -> None:
    assert {for_series(s).gevent_paths for s in SUPPORTED_SERIES} == {("/websocket",)}
