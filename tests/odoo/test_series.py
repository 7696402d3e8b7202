"""Series differences: odoo.conf rendering and odoo-bin command lines for 16, 17, 18, 19."""

from __future__ import annotations

import configparser
import json
import re
import subprocess
from pathlib import Path

import pytest

from odooplane.errors import ConfigError, UsageError
from odooplane.odoo.runtime import Runtime
from odooplane.odoo.series import OPTION_ENV_VARS, SUPPORTED_SERIES, for_series
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


@pytest.mark.parametrize(
    ("series", "version", "stored"),
    [
        ("17.0", "1.0", "17.0.1.0"),
        ("17.0", "17.0", "17.0.17.0"),
        ("17.0", "17.0.1.0.0", "17.0.1.0.0"),
        ("17.0", "16.0.1.0.0", None),
        ("18.0", "1.0.0.0", None),
        ("18.0", "18.0.1", None),
        ("19.0", "19.0", None),
        ("19.0", "19.0.1", "19.0.1"),
        ("19.0", "1.0.0", "19.0.1.0.0"),
        ("19.0", "17.0.1.0.0", None),
        ("19.0", "1.0.0.0", None),
        ("19.0", "1.x", None),
    ],
)
def test_manifest_versions(series: str, version: str, stored: str | None) -> None:
    assert for_series(series).manifest_version(version) == stored


def test_runtime_pins_per_series() -> None:
    # pkg_resources: 16.0 and 17.0 import it; 18.0 and 19.0 only through gevent < 23,
    # which they pin for Python < 3.12. Every series builds old sdists with a setuptools
    # that still has it.
    unconditional = [
        s
        for s in SUPPORTED_SERIES
        if not any("python_version" in c for c in for_series(s).runtime_constraints)
    ]
    assert unconditional == ["16.0", "17.0"]
    assert "setuptools<69 ; python_version < '3.12'" in for_series("19.0").runtime_constraints
    assert all("setuptools<81" in for_series(s).build_constraints for s in SUPPORTED_SERIES)
    assert {"PGHOST", "ODOO_DEV", "ODOO_RC"} <= set(OPTION_ENV_VARS)
    assert not for_series("18.0").option_env_vars


def test_gevent_paths_are_the_websocket_on_every_supported_series() -> None:
    assert {for_series(s).gevent_paths for s in SUPPORTED_SERIES} == {("/websocket",)}


# -- the profiles against the real trees (once per series present) ----------------------


def _read(source: OdooSource, rel: str) -> str:
    return (source.path / rel).read_text(encoding="utf-8")


@pytest.mark.odoo
def test_dev_options_match_the_tree(series_source: OdooSource) -> None:
    """The --dev values the tree's config.py documents and reads, and what 'all' means."""
    text = _read(series_source, "odoo/tools/config.py")
    profile = for_series(series_source.series)
    used = set(
        re.findall(
            r"'(\w+)' (?:not )?in (?:tools\.)?config\['dev_mode'\]",
            "".join(
                p.read_text(encoding="utf-8")
                for p in (series_source.path / "odoo").rglob("*.py")
                if "/tests/" not in str(p)
            ),
        )
    )
    assert used <= profile.dev_options
    # Every option the series reads is one the profile offers, and nothing more.
    assert profile.dev_options - {"all"} == used
    old_style = re.search(r"\(\[([^\]]*)\] if 'all' in dev_split", text)
    new_style = re.search(r"^ALL_DEV_MODE = \[([^\]]*)\]", text, re.M)
    expansion = old_style or new_style
    assert expansion is not None
    assert set(re.findall(r"'(\w+)'", expansion.group(1))) == set(profile.dev_all)
    assert set(profile.dev_for_watcher) <= used
    # 19.0 reads dev_mode from odoo.conf and $ODOO_DEV too; earlier series only from argv.
    reads_env = "env_name='ODOO_DEV'" in text
    assert reads_env == ("ODOO_DEV" in profile.option_env_vars)


@pytest.mark.odoo
def test_option_environment_variables_match_the_tree(series_source: OdooSource) -> None:
    text = _read(series_source, "odoo/tools/config.py")
    assert set(re.findall(r"env_name='(\w+)'", text)) == set(
        for_series(series_source.series).option_env_vars
    )


@pytest.mark.odoo
def test_demo_switch_matches_the_tree(series_source: OdooSource) -> None:
    text = _read(series_source, "odoo/tools/config.py")
    profile = for_series(series_source.series)
    with_demo = re.search(r'"--with-demo", dest="with_demo"', text) is not None
    assert with_demo == (not profile.demo_by_default)
    assert ('"--without-demo", dest="without_demo"' in text) == profile.demo_by_default


