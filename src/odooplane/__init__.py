"""odooplane: branch-driven Odoo environments for a git repository of addons."""

__version__ = "0.1.0"
