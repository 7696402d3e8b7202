"""`odooplane config` commands."""

from __future__ import annotations

import click

from odooplane.cli import cli


@cli.group("config")
def config_group() -> None:
    """Check and show odooplane.yaml."""
