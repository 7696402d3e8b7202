"""`odooplane dev`: file watcher, warm pre-forked Odoo, reload plan and browser live reload.

See docs/dev.md.
"""
