"""What differs between Odoo series: the one place in odooplane that knows.

Everything else asks a :class:`SeriesProfile` (``for_series("17.0")``) for the
``odoo-bin`` command lines, the ``odoo.conf`` text, the ``--dev`` values that exist, the
Python versions and pins a runtime needs, how manifest versions are read, and how demo
data is switched on or off.

17.0, 18.0 and 19.0 are checked against real trees (``tests/odoo/test_series_trees.py``
reads their ``config.py``, ``release.py``, ``module.py`` and ``neutralize.sql`` files);
16.0 comes from its sources and release notes.

========  =====================================  ===================  =====================
series    ``--dev`` values (``all`` expands to)  demo data on init    ``odoo`` package
========  =====================================  ===================  =====================
16.0      reload, qweb, werkzeug, xml (all 4)    yes, unless          regular package
                                                 ``--without-demo``
17.0      reload, qweb, xml (all 3; ``werkzeug``  yes, unless          regular package
          is accepted but does nothing)          ``--without-demo``
18.0      reload, qweb, werkzeug, xml            yes, unless          regular package
          (all = reload, qweb, xml)              ``--without-demo``
19.0      access, qweb, reload, xml, werkzeug,   no, unless           namespace package (no
          replica (all = access, qweb, reload,   ``--with-demo``      ``odoo/__init__.py``)
          xml)
========  =====================================  ===================  =====================

Up to 18.0, ``--dev`` is only read from the command line; 19.0 also reads ``dev_mode``
from odoo.conf and from ``$ODOO_DEV``, and lets ``$PGHOST``, ``$PGUSER``,
``$PGPASSWORD``, ``$PGDATABASE``... override odoo.conf (:data:`OPTION_ENV_VARS`).

``odoo-bin neutralize`` exists in every supported series (it appeared in 16.0), and the
payment table is ``payment_provider`` from 16.0 on (``payment_acquirer`` before).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from odooplane.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from odooplane.odoo.runtime import Runtime
    from odooplane.odoo.source import OdooSource

SUPPORTED_SERIES = ("16.0", "17.0", "18.0", "19.0")
# The series `odooplane init` writes when neither manifests nor a source tree say one.
DEFAULT_SERIES = "19.0"

# Pseudo-option understood by render_conf: every series spells "load demo data" its own way.
DEMO_OPTION = "demo"

_KEY_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
# Source distributions pinned by Odoo (cbor2 5.4.2 of 18.0 on Python 3.10 and 3.11) import
# pkg_resources in their setup.py; setuptools 81 removed it, so their builds get an older
# one.
_BUILD_ERA = ("setuptools<81",)
# odoo/tools/config.py of 19.0: options with an ``env_name``.
_ENV_OPTIONS_19 = (
    "ODOO_RC",
    "ODOO_DEV",
    "PGDATABASE",
    "PGUSER",
    "PGPASSWORD",
    "PGPATH",
    "PGHOST",
    "PGHOST_REPLICA",
    "PGPORT",
    "PGPORT_REPLICA",
    "PGSSLMODE",
    "PGAPPNAME",
    "PGDATABASE_TEMPLATE",
)
# Options renamed in a supported series: the old spelling is rewritten, never rendered.
_RENAMED = {
    "longpolling_port": "gevent_port",
    "xmlrpc_port": "http_port",
    "xmlrpc_interface": "http_interface",
    "xmlrpc": "http_enable",
}


@dataclass(frozen=True)
class SeriesProfile:
    """The behaviour of one Odoo series, as far as odooplane needs to know it."""

    series: str
    dev_options: frozenset[str]
    dev_all: tuple[str, ...]
    dev_for_watcher: tuple[str, ...]
    demo_by_default: bool
    namespace_package: bool
    payment_table: str
    has_neutralize: bool
    server_wide_modules: tuple[str, ...]
    # The Python versions the series runs on (lowest, highest), as its tree says.
    python_tested: tuple[tuple[int, int], tuple[int, int]]
    # Pins added to the runtime's own packages.
    runtime_constraints: tuple[str, ...]
    # Pins for the isolated environments that build source distributions.
    build_constraints: tuple[str, ...] = _BUILD_ERA
    # Environment variables this series reads as options, over odoo.conf.
    option_env_vars: tuple[str, ...] = ()
    # Manifest versions: 19.0 keeps a version of 4 or 5 parts as written (and then
    # refuses it unless it starts with the series); earlier series prefix any version
    # that does not start with "<series>." and accept only x.y or x.y.z after it.
    keeps_long_versions: bool = False
    # How an addon of this series spells what changed: the list view (``<tree>`` up to
    # 17.0), the groups of views, menus and actions (``group_ids`` from 19.0), and SQL
    # constraints (``models.Constraint`` attributes from 19.0, which ignores
    # ``_sql_constraints`` with a warning).
    list_view: str = "list"
    groups_field: str = "groups_id"
    constraint_objects: bool = False

    @property
    def major(self) -> int:
        return int(self.series.split(".")[0])

    @property
    def gevent_paths(self) -> tuple[str, ...]:
        """URL paths a proxy sends to Odoo's gevent port: the bus websocket since 16.0
        (``/longpolling`` before it, which 16.0 removed)."""
        return ("/websocket",) if self.major >= 16 else ("/longpolling",)

    # -- manifests ------------------------------------------------------------------------

    def manifest_version(self, version: str) -> str | None:
        """The version Odoo stores for a manifest ``version`` (``1.0`` -> ``17.0.1.0``),
        or None when this series refuses it: Odoo then marks the addon uninstallable and
        only logs a warning, so ``-i`` ends "successfully" without installing it."""
        text = version.strip()
        if self.keeps_long_versions:
            parts = text.split(".")
            if not 2 <= len(parts) <= 5 or not all(p.isdigit() for p in parts):
                return None
            if len(parts) <= 3 and not text.startswith(self.series):
                text = f"{self.series}.{text}"
            return text if text.startswith(self.series + ".") else None
        if text == self.series or not text.startswith(self.series + "."):
            base, text = text, f"{self.series}.{text}"
        else:
            base = text[len(self.series) + 1 :]
        return text if re.fullmatch(r"[0-9]+\.[0-9]+(?:\.[0-9]+)?", base) else None

    def unique_constraint(self, name: str, columns: Sequence[str], message: str) -> str:
        """The lines of a model class body declaring a UNIQUE constraint, as this series
        writes it (the database constraint is ``<table>_<name>`` either way)."""
        definition = json.dumps(f"UNIQUE({', '.join(columns)})")
        text = json.dumps(message)
        if self.constraint_objects:
            return (
                f"    _{name} = models.Constraint(\n        {definition},\n        {text},\n    )\n"
            )
        return (
            "    _sql_constraints = [\n"
            f"        ({json.dumps(name)}, {definition}, {text}),\n"
            "    ]\n"
        )

    # -- odoo.conf ----------------------------------------------------------------------

    def conf_options(self, options: Mapping[str, object]) -> dict[str, str]:
        """``options`` as odoo.conf values for this series: renamed keys rewritten, the
        ``demo`` pseudo-option translated, ``None`` left out, lists joined by commas and
        booleans written ``True``/``False``."""
        rendered: dict[str, str] = {}
        for raw_key, value in options.items():
            key = _RENAMED.get(raw_key, raw_key)
            if not _KEY_RE.match(key):
                raise UsageError(
                    f"'{raw_key}' is not a valid odoo.conf option name.",
                    hint="Option names are lowercase letters, digits and '_', "
                    "like http_port or limit_time_real.",
                )
            if value is None:
                continue
            if key == DEMO_OPTION:
                rendered.update(self._demo_conf(_as_bool(raw_key, value)))
                continue
            rendered[key] = _conf_value(raw_key, value)
        return rendered

    def render_conf(self, options: Mapping[str, object]) -> str:
        """The text of an ``odoo.conf``: one ``[options]`` section, keys sorted so the same
        options always give the same bytes."""
        values = self.conf_options(options)
        lines = ["[options]"]
        lines.extend(f"{key} = {values[key]}" for key in sorted(values))
        return "\n".join(lines) + "\n"

    def _demo_conf(self, demo: bool) -> dict[str, str]:
        if self.demo_by_default:
            # "without_demo" takes a module list; any non-empty string but False means
            # "no demo", so the explicit False matters.
            return {"without_demo": "False" if demo else "all"}
        return {"with_demo": "True" if demo else "False"}

    # -- --dev ------------------------------------------------------------------------------

    def dev_value(self, wanted: Iterable[str], *, strict: bool = True) -> str:
        """The ``--dev`` value for ``wanted``; with ``strict`` an option this series lacks
        is an error naming the ones it has, otherwise it is dropped."""
        chosen: list[str] = []
        for option in wanted:
            name = option.strip()
            if not name:
                continue
            if name not in self.dev_options:
                if strict:
                    known = ", ".join(sorted(self.dev_options))
                    raise UsageError(
                        f"Odoo {self.series} has no '--dev={name}' option.",
                        hint=f"Odoo {self.series} knows: {known}.",
                    )
                continue
            if name not in chosen:
                chosen.append(name)
        return ",".join(chosen)

    # -- command lines -------------------------------------------------------------------

    def _base_argv(self, runtime: Runtime, source: OdooSource) -> list[str]:
        return [str(runtime.python), str(source.path / "odoo-bin")]

    def server_argv(
        self,
        runtime: Runtime,
        source: OdooSource,
        conf_path: Path,
        *,
        dev: Sequence[str] | None = None,
        extra: Sequence[str] = (),
    ) -> list[str]:
        """Run the HTTP server with ``conf_path``; ``dev`` options are checked against
        this series (``--dev`` is only read from the command line, never from odoo.conf)."""
        argv = [*self._base_argv(runtime, source), "-c", str(conf_path)]
        if dev:
            value = self.dev_value(dev)
            if value:
                argv.append(f"--dev={value}")
        return [*argv, *extra]

    def demo_argv(self, demo: bool) -> list[str]:
        """Command-line flags that make an ``-i`` load demo data or not."""
        if self.demo_by_default:
            # --without-demo=False would be read as the non-empty string "False": leave
            # it out and let odoo.conf (rendered with the demo pseudo-option) decide.
            return [] if demo else ["--without-demo=all"]
        return ["--with-demo"] if demo else []

    def init_argv(
        self,
        runtime: Runtime,
        source: OdooSource,
        conf_path: Path,
        *,
        database: str,
        modules: Sequence[str],
        demo: bool,
        extra: Sequence[str] = (),
    ) -> list[str]:
        """Create (when missing) ``database``, install ``modules`` and exit, no HTTP."""
        return [
            *self._base_argv(runtime, source),
            "-c",
            str(conf_path),
            "-d",
            database,
            "-i",
            _module_list(modules),
            *self.demo_argv(demo),
            "--stop-after-init",
            "--no-http",
            *extra,
        ]

    def update_argv(
        self,
        runtime: Runtime,
        source: OdooSource,
        conf_path: Path,
        *,
        database: str,
        install: Sequence[str] = (),
        update: Sequence[str] = (),
        extra: Sequence[str] = (),
    ) -> list[str]:
        """Install and/or update modules in ``database`` and exit, no HTTP."""
        if not install and not update:
            raise UsageError("Nothing to install or update: name at least one module.")
        argv = [*self._base_argv(runtime, source), "-c", str(conf_path), "-d", database]
        if install:
            argv += ["-i", _module_list(install)]
        if update:
            argv += ["-u", _module_list(update)]
        return [*argv, "--stop-after-init", "--no-http", *extra]

    def test_argv(
        self,
        runtime: Runtime,
        source: OdooSource,
        conf_path: Path,
        *,
        database: str,
        modules: Sequence[str],
        tags: str | None = None,
        install: bool = False,
        extra: Sequence[str] = (),
    ) -> list[str]:
        """Run the tests of ``modules`` (installing or updating them) and exit."""
        flag = "-i" if install else "-u"
        argv = [
            *self._base_argv(runtime, source),
            "-c",
            str(conf_path),
            "-d",
            database,
            flag,
            _module_list(modules),
            "--test-enable",
        ]
        if tags:
            argv.append(f"--test-tags={tags}")
        return [*argv, "--stop-after-init", "--no-http", *extra]

    def neutralize_argv(
        self,
        runtime: Runtime,
        source: OdooSource,
        conf_path: Path,
        *,
        database: str,
        stdout: bool = False,
    ) -> list[str]:
        """Odoo's own neutralization of ``database`` (``--stdout`` prints the SQL instead)."""
        if not self.has_neutralize:
            raise UsageError(f"Odoo {self.series} has no `odoo-bin neutralize` command.")
        argv = [
            *self._base_argv(runtime, source),
            "neutralize",
            "-c",
            str(conf_path),
            "-d",
            database,
        ]
        return [*argv, "--stdout"] if stdout else argv

    def shell_argv(
        self,
        runtime: Runtime,
        source: OdooSource,
        conf_path: Path,
        *,
        database: str,
        extra: Sequence[str] = (),
    ) -> list[str]:
        """An interactive Odoo shell (``env`` bound to ``database``)."""
        return [
            *self._base_argv(runtime, source),
            "shell",
            "-c",
            str(conf_path),
            "-d",
            database,
            "--no-http",
            *extra,
        ]

    def launcher_code(self) -> str:
        """Python source that runs Odoo's command line in-process, as ``odoo-bin`` does
        (for a pre-forked interpreter that imports Odoo ahead of time). ``odoo`` is a
        namespace package from 19.0 on, so importing bare ``odoo`` loads nothing there:
        ``odoo.cli`` is imported explicitly in every series."""
        return "import os\nos.environ['TZ'] = 'UTC'\nimport odoo.cli\nodoo.cli.main()\n"


