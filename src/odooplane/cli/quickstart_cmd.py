"""`odooplane quickstart`."""

from __future__ import annotations
