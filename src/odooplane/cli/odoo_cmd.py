"""`odooplane odoo` commands."""

from __future__ import annotations

import click

from odooplane.cli import cli


@cli.group("odoo")
def odoo_group() -> None:
    """The Odoo source and the Python runtime that runs it."""