def _module_list(modules: Sequence[str]) -> str:
    names = [m.strip() for m in modules if m.strip()]
    if not names:
        raise UsageError("No module named: give at least one module, such as 'base'.")
    for name in names:
        if not re.match(r"^[A-Za-z0-9_]+$", name):
            raise UsageError(
                f"'{name}' is not a module name: use letters, digits and '_' (like sale_stock)."
            )
    return ",".join(names)


def _as_bool(key: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise UsageError(f"odoo.conf option '{key}' must be true or false, not {value!r}.")


def _conf_value(key: str, value: object) -> str:
    if isinstance(value, bool):
        text = "True" if value else "False"
    elif isinstance(value, (int, float, str, Path)):
        text = str(value)
    elif isinstance(value, (list, tuple)):
        text = ",".join(_conf_value(key, item) for item in value)
    else:
        raise UsageError(
            f"odoo.conf option '{key}' has a value of type {type(value).__name__}; "
            "use text, a number, true/false or a list."
        )
    if "\n" in text or "\r" in text:
        # A newline would start a new option: refuse rather than let a value inject one.
        raise UsageError(f"odoo.conf option '{key}' contains a line break; remove it.")
    return text


# pkg_resources must be importable, and from a setuptools old enough to keep the zope.*
# releases its metadata reader can see: 16.0 and 17.0 import it themselves; gevent before
# 23 (21.8.0 and 22.10.2, which 18.0 and 19.0 pin for Python 3.10 and 3.11) imports it in
# gevent.events, so without it the gevent (websocket) worker dies at start. That
# pkg_resources cannot see packages whose metadata folder uses the normalized name
# (zope_interface-8.x.dist-info): gevent's plugin check then raises DistributionNotFound.
_PKG_RESOURCES_ERA = ("setuptools<69", "zope.interface<7", "zope.event<5")
# gevent 24 (Python 3.12 on) reads entry points with importlib.metadata.
_OLD_GEVENT = tuple(f"{pin} ; python_version < '3.12'" for pin in _PKG_RESOURCES_ERA)

_PROFILES: dict[str, SeriesProfile] = {
    "16.0": SeriesProfile(
        series="16.0",
        dev_options=frozenset({"all", "reload", "qweb", "werkzeug", "xml"}),
        dev_all=("reload", "qweb", "werkzeug", "xml"),
        dev_for_watcher=("qweb", "werkzeug", "xml"),
        demo_by_default=True,
        namespace_package=False,
        payment_table="payment_provider",
        has_neutralize=True,
        server_wide_modules=("base", "web"),
        python_tested=((3, 7), (3, 11)),
        runtime_constraints=_PKG_RESOURCES_ERA,
        list_view="tree",
    ),
    "17.0": SeriesProfile(
        series="17.0",
        dev_options=frozenset({"all", "reload", "qweb", "xml"}),
        dev_all=("reload", "qweb", "xml"),
        dev_for_watcher=("qweb", "xml"),
        demo_by_default=True,
        namespace_package=False,
        payment_table="payment_provider",
        has_neutralize=True,
        server_wide_modules=("base", "web"),
        python_tested=((3, 10), (3, 12)),
        # Odoo 17 imports pkg_resources, which setuptools 81 removed and 80 warns about.
        runtime_constraints=_PKG_RESOURCES_ERA,
        list_view="tree",
    ),
    "18.0": SeriesProfile(
        series="18.0",
        dev_options=frozenset({"all", "reload", "qweb", "werkzeug", "xml"}),
        dev_all=("reload", "qweb", "xml"),
        dev_for_watcher=("qweb", "werkzeug", "xml"),
        demo_by_default=True,
        namespace_package=False,
        payment_table="payment_provider",
        has_neutralize=True,
        server_wide_modules=("base", "web"),
        python_tested=((3, 10), (3, 12)),
        runtime_constraints=_OLD_GEVENT,
    ),
    "19.0": SeriesProfile(
        series="19.0",
        dev_options=frozenset({"all", "access", "qweb", "reload", "xml", "werkzeug", "replica"}),
        dev_all=("access", "qweb", "reload", "xml"),
        dev_for_watcher=("access", "qweb", "werkzeug", "xml"),
        demo_by_default=False,
        namespace_package=True,
        payment_table="payment_provider",
        has_neutralize=True,
        server_wide_modules=("base", "rpc", "web"),
        python_tested=((3, 10), (3, 13)),
        runtime_constraints=_OLD_GEVENT,
        option_env_vars=_ENV_OPTIONS_19,
        keeps_long_versions=True,
        groups_field="group_ids",
        constraint_objects=True,
    ),
}

# Every variable some series reads as an option: a runtime's processes start without
# them, so odoo.conf (which odooplane writes) is what Odoo reads. Series that do not read
# them as options lose nothing: odooplane's odoo.conf names the server explicitly.
OPTION_ENV_VARS = tuple(sorted({v for p in _PROFILES.values() for v in p.option_env_vars}))


def for_series(series: str) -> SeriesProfile:
    """The profile of ``series`` ("17.0"; "17" is accepted too)."""
    key = series.strip()
    if re.match(r"^\d+$", key):
        key = f"{key}.0"
    try:
        return _PROFILES[key]
    except KeyError:
        raise ConfigError(
            f"Odoo series '{series}' is not supported by odooplane.",
            hint=f"Supported series: {', '.join(SUPPORTED_SERIES)}.",
        ) from None