@pytest.mark.odoo
def test_package_layout_and_server_wide_modules_match_the_tree(
    series_source: OdooSource,
) -> None:
    profile = for_series(series_source.series)
    assert (not (series_source.path / "odoo" / "__init__.py").is_file()) == (
        profile.namespace_package
    )
    text = _read(series_source, "odoo/tools/config.py")
    default = re.search(r"DEFAULT_SERVER_WIDE_MODULES = \[([^\]]*)\]", text) or re.search(
        r'dest="server_wide_modules".*my_default=\'([\w,]+)\'', text
    )
    assert default is not None
    assert set(re.findall(r"\w+", default.group(1))) == set(profile.server_wide_modules)


def _python_bound(source: OdooSource, name: str) -> tuple[int, int] | None:
    for rel in ("odoo/release.py", "odoo/__init__.py"):
        path = source.path / rel
        if path.is_file():
            found = re.search(rf"^{name} = \((\d+), (\d+)\)", path.read_text(), re.M)
            if found:
                return int(found.group(1)), int(found.group(2))
    return None


@pytest.mark.odoo
def test_python_versions_match_the_tree(series_source: OdooSource) -> None:
    """MIN_PY_VERSION/MAX_PY_VERSION where the tree says them (18.0 on); else the newest
    Python its requirements.txt pins packages for."""
    low, high = for_series(series_source.series).python_tested
    assert _python_bound(series_source, "MIN_PY_VERSION") == low
    maximum = _python_bound(series_source, "MAX_PY_VERSION")
    if maximum is None:
        markers = re.findall(
            r"python_version\s*>=\s*'3\.(\d+)'", _read(series_source, "requirements.txt")
        )
        maximum = (3, max(int(m) for m in markers))
    assert maximum == high


@pytest.mark.odoo
def test_pkg_resources_pins_follow_what_the_tree_runs(series_source: OdooSource) -> None:
    """Old setuptools (pkg_resources) where Odoo imports it, on every Python; else only
    for the Pythons its requirements pin a gevent older than 23 for (gevent.events
    imports pkg_resources there)."""
    imports = any(
        re.search(r"^\s*(import pkg_resources|from pkg_resources import)", p.read_text(), re.M)
        for p in (series_source.path / "odoo").rglob("*.py")
        if "/tests/" not in str(p)
    )
    constraints = for_series(series_source.series).runtime_constraints
    assert any(c.startswith("setuptools<") for c in constraints)
    marker = "python_version < '3.12'"
    if imports:
        assert not any(marker in c for c in constraints)
        return
    assert all(c.endswith(marker) for c in constraints)
    old_gevent = [
        line
        for line in _read(series_source, "requirements.txt").splitlines()
        if (found := re.match(r"gevent==(\d+)\.", line)) and int(found.group(1)) < 23
    ]
    assert old_gevent
    for line in old_gevent:
        assert "== '3.10'" in line or "< '3.12'" in line, line


MANIFEST_VERSIONS = (
    "1.0",
    "1.0.0",
    "2.3.4",
    "{s}",
    "{s}.1.0",
    "{s}.1.0.0",
    "{s}.1",
    "16.0.1.0.0",
    "17.0.1.0.0",
    "18.0.1.0.0",
    "19.0.1.0.0",
    "1.0.0.0",
    "1.a",
    "1",
)


@pytest.mark.odoo
def test_manifest_versions_are_read_as_the_tree_reads_them(
    series_source: OdooSource, series_runtime: Runtime
) -> None:
    """The profile adapts (or refuses) manifest versions exactly as the tree's own
    adapt_version/check_version do, run in the series' runtime."""
    samples = [v.format(s=series_source.series) for v in MANIFEST_VERSIONS]
    code = (
        "import json, sys\n"
        "from odoo.modules import module as m\n"
        "out = {}\n"
        "for v in json.loads(sys.argv[1]):\n"
        "    try:\n"
        "        a = m.adapt_version(v)\n"
        "        ok = m.check_version(a, should_raise=False) if hasattr(m, 'check_version') "
        "else True\n"
        "        out[v] = a if ok else None\n"
        "    except ValueError:\n"
        "        out[v] = None\n"
        "print(json.dumps(out))\n"
    )
    result = subprocess.run(
        [str(series_runtime.python), "-c", code, json.dumps(samples)],
        cwd=series_source.path,
        env={**series_runtime.env(), "PYTHONPATH": str(series_source.path)},
        capture_output=True,
        text=True,
        check=True,
    )
    tree = json.loads(result.stdout.strip().splitlines()[-1])
    profile = for_series(series_source.series)
    assert {v: profile.manifest_version(v) for v in samples} == tree
