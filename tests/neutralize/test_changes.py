"""Counting what a run really changed: every row fingerprinted before and after each
rule, net changes credited to the last rule that made them, so re-runs report zero."""

from __future__ import annotations

from typing import Any

from odooplane.neutralize.changes import ChangeTracker, changed_keys, snapshot
from odooplane.neutralize.schema import Schema


def _tables(cur: Any) -> Schema:
    cur.execute(
        """
        CREATE TABLE ir_cron (id serial PRIMARY KEY, name text, active boolean);
        INSERT INTO ir_cron (name, active) VALUES ('a', true), ('b', true), ('c', false);
        CREATE TABLE mail_log (line text);
        INSERT INTO mail_log VALUES ('x'), ('x'), ('y');
        """
    )
    return Schema.load(cur)


def test_snapshot_keys_rows_by_id_or_by_content(cur: Any) -> None:
    schema = _tables(cur)
    crons = snapshot(cur, schema, "ir_cron")
    assert sorted(crons) == ["1", "2", "3"]
    assert len(set(crons.values())) == 3
    log = snapshot(cur, schema, "mail_log")
    assert len(log) == 3  # duplicate rows each get their own key
    assert sorted(k.split("#")[1] for k in log) == ["0", "0", "1"]
    assert snapshot(cur, schema, "missing_table") == {}


def test_changed_keys_sees_updates_inserts_and_deletes() -> None:
    assert changed_keys({"1": "a", "2": "b"}, {"1": "a", "2": "B", "3": "c"}) == {"2", "3"}
    assert changed_keys({"1": "a"}, {}) == {"1"}
    assert changed_keys({}, {}) == set()


def test_net_changes_go_to_the_last_rule_that_made_them(cur: Any) -> None:
    schema = _tables(cur)
    tracker = ChangeTracker(cur, schema)
    tracker.track(["ir_cron", "mail_log", "missing_table"])
    assert sorted(tracker.start) == ["ir_cron", "mail_log"]

    # Odoo's layer switches every cron off...
    before = tracker.before(["ir_cron"])
    cur.execute("UPDATE ir_cron SET active = false")
    tracker.after("odoo", before)
    # ...then odooplane's rule switches 'a' back on: 'a' did not change in the end.
    before = tracker.before(["ir_cron"])
    cur.execute("UPDATE ir_cron SET active = true WHERE name = 'a'")
    tracker.after("crons", before)
    # Something outside any rule changes the log.
    cur.execute("DELETE FROM mail_log WHERE line = 'y'")
    tracker.add_direct("params", 4)

    totals = tracker.totals()
    assert totals == {"odoo": 1, "params": 4, "other": 1}


def test_a_second_run_over_the_same_data_counts_nothing(cur: Any) -> None:
    schema = _tables(cur)
    cur.execute("UPDATE ir_cron SET active = false")
    tracker = ChangeTracker(cur, schema)
    tracker.track(["ir_cron"])
    before = tracker.before(["ir_cron"])
    cur.execute("UPDATE ir_cron SET active = false")  # same values written again
    tracker.after("crons", before)
    assert tracker.totals() == {}
