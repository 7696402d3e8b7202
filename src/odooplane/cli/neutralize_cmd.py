"""`odooplane mail` commands."""

from __future__ import annotations

import click

from odooplane.cli import cli


@cli.group("mail")
def mail_group() -> None:
    """Messages caught by the mail catcher of non-production environments."""
