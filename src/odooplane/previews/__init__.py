"""Pull-request environments: naming, up, down, idle stop and wake, gc (docs/previews.md).

The functions live in :mod:`odooplane.previews.api`; the records and the environment
definition a preview implies in :mod:`odooplane.previews.records`.
"""
