"""Where Odoo processes run: one interface (:mod:`~odooplane.backends.base`), several
implementations; the local supervisord (:mod:`~odooplane.backends.supervisor`) is the
reference. :func:`backend_for` picks the one an environment's ``backend:`` names."""

from odooplane.backends.base import ProcessBackend, ProcessStatus, ProgramSpec
from odooplane.backends.factory import backend_for

__all__ = ["ProcessBackend", "ProcessStatus", "ProgramSpec", "backend_for"]
