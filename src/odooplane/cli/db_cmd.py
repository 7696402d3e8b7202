"""`odooplane db` commands."""

from __future__ import annotations

import click

from odooplane.cli import cli


@cli.group("db")
def db_group() -> None:
    """Databases: the embedded PostgreSQL server, clones, snapshots, import and export."""
