"""Where Odoo processes run. The local supervisor backend is the reference runtime."""
