"""Knowledge of Odoo itself: source, runtime, command lines, addons.

Differences between Odoo series live in this package and nowhere else.
"""
