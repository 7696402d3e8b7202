"""Parsing Odoo's log: test outcomes, module loading, migration scripts, errors.

The log lines are written in the exact format of Odoo 17's logger and test result
(``odoo/netsvc.py`` and ``odoo/tests/result.py``)."""

# ruff: noqa: E501  (Odoo log lines are quoted whole)
from __future__ import annotations

from odooplane.odoo.logs import parse_records, parse_run

RAW = """\
$ /venv/bin/python odoo-bin -c odoo.conf -d db -i gt_base --test-enable
2026-12-01 10:00:00,000 100 INFO db odoo.modules.loading: Loading module gt_base (12/13)
2026-12-01 10:00:00,500 100 INFO db odoo.modules.migration: module gt_base: Running migration [>17.0.1.1.0] pre-migrate
2026-12-01 10:00:01,000 100 INFO db odoo.modules.migration: module gt_base: Running migration [17.0.1.1.0>] post-migrate
2026-12-01 10:00:01,100 100 INFO db odoo.modules.module: odoo.addons.gt_base.tests.test_base running
2026-12-01 10:00:01,200 100 INFO db odoo.addons.gt_base.tests.test_base: Starting TestGtBase.test_ok ...
2026-12-01 10:00:01,700 100 INFO db odoo.addons.gt_base.tests.test_base: Starting TestGtBase.test_fails ...
2026-12-01 10:00:01,800 100 INFO db odoo.addons.gt_base.tests.test_base: ======================================================================
2026-12-01 10:00:01,800 100 ERROR db odoo.addons.gt_base.tests.test_base: FAIL: TestGtBase.test_fails
Traceback (most recent call last):
  File "/x/gt_base/tests/test_base.py", line 9, in test_fails
    self.assertEqual(1 + 1, 3, "arithmetic is broken")
AssertionError: 2 != 3 : arithmetic is broken

2026-12-01 10:00:01,900 100 INFO db odoo.addons.gt_base.tests.test_base: Starting TestGtBase.test_skip ...
2026-12-01 10:00:01,950 100 INFO db odoo.addons.gt_base.tests.test_base: skipped TestGtBase.test_skip : not today
2026-12-01 10:00:02,000 100 INFO db odoo.addons.gt_base.tests.test_base: Starting TestGtBase.test_boom ...
2026-12-01 10:00:02,100 100 ERROR db odoo.addons.gt_base.tests.test_base: ERROR: TestGtBase.test_boom
Traceback (most recent call last):
  File "/x/gt_base/tests/test_base.py", line 12, in test_boom
    {}["x"]
KeyError: 'x'
2026-12-01 10:00:02,200 100 ERROR db odoo.addons.gt_base.tests.test_base: ERROR: setUpClass (odoo.addons.gt_base.tests.test_base.TestBroken)
Traceback (most recent call last):
ValueError: fixture broke
2026-12-01 10:00:03,000 100 INFO db odoo.modules.loading: Loading module gt_child (13/13)
2026-12-01 10:00:03,100 100 WARNING db odoo.models: gt_child: a field has no string
2026-12-01 10:00:03,300 100 ERROR db odoo.modules.registry: Failed to load registry
Traceback (most recent call last):
psycopg2.errors.UndefinedColumn: column "x" does not exist
2026-12-01 10:00:04,000 100 ERROR db odoo.modules.loading: Some modules are not loaded, some dependencies or manifest may be missing: ['gt_missing']
2026-12-01 10:00:05,000 100 INFO db odoo.tests.result: 1 failed, 2 error(s) of 4 tests when loading database 'db'
[exit 1]
"""
# Odoo ends the first line of every record with a space.
LOG = "\n".join(line + " " if line[:4].isdigit() else line for line in RAW.splitlines())


def test_records_keep_multiline_messages() -> None:
    records = list(parse_records(LOG))
    fail = next(r for r in records if r.first_line.startswith("FAIL:"))
    assert fail.level == "ERROR"
    assert fail.logger == "odoo.addons.gt_base.tests.test_base"
    assert "arithmetic is broken" in fail.detail
    assert records[-1].message.endswith("when loading database 'db'")


def test_one_case_per_test_method_with_outcomes() -> None:
    run = parse_run(LOG)
    by_name = {t.qualified: t for t in run.tests}
    assert by_name["TestGtBase.test_ok"].status == "passed"
    assert by_name["TestGtBase.test_ok"].seconds == 0.5
    failed = by_name["TestGtBase.test_fails"]
    assert (failed.module, failed.classname, failed.name) == ("gt_base", "TestGtBase", "test_fails")
    assert failed.status == "failed"
    assert failed.message == "AssertionError: 2 != 3 : arithmetic is broken"
    assert "Traceback" in (failed.details or "")
    assert by_name["TestGtBase.test_skip"].status == "skipped"
    assert by_name["TestGtBase.test_skip"].message == "not today"
    assert by_name["TestGtBase.test_boom"].status == "error"
    assert by_name["TestBroken.setUpClass"].status == "error"
    assert [t.qualified for t in run.failed_tests] == [
        "TestGtBase.test_fails",
        "TestGtBase.test_boom",
        "TestBroken.setUpClass",
    ]


def test_module_loads_scripts_errors_and_warnings() -> None:
    run = parse_run(LOG)
    base = run.load_of("gt_base")
    assert base is not None
    assert base.scripts == ["pre 17.0.1.1.0: pre-migrate", "post 17.0.1.1.0: post-migrate"]
    assert base.seconds == 3.0
    child = run.load_of("gt_child")
    assert child is not None
    assert child.warnings == ["gt_child: a field has no string"]
    assert any("UndefinedColumn" in e for e in child.errors)
    assert ("gt_child", run.errors[0][1]) == run.errors[0]
    assert run.not_loaded == ["gt_missing"]
    # Test failures are test outcomes, not stray errors.
    assert not any("arithmetic" in text for _, text in run.errors)
