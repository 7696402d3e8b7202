"""`odooplane evidence` commands."""

from __future__ import annotations

import click

from odooplane.cli import cli


@cli.group("evidence")
def evidence_group() -> None:
    """The evidence store: builds, deployments, migrations, gate runs."""
