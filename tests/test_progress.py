"""The one progress protocol: events, and helpers that do nothing without a callback."""

from __future__ import annotations

from odooplane.progress import ProgressEvent, report, warn


def test_report_and_warn_hand_events_to_the_callback() -> None:
    events: list[ProgressEvent] = []
    report(events.append, "copying", 3, 10)
    report(events.append, "building main...")
    warn(events.append, "python-ldap was skipped", "Installing packages")
    assert events == [
        ProgressEvent("copying", 3, 10),
        ProgressEvent("building main...", 0, 0),
        ProgressEvent("Installing packages", warning="python-ldap was skipped"),
    ]
    report(None, "nobody listens")
    warn(None, "nobody listens")
